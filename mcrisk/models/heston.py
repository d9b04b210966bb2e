r"""Multi-asset Heston with Andersen's quadratic-exponential (QE) scheme.

    dS_i / S_i = mu_i dt + sqrt(v_i) dW_i,
    dv_i = kappa_i (theta_i - v_i) dt + xi_i sqrt(v_i) dB_i,
    d<W_i, W_j> = C_ij dt,   d<W_i, B_i> = rho_i dt.

Drivers: ``zs = L z`` has correlation C; the variance driver is
``zv_i = rho_i zs_i + sqrt(1 - rho_i^2) b_i`` with b independent, so spot-spot correlation
is exactly C and spot-variance correlation exactly rho_i (variance-variance correlation is
then rho_i rho_j C_ij). The variance is stepped by QE (psi_c = 1.5; the exponential branch
uses the uniform Phi(zv)) and the log spot by Andersen's central scheme (gamma1 = gamma2 =
1/2) with the martingale correction, so E[S_{t+dt} | S_t] = S_t e^{mu dt} exactly. The
residual ``zperp = sqrt(1 - rho^2) zs - rho b`` is a unit normal independent of zv with
zs = rho zv + sqrt(1 - rho^2) zperp, which is what the central scheme needs.

Reference: L. Andersen, "Efficient simulation of the Heston stochastic volatility model",
J. Comp. Finance 11(3), 2008.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr

from typing import NamedTuple

from mcrisk.models.base import Params, State, correlate, growth
from mcrisk.random import Draws

PSI_C = 1.5
NAMES = ("v0", "kappa", "theta", "xi", "rho")
VARIANCE, JUMPS = True, False


class HestonParams(NamedTuple):
    """Per-asset (assets,) arrays; v0 is the market's `vols` squared (`Params.vols`)."""

    kappa: jax.Array
    theta: jax.Array
    xi: jax.Array
    rho: jax.Array


def make_params(params: dict, cast) -> HestonParams:
    return HestonParams(*(cast(params[k]) for k in HestonParams._fields))


def jump_intensity(p: Params) -> jax.Array:
    return jnp.zeros_like(p.spots)


def init(p: Params) -> State:
    return State(x=jnp.log(p.spots), v=p.vols ** 2)


def qe_variance(p: Params, v: jax.Array, dt: jax.Array, zv: jax.Array):
    """One QE variance step. Returns (v_next, quad_branch, a, b2, pp, beta)."""
    h = p.model
    ek = jnp.exp(-h.kappa * dt)
    m = h.theta + (v - h.theta) * ek
    s2 = (v * h.xi ** 2 * ek * (1.0 - ek) / h.kappa
          + h.theta * h.xi ** 2 * (1.0 - ek) ** 2 / (2.0 * h.kappa))
    psi = s2 / m ** 2
    quad = psi <= PSI_C
    # Quadratic branch (moderate psi): v' = a (b + zv)^2.
    inv = 2.0 / jnp.where(quad, psi, 1.0)
    b2 = inv - 1.0 + jnp.sqrt(inv) * jnp.sqrt(jnp.maximum(inv - 1.0, 0.0))
    a = m / (1.0 + b2)
    v_quad = a * (jnp.sqrt(b2) + zv) ** 2
    # Exponential branch (large psi): point mass at 0 plus an exponential tail.
    psi_e = jnp.where(quad, 2.0, psi)
    pp = (psi_e - 1.0) / (psi_e + 1.0)
    beta = (1.0 - pp) / m
    one_minus_u = ndtr(-zv)  # 1 - Phi(zv) without cancellation
    v_exp = jnp.where(one_minus_u >= 1.0 - pp, 0.0,
                      jnp.log((1.0 - pp) / jnp.maximum(one_minus_u, jnp.finfo(v.dtype).tiny))
                      / beta)
    return jnp.where(quad, v_quad, v_exp), quad, a, b2, pp, beta


def drivers(p: Params, d: Draws) -> tuple[jax.Array, jax.Array]:
    """The variance drivers zv and the unit normals zperp independent of them (per asset)."""
    zs = correlate(p, d.z)
    rho = p.model.rho
    rbar = jnp.sqrt(jnp.maximum(1.0 - rho ** 2, 0.0))
    return rho * zs + rbar * d.b, rbar * zs - rho * d.b


def _central(p: Params, s: State, dt: jax.Array, d: Draws):
    """Andersen's central scheme for one step: (mean, variance) of the new log spot given
    the start and the variance driver, the unit normal ``zperp`` independent of that
    driver, and the new variance. The new log spot is ``mean + sqrt(variance) zperp``."""
    zv, zperp = drivers(p, d)
    v = s.v
    v_next, quad, a, b2, pp, beta = qe_variance(p, v, dt, zv)
    h = p.model
    k1 = 0.5 * dt * (h.kappa * h.rho / h.xi - 0.5) - h.rho / h.xi
    k2 = 0.5 * dt * (h.kappa * h.rho / h.xi - 0.5) + h.rho / h.xi
    k3 = 0.5 * dt * (1.0 - h.rho ** 2)
    k4 = k3
    big_a = k2 + 0.5 * k4
    # Martingale correction (Andersen sec. 4.2); where its moment does not exist (rare:
    # large positive rho), fall back to the uncorrected K0.
    ok_q = big_a * a < 0.5
    one_m = jnp.where(ok_q, 1.0 - 2.0 * big_a * a, 1.0)
    k0_q = -big_a * b2 * a / one_m + 0.5 * jnp.log(one_m)
    ok_e = big_a < beta
    den = jnp.where(ok_e, beta - big_a, 1.0)
    k0_e = -jnp.log(pp + beta * (1.0 - pp) / den)
    k0_plain = -h.rho * h.kappa * h.theta * dt / h.xi
    k0 = jnp.where(quad, jnp.where(ok_q, k0_q - (k1 + 0.5 * k3) * v, k0_plain),
                   jnp.where(ok_e, k0_e - (k1 + 0.5 * k3) * v, k0_plain))
    mean = s.x + growth(p) * dt + k0 + k1 * v + k2 * v_next
    return mean, k3 * v + k4 * v_next, zperp, v_next


def step(p: Params, s: State, dt: jax.Array, d: Draws) -> State:
    mean, var, zperp, v_next = _central(p, s, dt, d)
    # Both variances can sit at QE's point mass at 0; a plain sqrt there has an infinite
    # derivative and makes pathwise vega NaN, so the derivative is taken as 0 at 0.
    pos = var > 0
    diffusion = jnp.where(pos, jnp.sqrt(jnp.where(pos, var, 1.0)), 0.0)
    return State(x=mean + diffusion * zperp, v=v_next)


def last_step(p: Params, s: State, dt: jax.Array, d: Draws):
    """Mean and variance of each new log spot given the step's start and the asset's own
    variance driver: ``zperp`` is independent of both, so the asset's new log spot is
    normal given them (the Greeks kernel's last-step conditioning)."""
    mean, var, _, _ = _central(p, s, dt, d)
    return mean, var
