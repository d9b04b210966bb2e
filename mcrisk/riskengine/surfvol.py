"""Each contract's own vol from `market.surface`, and the surface moves of stress and margin.

With a surface, every closed-form group under gbm (Black-Scholes european and digital,
barrier, geometric Asian, Margrabe, Stulz) carries per-contract surface terms (`group_terms`,
host side) and gets, in each scenario, the vol of its strike and time to expiry
(`with_contract_vols`, in the kernel):

* the SSVI total variance ``w(k, tau)`` of the contract's asset (`mcrisk.vol.ssvi.theta` and
  `mcrisk.vol.ssvi.total_variance_at`, the interpolation of the fitter), at the time left
  ``tau`` (the surface rolls with the date: a time-homogeneous smile) and
  ``k = ln(K / F0(tau)) - m (x - x0)``: ``F0`` is today's forward of the engine's market
  (spot, rate, dividend), ``x - x0`` the scenario's log spot move, ``m = 0`` under sticky
  strike (the vol of a strike ignores the spot move) and 1 under sticky moneyness (``k``
  against the scenario's forward);
* a convention for the non-vanilla forms: the barrier and the Asian at their strike's vol,
  Stulz at each asset's vol of the common strike, Margrabe (no strike) at each asset's
  at-the-money vol;
* assets without a surface keep their flat `market.vol`;
* the digital is priced on the smile (`mcrisk.instruments.terminal`): it needs
  ``dsigma/dK``, taken here by forward-mode differentiation of the same vol.

A stress point's moves shift each contract's vol additively, then through the one floor
`shocked_vols`:

    shift = dvol (T_REF / tau')^power + skew k + term sqrt(T_REF / tau'),
    tau' = max(tau, T_MIN),

``dvol`` the asset's parallel shift (the scenario's `vol`, the margin grid's vol move),
``power`` the margin grid's expiry scaling (0: a parallel move), ``skew`` a tilt in vol
points per unit of log-moneyness and ``term`` a short-end move quoted at 30 days.
Monte Carlo-valued positions (nested paths, the pricing engine) keep the flat per-asset vols.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk.problem import MIN_VOL, Problem
from mcrisk.vol import ssvi

KINDS = ("bs_european", "bs_digital", "bs_barrier", "geo_asian", "margrabe", "stulz")
T_REF = 30.0 / 365.0  # where term moves and the margin's expiry scaling are quoted
T_MIN = 1.0 / 365.0  # expiries shorter than a day scale as a day (Deribit floors at 1 day)
N_MOVES = 4  # dvol, skew, term, power


def marked(g: dict) -> bool:
    """Whether a closed-form group carries surface terms."""
    return "sv_rho" in g


def group_terms(problem: Problem, kind: str, g: dict) -> dict:
    """Host arrays of a closed-form group's surface terms, leading axes (contracts, 2): the
    group's first and second asset (`g["a1"]`, `g["a2"]`)."""
    m, sf = problem.market, problem.surface
    a = np.stack([g["a1"], g["a2"]], axis=1)
    tau = g["tau"][:, None]
    lnf0 = np.log(m.spots[a]) + (m.rate - m.dividends[a]) * tau
    strike = np.broadcast_to(g["strike"][:, None], a.shape)
    # Margrabe has no strike: its k is 0 in every scenario (k against the moving forward).
    atm = (strike <= 0) | (kind == "margrabe")
    mny = atm | (sf.dynamics == "sticky_moneyness")
    return dict(sv_has=sf.has[a], sv_rho=sf.rho[a], sv_eta=sf.eta[a], sv_gamma=sf.gamma[a],
                sv_t=sf.expiries[a], sv_th=sf.thetas[a],
                sv_lnk=np.where(atm, lnf0, np.log(np.where(atm, 1.0, strike))),
                sv_lnf0=lnf0, sv_x0=np.log(m.spots[a]), sv_mny=mny.astype(np.float64))


def contract_vol(g: dict, x: jax.Array, lnk: jax.Array, base: jax.Array,
                 moves: jax.Array, floor: bool = True) -> jax.Array:
    """(contracts, 2) revaluation vols of a marked group at log spots `x` (assets,).

    Args:
      g: the group's arrays (`group_terms` as JAX arrays).
      x: the scenario's log spots.
      lnk: (contracts, 2) log strikes (an argument so that `with_contract_vols` can
        differentiate in it).
      base: (assets,) flat vols of the assets without a surface, before any shift.
      moves: (assets, N_MOVES) dvol, skew, term, power.
      floor: apply the `MIN_VOL` floor (False: the raw shifted vol, to report floors).
    """
    a = jnp.stack([g["a1"], g["a2"]], axis=1)
    tau = jnp.broadcast_to(g["tau"][:, None], a.shape)
    k = lnk - g["sv_lnf0"] - g["sv_mny"] * (x[a] - g["sv_x0"])
    params = ssvi.SsviParams(g["sv_rho"], g["sv_eta"], g["sv_gamma"], g["sv_th"], g["sv_t"])
    th = jax.vmap(jax.vmap(ssvi.theta))(params, tau)
    w = ssvi.total_variance_at(params, k, th)
    surf = jnp.sqrt(jnp.maximum(w, 0.0) / tau)
    own = jnp.where(g["sv_has"], surf, base[a])
    mv = moves[a]  # (contracts, 2, N_MOVES)
    ratio = T_REF / jnp.maximum(tau, T_MIN)
    shift = mv[..., 0] * ratio ** mv[..., 3] + mv[..., 1] * k + mv[..., 2] * jnp.sqrt(ratio)
    return jnp.maximum(own + shift, MIN_VOL) if floor else own + shift


@jax.jit
def floored_points(g: dict, p, spot_shocks: jax.Array, moves: jax.Array) -> jax.Array:
    """(points,) bool: a contract of the marked group `g` has its shifted vol below
    `MIN_VOL` at the stress point (spots moved at once by `spot_shocks`)."""
    def one(shock, mv):
        x = jnp.log(p.spots * (1.0 + shock))
        return jnp.any(contract_vol(g, x, g["sv_lnk"], p.vols, mv, floor=False) < MIN_VOL)

    return jax.vmap(one)(spot_shocks, moves)


def scenario_moves(st, p, vols: jax.Array) -> jax.Array:
    """(assets, N_MOVES) of a scenario: its own moves (stress points), else the parallel
    shift its revaluation vols carry over the market's (risk scenarios: `risk.vol_shock`)."""
    if st.moves is not None:
        return st.moves
    z = jnp.zeros_like(vols)
    return jnp.stack([vols - p.vols, z, z, z], axis=-1)


def with_contract_vols(kind: str, g: dict, st, p, vols: jax.Array) -> dict:
    """`g` plus ``vol1``, ``vol2`` (contracts,) and, for the digital, ``dvol_dk`` (dsigma/dK
    of the first asset's vol at the strike)."""
    moves = scenario_moves(st, p, vols)

    def f(lnk):
        return contract_vol(g, st.x, lnk, p.vols, moves)

    if kind == "bs_digital":  # the smile's slope at its strike
        v, dv = jax.jvp(f, (g["sv_lnk"],), (jnp.ones_like(g["sv_lnk"]),))
        dvdk = dv[:, 0] * jnp.exp(-g["sv_lnk"][:, 0])
        return dict(g, vol1=v[:, 0], vol2=v[:, 1], dvol_dk=dvdk)
    v = f(g["sv_lnk"])
    return dict(g, vol1=v[:, 0], vol2=v[:, 1])


def point_moves(vol: np.ndarray, skew: np.ndarray | None = None,
                term: np.ndarray | None = None, power: np.ndarray | None = None) -> np.ndarray:
    """(points, assets, N_MOVES) host array of stress points' moves; None entries are 0."""
    vol = np.asarray(vol, np.float64)
    z = np.zeros_like(vol)
    return np.stack([vol] + [z if x is None else np.broadcast_to(x, vol.shape)
                             for x in (skew, term, power)], axis=-1)
