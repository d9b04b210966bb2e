"""task=allocate end to end at a tiny size, against HiGHS's RU linear programme on the same
simulated scenarios (redrawn here from the seed)."""

from __future__ import annotations

import numpy as np
import pytest

from mcrisk.errors import ConfigError
from mcrisk.optimize.scenarios import simulate_returns
from mcrisk.tasks import run
from tests.compiles import compiled
from tests.optimize.test_cvar import CVAR_RTOL, W_ATOL, ru_lp

ASSETS = [{"name": "TOKEN", "mean": 0.3, "vol": 1.0, "jump_rate": 2.0, "jump_mean": -0.2,
           "jump_std": 0.1},
          {"name": "ETH", "mean": 0.1, "vol": 0.7},
          {"name": "USDC", "mean": 0.045, "vol": 0.01}]
# n (1 - level) = 10 tail scenarios: an integer, where the LP's CVaR is the engine's ES.
ALLOCATION = {"assets": ASSETS, "corr": [[1, 0.6, 0], [0.6, 1, 0], [0, 0, 1]],
              "n_scenarios": 1000, "n_points": 3, "cvar_cap": 0.2, "cash": True, "seed": 3}


def test_allocate_task_matches_linprog():
    res = run({"task": "allocate", "allocation": ALLOCATION})
    a = {k: [x.get(k, 0.0) for x in ASSETS] for k in ("mean", "vol", "jump_rate",
                                                       "jump_mean", "jump_std")}
    r = simulate_returns(3, 1000, 30.0 / 365.0, a["mean"], a["vol"],
                         np.array(ALLOCATION["corr"], float), a["jump_rate"], a["jump_mean"],
                         a["jump_std"])
    names = [x["name"] for x in ASSETS]
    for p in res["frontier"]:
        w, cvar, _ = ru_lp(-r, 0.99, cash=True, floor=p["target"])
        # The first point is all cash (CVaR 0): there 1e-6 of the portfolio is the tolerance.
        assert abs(p["cvar"] - cvar) <= CVAR_RTOL * cvar + 1e-6, (p, cvar)
        np.testing.assert_allclose([p["weights"][n] for n in names], w, atol=W_ATOL)
    w, _, mean = ru_lp(-r, 0.99, cash=True, cap=0.2)
    best = res["best"]
    assert best["cvar"] <= 0.2
    assert abs(best["mean"] - mean) <= 1e-3 * abs(mean), (best, mean)
    np.testing.assert_allclose([best["weights"][n] for n in names], w, atol=W_ATOL)


@pytest.mark.parametrize("change, path", [
    ({"levle": 0.9}, "allocation.levle"),
    ({"level": 1.5}, "allocation.level"),
    ({"assets": [dict(ASSETS[0], vol=-1.0), ASSETS[1]]}, "allocation.assets[0].vol"),
    ({"assets": [dict(ASSETS[0], jumps=1.0), ASSETS[1]]}, "allocation.assets[0].jumps"),
    ({"corr": [[1, 2, 0], [2, 1, 0], [0, 0, 1]]}, "allocation.corr[0][1]"),
    ({"upper": [0.5, 0.5]}, "allocation.upper"),
])
def test_bad_allocation_section_names_the_field_before_compiling(change, path):
    with compiled() as names, pytest.raises(ConfigError) as err:
        run({"task": "allocate", "allocation": dict(ALLOCATION, **change)})
    assert err.value.path == path
    assert names == []
