"""`mcrisk.analytic.normal` against SciPy: the normal distribution function by one erfc,
erfcx, and the reflected barrier term's scaled mass where exp(e) overflows and the mass
underflows."""

import jax.numpy as jnp
import numpy as np
from scipy import special

from mcrisk.analytic import normal


def test_ndtr_keeps_relative_precision_deep_in_the_lower_tail():
    x = np.linspace(-37.0, 8.0, 20001)
    got = np.asarray(normal.ndtr(jnp.asarray(x)))
    want = special.ndtr(x)
    assert np.all(np.abs(got - want) <= 1e-14 * want + 1e-16)


def test_erfcx_joins_its_direct_and_asymptotic_forms_seamlessly():
    x = np.concatenate([np.linspace(0.0, 60.0, 30001), [19.999, 20.0, 20.001, 1e3, 1e8]])
    got = np.asarray(normal._erfcx(jnp.asarray(x)))
    want = special.erfcx(x)
    assert np.all(np.abs(got - want) <= 5e-15 * want)


def _masses(seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    a = -np.abs(rng.normal(0.0, 15.0, 4000))
    b = np.where(rng.random(4000) < 0.5, a + np.abs(rng.normal(0.0, 3.0, 4000)),
                 rng.normal(0.0, 3.0, 4000))
    b = np.maximum(a, b)
    e = 0.5 * b * b + rng.normal(0.0, 5.0, 4000)  # scaled mass near 1: exp(e) alone overflows
    e, a, b = (v.astype(dtype).astype(np.float64) for v in (e, a, b))
    la, lb = special.log_ndtr(a), special.log_ndtr(b)
    want = np.exp(e + lb) * -np.expm1(la - lb)  # SciPy's log_ndtr, in logs throughout
    return e, a, b, want


def test_scaled_mass_where_the_factor_overflows_and_the_mass_underflows():
    e, a, b, want = _masses(7)
    assert np.isfinite(want).all()
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(np.exp(e) * (special.ndtr(b) - special.ndtr(a))).all()
    got = np.asarray(normal.scaled_mass(jnp.asarray(e), jnp.asarray(a), jnp.asarray(b)))
    # Where b is near a the reference's own error is ~1e-12: log_ndtr's absolute 1e-14 in
    # a difference of logs of 0.01.
    assert np.all(np.abs(got - want) <= 5e-12 * np.abs(want) + 1e-300)


def test_scaled_mass_in_float32():
    e, a, b, want = _masses(8, np.float32)  # the reference at the float32 inputs
    f = lambda v: jnp.asarray(v, jnp.float32)  # noqa: E731
    got = np.asarray(normal.scaled_mass(f(e), f(a), f(b)), np.float64)
    fine = np.abs(want) > 1e-30  # float32's normal range, with room for exp(e)'s rounding
    assert fine.mean() > 0.9
    # Exponents of size |e| are rounded to float32's 6e-8 relative, so exp's relative
    # error grows with |e| (in any form: log_ndtr's too).
    tol = 3e-5 + 1.2e-7 * np.abs(e)
    assert np.all(np.abs(got - want)[fine] <= tol[fine] * np.abs(want)[fine])
