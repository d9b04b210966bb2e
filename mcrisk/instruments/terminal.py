"""Payoffs of the spots at one date: forward, european, digital, basket, spread, exchange,
best-of and worst-of.

Each is written as an underlying ``U = W . S`` (or the max/min of S over a set of assets),
then a forward ``U - K``, a vanilla ``max(sign (U - K), 0)`` or a digital
``cash 1{sign (U - K) > 0}``, read from the spot snapshot at the expiry. The Greeks kernel
conditions single-asset rows on the last step and gives multi-asset vanilla rows the
pathwise-likelihood-ratio gamma (`mcrisk.instruments.conditional`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr

from mcrisk.analytic import bs, heston, margrabe, merton, stulz
from mcrisk.instruments import conditional, smooth
from mcrisk.instruments.base import (FamilyPlan, PlanContext, contract_vols, no_aux, nothing,
                                     pick, shift_expiry, sign)
from mcrisk.instruments.conditional import (KIND_DIGITAL, KIND_FORWARD, KIND_VANILLA,
                                            REDUCE_MAX, REDUCE_MIN, REDUCE_SUM)

NAME = "terminal"
TYPES = ("forward", "european", "digital", "basket", "spread", "exchange", "best_of",
         "worst_of")
SNAPSHOT = True
KINDS = ("forward", "bs_european", "heston_european", "bates_european", "merton_european",
         "bs_digital", "margrabe", "stulz")

# Gauss-Legendre nodes of the Heston/Bates Fourier integral in revaluation.
_HESTON_NODES = 1024


def plan(ctx: PlanContext, positions) -> FamilyPlan:
    n = ctx.n_assets
    ter = positions
    w = np.zeros((len(ter), n))
    member = np.zeros((len(ter), n), bool)
    reduce_, kind, eps = [], [], []
    for r, p in enumerate(ter):
        member[r, list(p.assets)] = True
        if p.type == "basket":
            weights = p.terms["weights"]
        elif p.type in ("spread", "exchange"):
            weights = (1.0, -1.0)
        else:
            weights = (1.0,) * len(p.assets)
        w[r, list(p.assets)] = weights
        reduce_.append(REDUCE_MAX if p.type == "best_of" else
                       REDUCE_MIN if p.type == "worst_of" else REDUCE_SUM)
        kind.append(KIND_FORWARD if p.type == "forward" else
                    KIND_DIGITAL if p.type == "digital" else KIND_VANILLA)
        scale = (max(ctx.scale([a], [1.0], p.terms["expiry"]) for a in p.assets)
                 if p.type in ("best_of", "worst_of")
                 else ctx.scale(p.assets, weights, p.terms["expiry"]))
        eps.append(ctx.smoothing * scale)
    # Rows the Greeks kernel conditions on the last step: U = w S of one asset, w > 0.
    cond_rows = np.array([len(p.assets) == 1 and w[r, p.assets[0]] > 0
                          for r, p in enumerate(ter)], bool)
    precision, invertible = conditional.precision_blocks(ctx.problem.market.corr, member)
    lr_rows = ~cond_rows & (np.array(kind, np.int32) == KIND_VANILLA) & invertible
    terms = dict(
        slot=np.array([ctx.slot(p.terms["expiry"]) for p in ter], np.int32),
        weights=w, member=member, reduce=np.array(reduce_, np.int32),
        kind=np.array(kind, np.int32), sign=np.array([sign(p) for p in ter]),
        strike=np.array([p.terms["strike"] if p.type != "exchange" else 0.0 for p in ter]),
        cash=np.array([p.terms.get("cash", 1.0) for p in ter]),
        expiry=np.array([p.terms["expiry"] for p in ter]), eps=np.array(eps),
        conditional=cond_rows,
        # Other vanilla rows get the pathwise-LR gamma where their assets have a joint density.
        lr=lr_rows,
        # Under stochastic variance their score needs the covariance given the variance path.
        sv_row=(np.flatnonzero(lr_rows).astype(np.int32) if ctx.problem.model.has_variance
                else np.zeros(0, np.int32)),
        precision=precision.reshape(len(ter), n, n),
        asset1=np.array([p.assets[0] for p in ter], np.int32),
        weight1=np.array([w[r, p.assets[0]] if w[r, p.assets[0]] > 0 else 1.0
                          for r, p in enumerate(ter)]))
    return FamilyPlan(terms=terms, masks={})


residual = shift_expiry


init = nothing


update = nothing


def payoff(stats, terms: dict, snap: jax.Array, spots: jax.Array, rate: jax.Array,
           cond: conditional.LastStep | None = None, lr_term: bool = True) -> jax.Array:
    """`lr_term`: with `cond`, multi-asset vanilla rows carry their likelihood-ratio gammas
    as a zero-valued term (`conditional.lr_terminal`); False: the payoff alone, the gammas
    then read from `lr_gamma`."""
    tt = terms
    eps = tt["eps"]
    s_at = snap[tt["slot"]]  # (terminal, assets)
    linear_u = jnp.sum(tt["weights"] * s_at, axis=-1)
    u = jnp.where(tt["reduce"] == REDUCE_SUM, linear_u,
                  jnp.where(tt["reduce"] == REDUCE_MAX, smooth.maximum(s_at, tt["member"], eps),
                            -smooth.maximum(-s_at, tt["member"], eps)))
    y = tt["sign"] * (u - tt["strike"])
    pay = jnp.where(tt["kind"] == KIND_FORWARD, u - tt["strike"],
                    jnp.where(tt["kind"] == KIND_DIGITAL,
                              tt["cash"] * smooth.heaviside(y, eps), smooth.kink(y, eps)))
    if cond is not None:
        pay = jnp.where(tt["conditional"], conditional_payoff(tt, cond), pay)
        pay = jnp.where(tt["lr"], conditional.lr_terminal(tt, cond, s_at, spots, lr_term), pay)
    return pay * jnp.exp(-rate * tt["expiry"])


def lr_gamma(stats, terms: dict, snap: jax.Array, spots: jax.Array, rate: jax.Array,
             cond: conditional.LastStep) -> jax.Array:
    """(positions, n, n) discounted likelihood-ratio (cross) gammas of the multi-asset vanilla
    rows, zero on the others: what `payoff(..., lr_term=True)` adds to their pathwise second
    derivatives."""
    tt = terms
    g = conditional.lr_gamma(tt, cond, snap[tt["slot"]], spots)
    disc = jax.lax.stop_gradient(jnp.exp(-rate * tt["expiry"]))
    return jnp.where(tt["lr"][:, None, None], g, 0.0) * disc[:, None, None]


def conditional_payoff(tt: dict, rec: conditional.LastStep) -> jax.Array:
    """E[payoff | state one step before expiry] of single-asset rows (U = w S):
    Black-Scholes over the last step. Finite on every row, as the rows it does not apply to
    are discarded by a `where` that would pass NaNs to gradients."""
    mu = rec.mean[tt["slot"], tt["asset1"]] + jnp.log(tt["weight1"])
    v = jnp.maximum(rec.var[tt["slot"], tt["asset1"]], jnp.finfo(mu.dtype).tiny)
    k = tt["strike"]
    sg = tt["sign"]
    d2 = (mu - jnp.log(jnp.where(k > 0, k, 1.0))) / jnp.sqrt(v)
    fwd = jnp.exp(mu + 0.5 * v)
    return jnp.where(tt["kind"] == KIND_FORWARD, fwd - k,
                     jnp.where(tt["kind"] == KIND_DIGITAL, tt["cash"] * ndtr(sg * d2),
                               conditional.vanilla(mu, v, k, sg)))


record_init = nothing


record = nothing


def closed_kind(p, model: str, revaluation: str = "auto") -> str | None:
    t = p.type
    if t == "forward":
        return "forward"
    if revaluation == "nested":
        return None
    gbm = model == "gbm"
    if t == "european":
        return {"gbm": "bs_european", "heston": "heston_european",
                "merton": "merton_european", "bates": "bates_european"}.get(model)
    if gbm and t == "digital":
        return "bs_digital"
    if gbm and t == "exchange":
        return "margrabe"
    if gbm and t in ("best_of", "worst_of") and len(p.assets) == 2:
        return "stulz"
    return None


def closed_terms(kind: str, positions, date: float) -> dict:
    if kind == "bs_digital":
        return dict(cash=np.array([p.terms["cash"] for p in positions]))
    if kind == "stulz":
        return dict(is_max=np.array([p.type == "best_of" for p in positions]))
    return {}


def closed_value(kind: str, g: dict, st, p, vols: jax.Array, stats) -> jax.Array:
    r, q1, q2 = p.rate, p.dividends[g["a1"]], p.dividends[g["a2"]]
    v1, v2 = contract_vols(g, vols)
    tau = g["tau"]
    if kind in ("bs_european", "bs_digital"):
        # From the log spots the state holds: no logarithm per scenario and contract.
        common = dict(log_spots=pick(st.x, g["a1"]), strikes=g["strike"], expiries=tau,
                      rates=r, dividends=q1, is_call=g["call"])
        if kind == "bs_european":
            return bs.european_log(vols=v1, **common)
        price = bs.digital_log(vols=v1, cash=g["cash"], **common)
        if "dvol_dk" not in g:
            return price
        # On a smile the digital is -dC/dK of the call at the strike's own vol: the Black-
        # Scholes digital less vega x dsigma/dK (plus it for a put), the skew term.
        vega = jax.jvp(lambda v: bs.european_log(vols=v, **common), (v1,),
                       (jnp.ones_like(v1),))[1]
        return price - jnp.where(g["call"], 1.0, -1.0) * g["cash"] * vega * g["dvol_dk"]
    s = jnp.exp(st.x)
    s1, s2 = pick(s, g["a1"]), pick(s, g["a2"])
    if kind == "forward":
        return s1 * jnp.exp(-q1 * tau) - g["strike"] * jnp.exp(-r * tau)
    common = dict(spots=s1, strikes=g["strike"], expiries=tau, rates=r, dividends=q1,
                  is_call=g["call"])
    if kind in ("heston_european", "bates_european"):
        a, h = g["a1"], p.model
        # 1024 nodes: within 1.1e-9 of spot in float64 (2.5e-6 in float32) over the grid of
        # mcrisk.analytic.heston, vol 1% with vol of variance 3 included; memory is
        # (scenarios x 128) per position for the body, plus ~290 tail nodes.
        jumps = (dict(jump_intensity=h.jump_intensity[a], jump_mean=h.jump_mean[a],
                      jump_std=h.jump_std[a]) if kind == "bates_european"
                 else dict(jump_intensity=0.0, jump_mean=0.0, jump_std=0.0))
        return heston.bates_european(v0=jnp.maximum(st.v[a], 0.0), kappa=h.kappa[a],
                                     n_points=_HESTON_NODES, theta=h.theta[a], xi=h.xi[a],
                                     rho=h.rho[a], **jumps, **common)
    if kind == "merton_european":
        a, j = g["a1"], p.model
        return merton.european(vols=v1, jump_intensity=j.jump_intensity[a],
                               jump_mean=j.jump_mean[a], jump_std=j.jump_std[a], **common)
    corr = jnp.matmul(p.chol, p.chol.T, precision=jax.lax.Precision.HIGHEST)
    if kind == "margrabe":
        return margrabe.exchange(spots1=s1, spots2=s2, vols1=v1, vols2=v2,
                                 corr=corr[g["a1"], g["a2"]],
                                 expiries=tau, dividends1=q1, dividends2=q2)
    if kind == "stulz":
        return stulz.best_worst_two(spots1=s1, spots2=s2, strikes=g["strike"], vols1=v1,
                                    vols2=v2, corr=corr[g["a1"], g["a2"]], expiries=tau,
                                    rates=r, dividends1=q1, dividends2=q2, is_call=g["call"],
                                    is_max=g["is_max"])
    raise AssertionError(kind)


shock_aux = no_aux


at_shock = nothing
