"""Grid density: `sim.min_steps` over each path-dependent expiry, `sim.steps_per_year`."""

import numpy as np

import mcrisk
from mcrisk.grid import make_grid


def test_plain_grid_unchanged_without_densities():
    grid = make_grid([0.25, 2.0], 64)
    expected = np.unique(np.concatenate([np.linspace(0.0, 2.0, 65), [0.25]]))
    np.testing.assert_array_equal(grid.times, expected)


def test_short_barrier_in_long_book_gets_min_steps():
    grid = make_grid([0.25, 2.0], 8, min_steps=32, path_expiries=[0.25])
    inside = grid.times[grid.times <= 0.25]
    assert len(inside) - 1 == 32 and np.allclose(np.diff(inside), 0.25 / 32)
    # After the barrier's expiry the book's own density (2 / 8) resumes.
    assert np.allclose(np.diff(grid.times[grid.times >= 0.25]), 0.25)


def test_steps_per_year_sets_a_floor_density():
    assert make_grid([2.0], 8, steps_per_year=52).n_steps == 104


def test_price_reports_the_refined_step_count():
    cfg = dict(
        market=dict(assets=["X"], spot=[100.0], vol=[0.4], dividend=[0.0], rate=0.0,
                    corr=[[1.0]]),
        model=dict(name="gbm"),
        sim=dict(n_paths=1000, n_steps=8, min_steps=32, dtype="float32"),
        greeks=dict(enabled=False),
        portfolio=dict(positions=[
            dict(type="barrier", asset="X", option="call", strike=100.0, barrier=90.0,
                 barrier_type="down-and-out", expiry=0.25),
            dict(type="european", asset="X", option="call", strike=100.0, expiry=2.0)]))
    assert mcrisk.price(cfg)["n_steps"] == 32 + 7


def test_default_min_steps_follows_the_model():
    """Unset, min_steps refines only where the scheme needs it: not under gbm (exact bridge),
    256 steps over the barrier's life under heston."""
    from mcrisk.engine import prepare
    from mcrisk.problem import MIN_STEPS

    cfg = dict(
        market=dict(assets=["X"], spot=[100.0], vol=[0.4], rate=0.0, corr=[[1.0]]),
        sim=dict(n_paths=1000, n_steps=8, dtype="float32"), greeks=dict(enabled=False),
        portfolio=dict(positions=[
            dict(type="barrier", asset="X", option="call", strike=100.0, barrier=90.0,
                 barrier_type="down-and-out", expiry=0.25),
            dict(type="european", asset="X", option="call", strike=100.0, expiry=2.0)]))
    gbm = prepare(mcrisk.build(dict(cfg, model=dict(name="gbm")))).grid
    assert gbm.n_steps == 8  # 2 / 8 = 0.25: the barrier expiry is a node already
    heston = prepare(mcrisk.build(dict(cfg, model=dict(name="heston", kappa=2.0, theta=0.16,
                                                       xi=0.5, rho=-0.5)))).grid
    assert int(np.sum(heston.times <= 0.25 + 1e-12)) - 1 == MIN_STEPS


def test_lookback_gets_a_multiple_of_min_steps():
    """A lookback's bridge extreme converges more slowly than a barrier's crossing (README,
    `sim`): LOOKBACK_STEPS_FACTOR times `min_steps` over its life, the barrier's span keeps its
    own density where the lookback's has ended."""
    from mcrisk.config.positions import LOOKBACK_STEPS_FACTOR

    cfg = dict(
        market=dict(assets=["X"], spot=[100.0], vol=[0.4], dividend=[0.0], rate=0.0,
                    corr=[[1.0]]),
        model=dict(name="gbm"),
        sim=dict(n_paths=1000, n_steps=8, min_steps=16, dtype="float32"),
        greeks=dict(enabled=False),
        portfolio=dict(positions=[
            dict(type="lookback", asset="X", option="call", expiry=0.25),
            dict(type="barrier", asset="X", option="call", strike=100.0, barrier=90.0,
                 barrier_type="down-and-out", expiry=1.0),
            dict(type="european", asset="X", option="call", strike=100.0, expiry=2.0)]))
    # [0, 0.25] at 0.25 / 64, (0.25, 1] at 1 / 16, then the book's own 2 / 8.
    assert mcrisk.price(cfg)["n_steps"] == 16 * LOOKBACK_STEPS_FACTOR + 12 + 4
