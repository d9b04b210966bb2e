r"""Continuous-monitoring references for path-dependent payoffs under Heston and Bates.

Independent of mcrisk's kernels: NumPy, float64, its own QE scheme (Andersen 2008, central
weights gamma_1 = gamma_2 = 1/2, no martingale correction), its own bridge and jump handling, and
multilevel Monte Carlo with Richardson extrapolation to the continuous limit:

* every step's diffusive part is a Brownian bridge of variance (v_0 + v_1) dt / 2 (trapezoid, where
  mcrisk uses v_0 dt) between its end points, and a jump inside the step sits at its own uniform
  time, so the step is two bridges with the jump between them (the bridge point at the jump time
  sampled exactly): the extremes and crossings of a path are those of the bridges, sampled exactly
  (minimum) or integrated out (survival of a down barrier);
* level l has N_l = 24 * 2^l steps; E[P_L] = E[P_0] + sum_l E[P_l - P_{l-1}], each term from its
  own paths. A coarse step is driven by the normalised sums of its two fine steps' normals and the
  sums of their jumps; its bridge is split at its midpoint, sampled from the fine steps' normals'
  normalised difference, so each half sees the same jump time, bridge point and uniforms as the
  fine step under it. The coarse level's law is unchanged by the coupling and P_l - P_{l-1} is
  small, so few paths fix the corrections;
* the bias of level l falls like its step (the corrections halve from level to level, printed):
  their first-order fit gives the tail beyond the finest level (`_combine`), half of which is
  taken as the extrapolation's own error, added to the s.e. in quadrature;
* every payoff carries control variates whose expectation is known in the limit: the discounted
  spot and the at-the-money call at the same expiry (QuantLib's
  AnalyticHestonEngine / BatesEngine), with one fixed coefficient at every level, so the
  telescoping sum stays unbiased.

Regenerate (about 6 minutes of one CPU core per model, 2 to 3 more for each `more`; it prints
the level table and writes path_ref_heston.json and path_ref_bates.json beside this file, which
test_heston_path_dependent.py and test_bates_path_dependent.py read; one model per process, the
two can run side by side). The stored numbers come from

    python -m tests.reference.path_ref heston
    python -m tests.reference.path_ref heston more 6:120000 3026
    python -m tests.reference.path_ref bates
    python -m tests.reference.path_ref bates more 6:80000 3027

(`more L:N SEED` pools N more paths, drawn from SEED, into level L).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import QuantLib as ql
from scipy.special import ndtr

S0, R, T_DAYS = 100.0, 0.02, 91
T = T_DAYS / 365.0
STRIKE, BARRIER, FIXINGS = 100.0, 90.0, 12
HESTON = dict(v0=0.16, kappa=2.0, theta=0.16, xi=1.5, rho=-0.5)
JUMPS = dict(jump_intensity=2.0, jump_mean=-0.1, jump_std=0.15)
N0 = 24
PAYOFFS = ("lookback", "barrier", "asian_arith", "asian_geo")
OUT = Path(__file__).with_name("path_ref.json")  # stem of path_ref_<model>.json


def _european(lam: float, mu_j: float, sig_j: float) -> float:
    today = ql.Date(2, 1, 2025)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()

    def curve(r):
        return ql.YieldTermStructureHandle(ql.FlatForward(today, r, dc))

    spot = ql.QuoteHandle(ql.SimpleQuote(S0))
    opt = ql.VanillaOption(ql.PlainVanillaPayoff(ql.Option.Call, STRIKE),
                           ql.EuropeanExercise(today + T_DAYS))
    if lam > 0:
        proc = ql.BatesProcess(curve(R), curve(0.0), spot, *HESTON.values(), lam, mu_j, sig_j)
        opt.setPricingEngine(ql.BatesEngine(ql.BatesModel(proc), 192))
    else:
        proc = ql.HestonProcess(curve(R), curve(0.0), spot, *HESTON.values())
        opt.setPricingEngine(ql.AnalyticHestonEngine(ql.HestonModel(proc), 192))
    return opt.NPV()


def _qe(x, v, dt, zv, zx, p):
    """One QE step of (log spot, variance), without jumps or the jump compensator."""
    kappa, theta, xi, rho = p["kappa"], p["theta"], p["xi"], p["rho"]
    e = math.exp(-kappa * dt)
    m = theta + (v - theta) * e
    s2 = v * xi * xi * e * (1 - e) / kappa + theta * xi * xi * (1 - e) ** 2 / (2 * kappa)
    psi = s2 / (m * m)
    quad = psi <= 1.5
    ps = np.where(quad, psi, 1.5)
    b2 = 2 / ps - 1 + np.sqrt(2 / ps) * np.sqrt(2 / ps - 1)
    v_quad = m / (1 + b2) * (np.sqrt(b2) + zv) ** 2
    pe = np.where(quad, 0.5, (psi - 1) / (psi + 1))
    beta = (1 - pe) / m
    tail = ndtr(-zv)  # 1 - U, exactly, where U = Phi(zv)
    v_exp = np.where(tail >= 1 - pe, 0.0, np.log((1 - pe) / np.maximum(tail, 1e-300)) / beta)
    v1 = np.where(quad, v_quad, v_exp)
    k0 = -rho * kappa * theta / xi * dt
    k1 = 0.5 * dt * (kappa * rho / xi - 0.5) - rho / xi
    k2 = 0.5 * dt * (kappa * rho / xi - 0.5) + rho / xi
    k3 = 0.5 * dt * (1 - rho * rho)
    x1 = x + R * dt + k0 + k1 * v + k2 * v1 + np.sqrt(k3 * (v + v1)) * zx
    return x1, v1, 0.5 * dt * (v + v1)


def _bridge(a, b, w, u, lb):
    """Exact minimum sample and survival above log level lb of a bridge a -> b, variance w."""
    w = np.maximum(w, 1e-300)
    lo = 0.5 * (a + b - np.sqrt((b - a) ** 2 - 2 * w * np.log(u)))
    stay = -np.expm1(-2 * np.maximum(a - lb, 0) * np.maximum(b - lb, 0) / w)
    return lo, stay


def _half(a, b, jump, frac, w, zb, u1, u2, lb):
    """A step a -> b, diffusive variance w, a jump `jump` at fraction `frac` of the step."""
    d = b - a - jump
    y = a + frac * d + np.sqrt(w * frac * (1 - frac)) * zb
    lo1, s1 = _bridge(a, y, w * frac, u1, lb)
    lo2, s2 = _bridge(y + jump, b, w * (1 - frac), u2, lb)
    return np.minimum(lo1, lo2), s1 * s2


class _Path:
    """One level's paths: state, running minimum, barrier survival and fixing sums."""

    def __init__(self, n):
        self.x = np.full(n, math.log(S0))
        self.v = np.full(n, HESTON["v0"])
        self.lo = self.x.copy()
        self.surv = np.ones(n)
        self.asum = np.zeros(n)
        self.gsum = np.zeros(n)

    def fold(self, lo, stay):
        self.lo = np.minimum(self.lo, lo)
        self.surv *= stay

    def fix(self):
        self.asum += np.exp(self.x)
        self.gsum += self.x

    def payoffs(self, call_ref):
        df = math.exp(-R * T)
        s = np.exp(self.x)
        call = np.maximum(s - STRIKE, 0)
        pay = np.stack([s - np.exp(self.lo), call * self.surv,
                        np.maximum(self.asum / FIXINGS - STRIKE, 0),
                        np.maximum(np.exp(self.gsum / FIXINGS) - STRIKE, 0)]) * df
        controls = np.stack([s * df - S0, call * df - call_ref])
        return pay, controls


def _level(n_fine, n, rng, jumps, call_ref):
    """Payoffs and controls on n paths at n_fine steps and, if n_fine > N0, at n_fine / 2."""
    lam, mu_j, sig_j = jumps
    h = T / n_fine
    comp = lam * math.expm1(mu_j + 0.5 * sig_j ** 2)
    lb = math.log(BARRIER)
    fine = _Path(n)
    coarse = _Path(n) if n_fine > N0 else None
    every = n_fine // FIXINGS
    for k in range(n_fine // 2):
        draws = []
        for j in range(2):
            zv, zx, zb = rng.standard_normal((3, n))
            u1, u2, frac = 1.0 - rng.random((3, n))  # in (0, 1]
            if lam > 0:
                cnt = rng.poisson(lam * h, n)
                jump = cnt * mu_j + np.sqrt(cnt) * sig_j * rng.standard_normal(n)
            else:
                jump = np.zeros(n)
            x0 = fine.x
            fine.x, fine.v, w = _qe(fine.x, fine.v, h, zv, zx, HESTON)
            fine.x += jump - comp * h
            fine.fold(*_half(x0, fine.x, jump, frac, w, zb, u1, u2, lb))
            if (2 * k + j + 1) % every == 0:
                fine.fix()
            draws.append((zv, zx, zb, u1, u2, frac, jump))
        if coarse is None:
            continue
        (zv1, zx1, zb1, a1, a2, f1, j1), (zv2, zx2, zb2, b1, b2, f2, j2) = draws
        x0 = coarse.x
        coarse.x, coarse.v, w = _qe(coarse.x, coarse.v, 2 * h, (zv1 + zv2) / math.sqrt(2),
                                    (zx1 + zx2) / math.sqrt(2), HESTON)
        coarse.x += j1 + j2 - comp * 2 * h
        mid = (x0 + 0.5 * (coarse.x - x0 - j1 - j2) + np.sqrt(w / 4) * (zx1 - zx2) / math.sqrt(2)
               + j1)
        coarse.fold(*_half(x0, mid, j1, f1, w / 2, zb1, a1, a2, lb))
        coarse.fold(*_half(mid, coarse.x, j2, f2, w / 2, zb2, b1, b2, lb))
        if (2 * k + 2) % every == 0:
            coarse.fix()
    pf = fine.payoffs(call_ref)
    return pf, (coarse.payoffs(call_ref) if coarse is not None else None)


def _controls(jumps, seed):
    """European reference and control coefficients: least squares on a 20,000-path pilot at
    level 0 drawn first from `seed`'s stream, then fixed for every level and every rerun."""
    call_ref = _european(*jumps)
    rng = np.random.default_rng(seed)
    (pay, ctl), _ = _level(N0, 20_000, rng, jumps, call_ref)
    beta = np.linalg.lstsq(np.c_[ctl.T, np.ones(ctl.shape[1])], pay.T, rcond=None)[0][:2]
    return call_ref, beta, rng


def _run_level(lvl, n, rng, jumps, call_ref, beta, chunk=20_000, log=print):
    """Mean and s.e. of P_l - P_{l-1} (P_0 at level 0), controls applied, on n paths."""
    n_fine = N0 * 2 ** lvl
    t0 = time.time()
    s1 = np.zeros(len(PAYOFFS))
    s2 = np.zeros(len(PAYOFFS))
    done = 0
    while done < n:
        m = min(chunk, n - done)
        (pf, cf), co = _level(n_fine, m, rng, jumps, call_ref)
        y = pf - beta.T @ cf
        if co is not None:
            y -= co[0] - beta.T @ co[1]
        s1 += y.sum(axis=1)
        s2 += (y * y).sum(axis=1)
        done += m
    mean = s1 / n
    se = np.sqrt((s2 / n - mean ** 2) / (n - 1))
    log(f"  level {lvl} ({n_fine} steps, {n} paths, {time.time() - t0:.0f} s): "
        + "  ".join(f"{p} {m:+.5f}±{s:.5f}" for p, m, s in zip(PAYOFFS, mean, se)))
    return dict(steps=n_fine, paths=n, mean=mean.tolist(), se=se.tolist(),
                seconds=time.time() - t0)


def _combine(levels):
    """Telescoped, extrapolated value and s.e. of each payoff from the level table.

    From level 2 on the corrections fall like the step, m_l = a 2^-l: `a` by weighted least
    squares (its variance scaled up by the fit's chi^2 per degree of freedom where that is over
    1), the tail beyond the finest level L is a 2^-L, and half the tail is added to the s.e. as
    the error of assuming first order.
    """
    means = np.array([lv["mean"] for lv in levels])
    ses = np.array([lv["se"] for lv in levels])
    top = len(levels) - 1
    x = 2.0 ** -np.arange(2, top + 1)[:, None]
    w = 1.0 / ses[2:] ** 2
    a = (w * means[2:] * x).sum(axis=0) / (w * x * x).sum(axis=0)
    chi2 = (w * (means[2:] - a * x) ** 2).sum(axis=0) / (top - 2)
    var_a = np.maximum(chi2, 1.0) / (w * x * x).sum(axis=0)
    tail = a * 2.0 ** -top
    value = means.sum(axis=0) + tail
    se = np.sqrt((ses ** 2).sum(axis=0) + var_a * 4.0 ** -top + (tail / 2) ** 2)
    return dict(zip(PAYOFFS, value.tolist())), dict(zip(PAYOFFS, se.tolist()))


def _pool(a, b):
    """One level's statistics from two independent runs of it."""
    n = a["paths"] + b["paths"]
    mean = (np.multiply(a["mean"], a["paths"]) + np.multiply(b["mean"], b["paths"])) / n
    var = (np.square(a["se"]) * a["paths"] ** 2 + np.square(b["se"]) * b["paths"] ** 2) / n ** 2
    return dict(steps=a["steps"], paths=n, mean=mean.tolist(), se=np.sqrt(var).tolist(),
                seconds=a["seconds"] + b["seconds"])


def _seed(model):
    return 2026 if model == "heston" else 2027


def _jumps(model):
    return tuple(JUMPS.values()) if model == "bates" else (0.0, 0.0, 0.0)


def load(model: str) -> dict:
    """The stored reference of `model` ("heston" or "bates"): value, se, levels, setup."""
    return json.loads(OUT.with_name(f"path_ref_{model}.json").read_text())


def _save(model, out):
    out["value"], out["se"] = _combine(out["levels"])
    for p in PAYOFFS:
        print(f"  {p}: {out['value'][p]:.5f} ± {out['se'][p]:.5f}")
    OUT.with_name(f"path_ref_{model}.json").write_text(json.dumps(out, indent=1) + "\n")


def main(model: str, paths=(5_000_000, 800_000, 400_000, 200_000, 120_000, 80_000, 40_000)):
    """All levels of `model` from scratch."""
    print(model)
    call_ref, beta, rng = _controls(_jumps(model), _seed(model))
    levels = [_run_level(lvl, n, rng, _jumps(model), call_ref, beta)
              for lvl, n in enumerate(paths)]
    _save(model, dict(levels=levels, european=call_ref, setup=dict(
        spot=S0, rate=R, days=T_DAYS, strike=STRIKE, barrier=BARRIER, fixings=FIXINGS,
        heston=HESTON, jumps=JUMPS if model == "bates" else None)))


def more(model: str, lvl: int, n: int, seed: int) -> None:
    """Pool n more paths (own seed) into level `lvl` of the stored table."""
    print(model, "level", lvl, "more")
    out = load(model)
    call_ref, beta, _ = _controls(_jumps(model), _seed(model))
    extra = _run_level(lvl, n, np.random.default_rng(seed), _jumps(model), call_ref, beta)
    out["levels"][lvl] = _pool(out["levels"][lvl], extra)
    out.setdefault("extra_runs", []).append(dict(level=lvl, paths=n, seed=seed))
    _save(model, out)


if __name__ == "__main__":
    import sys

    args = sys.argv[1:]
    if len(args) == 4 and args[1] == "more":
        more(args[0], *map(int, args[2].split(":")), int(args[3]))
    else:
        for name in args or ("heston", "bates"):
            main(name)
