"""Bad inputs and silent wrong numbers in the risk engine: non-finite revaluations raise,
shocked vols get one treatment whatever the revaluation method."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest

import mcrisk
from mcrisk.errors import NonFiniteError
from mcrisk.riskengine import stress

HESTON = dict(
    market=dict(assets=["A"], spot=[100.0], vol=[0.5], rate=0.0),
    model=dict(name="heston", kappa=2.0, theta=0.25, xi=0.5, rho=-0.5),
    sim=dict(n_paths=200, n_steps=4, seed=0, dtype="float64", chunk_size=200),
    greeks=dict(enabled=False),
    portfolio=dict(positions=[dict(name="short_call", type="european", asset="A",
                                   option="call", strike=100.0, expiry=0.5, quantity=-1.0)]),
    risk=dict(horizon=1 / 365, levels=[0.99],
              margin=dict(spot_range=0.1, spot_steps=3, vol_shift=0.1)))


def test_margin_requirement_raises_on_nan_loss():
    # max(0, nan) is 0.0: a NaN grid loss used to read as "no margin needed".
    spot, vol, weight, labels = stress.margin_points(mcrisk.problem.MarginGrid(), 1)
    losses = np.linspace(-1.0, 1.0, len(weight))
    losses[3] = np.nan
    with pytest.raises(NonFiniteError, match=r"^margin.points\[3\]: computed nan"):
        stress.margin_requirement(losses, weight, labels, "joint", 1)
    with pytest.raises(NonFiniteError, match=r"^margin.points\[3\]"):
        stress.margin_requirement(losses, weight, labels, "per_asset", 1)


def test_nan_revaluation_names_the_position():
    # A Problem is taken as built; one with rho = -1 revalues to NaN by the Fourier formula
    # and used to report NaN values and a zero margin requirement.
    problem = mcrisk.build(copy.deepcopy(HESTON))
    params = dict(problem.model.params, rho=np.array([-1.0]))
    bad = replace(problem, model=replace(problem.model, params=params))
    with pytest.raises(NonFiniteError, match=r"^today.short_call: computed nan"):
        mcrisk.stress(bad)
