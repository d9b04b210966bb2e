"""SVI/SSVI fits: errors naming the argument, dtype preservation, one compile per shape."""

from __future__ import annotations


import numpy as np
import pytest

from mcrisk.errors import ConfigError
from mcrisk.vol import ssvi
from mcrisk.vol.fit import fit_svi
from mcrisk.vol.svi import SviParams, arbitrage_report, density
from tests.reference.test_vol_svi import _ssvi_quotes, _svi_quotes
from tests.compiles import compiled as _compiled


def test_second_fit_with_new_numbers_compiles_nothing():
    k, t, vols = _svi_quotes()
    fit_svi(k, t, vols)
    ks, ts, vs = _ssvi_quotes()
    ssvi.fit_ssvi(ks, ts, vs)
    with _compiled() as names:
        fit_svi(k * 1.1, t * 2.0, vols * 0.9, penalty=10.0)
        ssvi.fit_ssvi(ks * 0.9, ts * 1.5, vs * 1.2)
    assert names == [], names


@pytest.mark.parametrize("kwargs, path, fragment", [
    (dict(vols=[0.5, -0.2]), "vols[1]", "positive implied vol"),
    (dict(expiries=[1.0, 0.0]), "expiries[1]", "positive year fraction"),
    (dict(k=[0.0, np.nan]), "k[1]", "finite log-moneyness"),
    (dict(weights=[1.0, -1.0]), "weights[1]", ">= 0"),
    (dict(k=[0.0]), "expiries", "1 entries, one per quote"),
    (dict(optimizer="sgd"), "optimizer", "'lbfgs'"),
    (dict(n_iter=0), "n_iter", ">= 1"),
])
def test_bad_input_names_the_argument(kwargs, path, fragment):
    args = dict(k=[-0.1, 0.1], expiries=[1.0, 1.0], vols=[0.5, 0.5])
    args.update(kwargs)
    with pytest.raises(ConfigError) as err:
        ssvi.fit_ssvi(**args)
    assert err.value.path == path and fragment in str(err.value), str(err.value)


def test_too_few_quotes_and_one_sided_atm_are_rejected():
    with pytest.raises(ConfigError, match="at least 5 quotes"):
        fit_svi(np.linspace(-0.1, 0.1, 4), np.ones(4), np.full(4, 0.5))
    with pytest.raises(ConfigError, match="both sides of k = 0"):
        ssvi.fit_ssvi(np.array([0.1, 0.2]), np.ones(2), np.full(2, 0.5))
    with pytest.raises(ConfigError, match="strictly increasing"):
        arbitrage_report(SviParams(*([np.array([0.1, 0.1])] * 5)), np.array([1.0, 1.0]))


def test_float32_in_float32_out():
    k, t, vols = (x.astype(np.float32) for x in _ssvi_quotes())
    fit = ssvi.fit_ssvi(k, t, vols)
    assert fit.params.thetas.dtype == np.float32 and fit.rmse_vol_points.dtype == np.float32
    assert fit.arbitrage.g_min.dtype == np.float32
    p = SviParams(*(np.float32(x) for x in (0.04, 0.1, -0.3, 0.0, 0.2)))
    assert density(p, np.linspace(-1, 1, 5, dtype=np.float32)).dtype == np.float32


def test_every_ssvi_parameter_vector_is_arbitrage_free():
    # The unconstrained vector the optimizer moves maps into the no-arbitrage region
    # (Gatheral & Jacquier 2014, Theorems 4.1 and 4.2), checked on g and w directly.
    from mcrisk.vol.ssvi import _unpack

    expiries = np.array([7, 30, 91, 365]) / 365.0
    grid_t = np.geomspace(1 / 365, 3.0, 25)
    rng = np.random.default_rng(11)
    for x in rng.normal(0.0, 2.0, (6, 3 + expiries.size)):
        p = _unpack(x, expiries)
        assert float(p.eta) * (1 + abs(float(p.rho))) <= 2.0 and 0.0 < float(p.gamma) <= 0.5
        report = arbitrage_report(ssvi.slices(p, grid_t), grid_t,
                                  half_widths=np.full(grid_t.size, 3.0))
        assert report.ok, report.lines()
