"""Model parameters for calibration: names, maps into the admissible region, first guesses.

Each model's parameters live in an unconstrained vector ``x``; `unpack` maps it into the region
the pricers and the config accept (softplus for the positive ones, tanh for the correlation,
the identity for the mean log jump size), `pack` inverts it. The first guess reads the ATM
level and term structure and the sign of the skew off the quotes; the further starts are a
Latin hypercube of multiplicative perturbations around it, drawn from a fixed seed, so a
calibration is reproducible and its starts cover the region around the guess evenly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from mcrisk.vol.fit import softplus_inv

__all__ = ["PARAMS", "unpack", "pack", "initial_guess", "starting_points"]

JUMPS = ("jump_intensity", "jump_mean", "jump_std")
HESTON = ("v0", "kappa", "theta", "xi", "rho")
# Merton's diffusive vol is `vol`; in a config it is the market block's per-asset vol.
PARAMS = {"heston": HESTON, "merton": ("vol",) + JUMPS, "bates": HESTON + JUMPS}
# Half-widths of the start perturbations: log-multipliers for the positive parameters, an
# additive shift of atanh(rho), and an additive shift of the mean log jump.
_SPREAD = {"v0": 0.5, "kappa": 1.0, "theta": 0.5, "xi": 0.7, "rho": 0.8, "vol": 0.3,
           "jump_intensity": 1.0, "jump_mean": 0.08, "jump_std": 0.5}


def unpack(model: str, x: Array) -> dict[str, Array]:
    """Unconstrained ``(d,)`` vector -> parameters inside their admissible region."""
    out = {}
    for i, name in enumerate(PARAMS[model]):
        if name == "rho":
            out[name] = jnp.tanh(x[i])
        elif name == "jump_mean":
            out[name] = x[i]
        else:
            out[name] = jax.nn.softplus(x[i])
    return out


def pack(model: str, params: dict[str, float]) -> np.ndarray:
    """Parameters -> the unconstrained vector (host side, float64)."""
    x = []
    for name in PARAMS[model]:
        v = float(params[name])
        if name == "rho":
            x.append(np.arctanh(np.clip(v, -0.999, 0.999)))
        elif name == "jump_mean":
            x.append(v)
        else:
            x.append(float(softplus_inv(jnp.asarray(v, jnp.float64))))
    return np.array(x, np.float64)


def _atm_vols(k: np.ndarray, t: np.ndarray, vols: np.ndarray, w: np.ndarray):
    """Per expiry: the ATM vol (linear in k between the nearest quotes) and the skew d vol/dk."""
    expiries = np.unique(t[w > 0])
    atm, skew = [], []
    for e in expiries:
        m = (t == e) & (w > 0)
        ks, vs = k[m], vols[m]
        order = np.argsort(ks)
        ks, vs = ks[order], vs[order]
        atm.append(float(np.interp(0.0, ks, vs)))
        near = np.argsort(np.abs(ks))[:max(2, min(5, ks.size))]
        skew.append(float(np.polyfit(ks[near], vs[near], 1)[0]) if np.ptp(ks[near]) > 0
                    else 0.0)
    return expiries, np.array(atm), np.array(skew)


def initial_guess(model: str, k: np.ndarray, t: np.ndarray, vols: np.ndarray,
                  w: np.ndarray) -> dict[str, float]:
    """A moment-based first guess from the quotes' ATM term structure and skew.

    The short ATM variance gives v0, the long one theta (for Merton their weighted mean is
    the total variance); the skew's sign sets rho and the mean jump, since Heston's short-dated
    skew is rho xi / (4 sigma) and a negative mean jump tilts the smile the same way.
    """
    expiries, atm, skew = _atm_vols(k, t, vols, w)
    var_short, var_long = atm[0] ** 2, atm[-1] ** 2
    tilt = float(np.average(skew, weights=np.sqrt(expiries)))
    down = tilt <= 0
    guess = {"v0": var_short, "kappa": 2.0, "theta": var_long, "xi": 1.0,
             "rho": float(np.clip(4.0 * atm[0] * tilt, -0.7, 0.7))}
    jumps = {"jump_intensity": 1.0, "jump_mean": -0.05 if down else 0.05, "jump_std": 0.1}
    jump_var = jumps["jump_intensity"] * (jumps["jump_mean"] ** 2 + jumps["jump_std"] ** 2)
    if model == "heston":
        return guess
    if model == "merton":
        total = float(np.average(atm ** 2, weights=np.sqrt(expiries)))
        return {"vol": float(np.sqrt(max(total - jump_var, 0.25 * total))), **jumps}
    guess["v0"] = max(var_short - jump_var, 0.25 * var_short)
    guess["theta"] = max(var_long - jump_var, 0.25 * var_long)
    return {**guess, **jumps}


def starting_points(model: str, guess: dict[str, float], starts: int, seed: int) -> tuple[
        np.ndarray, list[dict[str, float]]]:
    """The guess and ``starts - 1`` Latin-hypercube perturbations of it.

    Returns:
      The ``(starts, d)`` unconstrained vectors and the same points as parameter dicts.
    """
    names = PARAMS[model]
    rng = np.random.default_rng(seed)
    n = starts - 1
    # One point per stratum of [-1, 1] in every coordinate, strata paired at random.
    u = (np.stack([rng.permutation(n) for _ in names], axis=1) + rng.random((n, len(names))))
    u = 2.0 * u / max(n, 1) - 1.0
    points = [dict(guess)]
    for row in u:
        p = {}
        for name, z in zip(names, row):
            g, s = guess[name], _SPREAD[name] * z
            if name == "rho":
                p[name] = float(np.tanh(np.arctanh(g) + s))
            elif name == "jump_mean":
                p[name] = g + s
            else:
                p[name] = g * float(np.exp(s))
        points.append(p)
    return np.stack([pack(model, p) for p in points]), points
