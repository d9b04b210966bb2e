"""Mean-CVaR optimisation against the exact Rockafellar-Uryasev linear programme.

The reference is SciPy's HiGHS solving the LP itself (variables w, alpha and one u_i >= 0 per
scenario with u_i >= L_i(w) - alpha), on the same scenarios: it shares no code, smoothing or
step sizes with the optax solver. Scenario counts make n (1 - beta) an integer, where the
LP's optimum equals the risk engine's ES (mean of the n (1 - beta) largest losses) exactly.
Weight tolerance: the CVaR of a fat-tailed scenario set is flat along some directions near its
optimum (a weight change of 4e-3 moved the CVaR by 1e-5 relative in trials), so weights are
compared to 0.01 and the CVaR to 1e-3 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from mcrisk.errors import ConfigError
from mcrisk.optimize.cvar import make_problem, max_mean, minimise_cvar
from mcrisk.optimize.frontier import best_return, frontier
from tests.compiles import compiled

N, M, LEVEL = 2000, 5, 0.95
CVAR_RTOL, W_ATOL = 1e-3, 0.01


def t_returns(seed: int, n: int = N) -> np.ndarray:
    """Monthly-like returns of five assets: Student-t(4) shocks, equicorrelated 0.3."""
    rng = np.random.default_rng(seed)
    mu = np.array([0.01, 0.02, 0.03, 0.05, 0.08])
    vol = np.array([0.05, 0.10, 0.15, 0.30, 0.60])
    chol = np.linalg.cholesky(0.3 + 0.7 * np.eye(M))
    return mu + rng.standard_t(4, size=(n, M)) / np.sqrt(2.0) @ chol.T * vol


def ru_lp(exposures, level, *, losses0=0.0, lower=None, upper=None, budget=1.0, cash=False,
          floor=None, cap=None, costs=None):
    """Exact RU LP: min CVaR + costs (or, with `cap`, max mean P&L s.t. that <= cap).

    Returns (x, the LP's CVaR + costs, mean P&L). Costs split x into x+ and x- >= 0.
    """
    n, m = exposures.shape
    l0 = np.broadcast_to(np.asarray(losses0, float), (n,))
    k = 1.0 / ((1.0 - level) * n)
    split = costs is not None
    a = np.hstack([exposures, -exposures]) if split else exposures
    mx = a.shape[1]
    c_lin = np.concatenate([costs, costs]) if split else np.zeros(mx)
    mu = -a.mean(axis=0)
    ru = np.concatenate([c_lin, [1.0], np.full(n, k)])
    rows = [np.hstack([a, -np.ones((n, 1)), -np.eye(n)])]
    rhs = [-l0]
    if floor is not None:
        rows.append(np.concatenate([-mu, [0.0], np.zeros(n)])[None])
        rhs.append([-(floor + l0.mean())])
    if cap is not None:
        rows.append(ru[None])
        rhs.append([cap])
    eq = eq_rhs = None
    if budget is not None:
        row = np.concatenate([np.ones(mx), [0.0], np.zeros(n)])[None]
        if cash:
            rows.append(row)
            rhs.append([budget])
        else:
            eq, eq_rhs = row, [budget]
    lo = np.zeros(m) if lower is None else np.broadcast_to(lower, (m,))
    hi = np.full(m, np.inf) if upper is None else np.broadcast_to(upper, (m,))
    box = ([(0, h) for h in hi] + [(0, -low) for low in lo]) if split else list(zip(lo, hi))
    box = [(b0, None if not np.isfinite(b1) else b1) for b0, b1 in box]
    objective = np.concatenate([-mu, [0.0], np.zeros(n)]) if cap is not None else ru
    res = linprog(objective, A_ub=np.vstack(rows), b_ub=np.concatenate(rhs), A_eq=eq,
                  b_eq=eq_rhs, bounds=box + [(None, None)] + [(0, None)] * n, method="highs")
    assert res.status == 0, res.message
    x = res.x[:mx]
    x = x[:m] - x[m:] if split else x
    return x, float(ru @ res.x), float(-l0.mean() + -exposures.mean(axis=0) @ x)


def check_frontier(f, returns):
    for k, target in enumerate(f.targets):
        w, cvar, _ = ru_lp(-returns, LEVEL, floor=target)
        assert f.mean[k] >= target - 1e-9
        assert abs(f.cvar[k] - cvar) <= CVAR_RTOL * cvar, (k, f.cvar[k], cvar)
        np.testing.assert_allclose(f.weights[k], w, atol=W_ATOL)


def test_frontier_matches_linprog_and_compiles_once():
    """Five frontier points of 2,000 Student-t scenarios x 5 assets, each against HiGHS; a
    second frontier of new scenarios compiles nothing and matches its own LP."""
    r1 = t_returns(1)
    f = frontier(r1, LEVEL, 5)
    check_frontier(f, r1)
    assert f.targets[-1] == pytest.approx(r1.mean(axis=0).max())
    r2 = t_returns(2)
    with compiled() as names:
        f2 = frontier(r2, LEVEL, 5)
    assert names == []
    check_frontier(f2, r2)


def test_best_return_under_cvar_cap_matches_linprog():
    """Max mean return s.t. CVaR <= X, with cash allowed and weights capped at 0.6, against
    the LP with the CVaR constraint."""
    r = t_returns(3)
    low = ru_lp(-r, LEVEL, upper=0.6, cash=True)[1]
    cap = low + 0.5 * (0.4 - low)
    b = best_return(r, LEVEL, cap, upper=0.6, cash=True)
    w, _, mean = ru_lp(-r, LEVEL, upper=0.6, cash=True, cap=cap)
    assert b.cvar[0] <= cap
    assert abs(b.mean[0] - mean) <= 1e-3 * abs(mean), (b.mean[0], mean)
    np.testing.assert_allclose(b.weights[0], w, atol=W_ATOL)


def test_hedge_with_costs_and_limits_matches_linprog():
    """L = L0 + H q with costs |q| and box limits (the static hedge's form), no budget."""
    rng = np.random.default_rng(4)
    z = rng.standard_t(5, size=(N, 3))
    book = -1e6 * (0.8 * z[:, 0] + 0.5 * z[:, 1] + 0.3 * np.maximum(z[:, 2], 0.0))
    h = 1e3 * np.stack([z[:, 0], z[:, 1], z[:, 2] + 0.2 * z[:, 0]], axis=1)
    costs = np.array([20.0, 50.0, 80.0])
    lower, upper = np.array([-2000.0, -2000.0, -400.0]), np.array([2000.0, 300.0, 400.0])
    p = make_problem(book, h, LEVEL, lower=lower, upper=upper, budget=None, costs=costs)
    s = minimise_cvar(p)
    q, obj, _ = ru_lp(h, LEVEL, losses0=book, lower=lower, upper=upper, budget=None,
                      costs=costs)
    assert abs(s.objective[0] - obj) <= CVAR_RTOL * obj, (s.objective[0], obj)
    assert np.all(np.abs(s.x[0] - q) <= 2e-3 * (upper - lower)), (s.x[0], q)


def test_min_cvar_of_gaussian_scenarios_is_near_min_variance():
    """Sanity check, not a reference: for jointly normal returns with equal means, CVaR is
    a multiple of the portfolio's standard deviation, so the population minimum-CVaR and
    minimum-variance portfolios coincide; the sample's minimiser differs from both by
    sampling error (about 1/sqrt(n (1 - beta)) relative in the tail), hence the loose 0.05."""
    rng = np.random.default_rng(5)
    vol = np.array([0.1, 0.15, 0.2, 0.25])
    corr = 0.2 + 0.8 * np.eye(4)
    cov = corr * np.outer(vol, vol)
    r = rng.multivariate_normal(np.zeros(4), cov, size=4000)
    p = make_problem(0.0, -r, LEVEL)
    w = minimise_cvar(p).x[0]
    mv = np.linalg.solve(cov, np.ones(4))
    np.testing.assert_allclose(w, mv / mv.sum(), atol=0.05)


@pytest.mark.parametrize("change, field", [
    (dict(level=1.0), "allocation.level"),
    (dict(level=0.0), "allocation.level"),
    (dict(names=["a", "b"]), "allocation.names"),
    (dict(upper=[0.5, 0.5]), "allocation.upper"),
    (dict(nan=True), "allocation.scenarios[7][2]"),
    (dict(budget=2.0, upper=0.3), "allocation.budget"),
])
def test_bad_inputs_fail_before_compiling(change, field):
    r = t_returns(6, n=40)
    if change.pop("nan", False):
        r[7, 2] = np.nan
    kw = dict(level=LEVEL, budget=1.0, upper=np.inf) | change
    with compiled() as names, pytest.raises(ConfigError) as err:
        make_problem(0.0, -r, kw.pop("level"), path="allocation", **kw)
    assert err.value.path == field
    assert names == []


def test_infeasible_target_and_cap_and_shape_mismatch():
    r = t_returns(6, n=40)
    p = make_problem(0.0, -r, LEVEL)
    with compiled() as names:
        with pytest.raises(ConfigError, match="targets\\[0\\]"):
            minimise_cvar(p, [max_mean(p) + 0.01])
        with pytest.raises(ConfigError, match="losses0"):
            make_problem(np.zeros(39), -r, LEVEL)
        with pytest.raises(ConfigError, match="scenarios"):
            frontier(r[:, 0], LEVEL)
    assert names == []
    with pytest.raises(ConfigError, match="allocation.cvar_cap"):
        best_return(r, LEVEL, 1e-6)


def test_assets_of_very_different_risk_with_cash():
    """A stablecoin-like asset (vol 100x below the others) beside cash: the minimum CVaR
    mixes only those two, and the optimum's losses spread far less than the starting
    point's. Its CVaR must still match the LP (once found 30% cash where the LP holds 0)."""
    r = t_returns(7, n=1000)
    r[:, 0] = 0.004 + 0.003 * np.random.default_rng(8).standard_t(4, size=1000)
    p = make_problem(0.0, -r, 0.99, cash=True)
    floor = 0.6 * max_mean(p)
    s = minimise_cvar(p, [0.0035, floor])
    for k, target in enumerate([0.0035, floor]):
        w, cvar, _ = ru_lp(-r, 0.99, cash=True, floor=target)
        assert abs(s.cvar[k] - cvar) <= CVAR_RTOL * cvar, (k, s.cvar[k], cvar)
        np.testing.assert_allclose(s.x[k], w, atol=W_ATOL)
