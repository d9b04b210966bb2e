"""Every bad input raises ConfigError naming the field, the value and what was expected,
before anything is compiled."""

from __future__ import annotations

import copy
import math

import pytest

import mcrisk
from mcrisk import ConfigError

BASE = dict(
    market=dict(assets=["BTC", "ETH"], spot=[60000.0, 3000.0], vol=[0.6, 0.75],
                dividend=[0.0, 0.0], rate=0.03, corr=[[1.0, 0.8], [0.8, 1.0]]),
    model=dict(name="gbm"),
    sim=dict(n_paths=1000, n_steps=8, seed=0, antithetic=True, dtype="float32",
             chunk_size=512),
    portfolio=dict(positions=[
        dict(type="european", asset="BTC", option="call", strike=65000, expiry=0.25,
             quantity=10),
        dict(type="barrier", asset="ETH", option="put", strike=2800, barrier=2400,
             barrier_type="down-and-out", expiry=0.5, quantity=-20),
        dict(type="asian", asset="BTC", option="call", strike=60000, expiry=1.0, fixings=12,
             average="arithmetic", quantity=5),
        dict(type="basket", assets=["BTC", "ETH"], weights=[0.5, 10.0], option="call",
             strike=60000, expiry=0.5, quantity=1),
        dict(type="spot", asset="ETH", quantity=100),
    ]))


def _set(cfg, path, value):
    keys = path.replace("]", "").replace("[", ".").split(".")
    node = cfg
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node[k]
    last = keys[-1]
    if value is _DELETE:
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value


_DELETE = object()

CASES = [
    # (field to change, new value, field path the message must name, words it must contain)
    ("portfolio.positions[0].asset", "SOL", "portfolio.positions[0].asset", "BTC, ETH"),
    ("market.spot[1]", -3000.0, "market.spot[1]", "> 0"),
    ("market.spot[0]", 0.0, "market.spot[0]", "> 0"),
    ("market.vol[0]", 0.0, "market.vol[0]", "> 0"),
    ("portfolio.positions[0].strike", -1.0, "portfolio.positions[0].strike", "> 0"),
    ("portfolio.positions[3].strike", 0, "portfolio.positions[3].strike", "> 0"),
    ("portfolio.positions[0].expiry", 0.0, "portfolio.positions[0].expiry", "> 0"),
    ("portfolio.positions[1].expiry", -0.5, "portfolio.positions[1].expiry", "> 0"),
    ("market.corr", [[1.0, 0.8], [0.7, 1.0]], "market.corr[0][1]", "symmetric"),
    ("market.corr", [[1.0, 1.2], [1.2, 1.0]], "market.corr[0][1]", "[-1, 1]"),
    ("market.corr", [[1.0, 0.5], [0.5, 0.9]], "market.corr[1][1]", "diagonal"),
    ("market.corr", [[1.0, 0.5]], "market.corr", "2x2"),
    ("market.vol", [0.6], "market.vol", "one number per asset"),
    ("market.spot", [60000.0, 3000.0, 150.0], "market.spot", "length 2"),
    ("portfolio.positions[3].weights", [0.5], "portfolio.positions[3].weights", "one weight"),
    ("portfolio.positions[2].type", "swaption", "portfolio.positions[2].type", "european"),
    ("portfolio.positions[0].strik", 1.0, "portfolio.positions[0].strik", "no such field"),
    ("portfolio.positions[0].strike", _DELETE, "portfolio.positions[0].strike", "required"),
    ("portfolio.positions[1].barrier_type", _DELETE, "portfolio.positions[1].barrier_type",
     "required"),
    ("sim.n_paths", 1, "sim.n_paths", ">= 2"),
    ("sim.n_paths", 1001, "sim.n_paths", "even"),
    ("sim.chunk_size", 0, "sim.chunk_size", ">= 2"),
    ("sim.dtype", "float16", "sim.dtype", "float32"),
    ("sim.min_steps", -1, "sim.min_steps", ">= 0"),
    ("sim.min_steps", 2.5, "sim.min_steps", "path-dependent expiry"),
    ("sim.steps_per_year", -52, "sim.steps_per_year", "steps per year"),
    ("sim.nsteps", 10, "sim.nsteps", "no such field"),
    ("portfolio.positions[1].barrier", 3500.0, "portfolio.positions[1].barrier", "below"),
    ("portfolio.positions[0].option", "straddle", "portfolio.positions[0].option", "call"),
    ("portfolio.positions[2].fixings", 0, "portfolio.positions[2].fixings", ">= 1"),
    ("portfolio.positions[2].fixings", 2.5, "portfolio.positions[2].fixings", "integer"),
    ("market.rate", math.nan, "market.rate", "finite"),
    ("market.spot[0]", math.nan, "market.spot[0]", "finite"),
    ("portfolio.positions[0].quantity", math.inf, "portfolio.positions[0].quantity", "finite"),
    ("portfolio.positions[0].strike", "65000", "portfolio.positions[0].strike", "number"),
    ("model.name", "sabr", "model.name", "heston"),
    ("portfolio.positions", [], "portfolio.positions", "at least 1"),
    ("market.assets", ["BTC", "BTC"], "market.assets", "distinct"),
    ("portfolio.positions[3].assets", ["BTC", "BTC"], "portfolio.positions[3].assets",
     "distinct"),
]


@pytest.mark.parametrize("field,value,path,words", CASES, ids=[c[0] + "=" + repr(c[1])[:20]
                                                               for c in CASES])
def test_bad_input_names_the_field(field, value, path, words):
    cfg = copy.deepcopy(BASE)
    _set(cfg, field, value)
    with pytest.raises(ConfigError) as info:
        mcrisk.build(cfg)
    msg = str(info.value)
    assert msg.startswith(path + ":"), msg
    assert words in msg, msg
    assert isinstance(info.value, ValueError)


def test_non_psd_correlation_rejected_then_repaired_on_request():
    cfg = copy.deepcopy(BASE)
    cfg["market"].update(assets=["A", "B", "C"], spot=[1.0, 2.0, 3.0], vol=[0.5, 0.5, 0.5],
                         dividend=None,
                         corr=[[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    cfg["portfolio"]["positions"] = [dict(type="spot", asset="A")]
    with pytest.raises(ConfigError, match=r"market.corr: .*positive semi-definite.*corr_repair"):
        mcrisk.build(cfg)
    cfg["market"]["corr_repair"] = "nearest"
    with pytest.warns(UserWarning, match="Higham"):
        problem = mcrisk.build(cfg)
    import numpy as np

    c = problem.market.corr
    assert problem.market.corr_repaired
    assert np.allclose(np.diag(c), 1.0) and np.allclose(c, c.T)
    assert np.linalg.eigvalsh(c).min() > 0
    assert any("Higham" in n for n in problem.notes)


def test_errors_raised_before_any_compilation():
    from mcrisk.engine import price_chunk

    before = price_chunk._cache_size()
    cfg = copy.deepcopy(BASE)
    cfg["portfolio"]["positions"][4]["quantity"] = math.nan
    with pytest.raises(ConfigError):
        mcrisk.price(cfg)
    assert price_chunk._cache_size() == before


def test_unknown_top_level_key():
    cfg = copy.deepcopy(BASE)
    cfg["portfolo"] = {}
    with pytest.raises(ConfigError, match="^portfolo: .*no such field"):
        mcrisk.build(cfg)


@pytest.mark.parametrize("model", ["heston", "bates"])
@pytest.mark.parametrize("rho", [-1.0, 1.0])
def test_perfect_spot_variance_correlation_rejected(model, rho):
    # |rho| = 1 used to pass and made the Fourier revaluation return NaN.
    cfg = copy.deepcopy(BASE)
    cfg["model"] = dict(name=model, kappa=2.0, theta=0.4, xi=0.5, rho=rho, jump_intensity=1.0,
                        jump_mean=-0.1, jump_std=0.1)
    if model == "heston":
        for k in ("jump_intensity", "jump_mean", "jump_std"):
            del cfg["model"][k]
    with pytest.raises(ConfigError, match=r"^model.rho: .*strictly inside \(-1, 1\)"):
        mcrisk.build(cfg)


def test_check_finite_names_the_path():
    import numpy as np

    from mcrisk.errors import NonFiniteError, check_finite

    res = {"positions": [{"value": 1.0}, {"value": 2.0, "greeks": {"delta": {"A": 0.5}}}],
           "stress": {"grid": np.array([[0.0, 1.0], [2.0, 3.0]])}, "name": "x"}
    assert check_finite(res) is res
    res["positions"][1]["greeks"]["delta"]["A"] = math.inf
    with pytest.raises(NonFiniteError, match=r"^positions\[1\].greeks.delta.A: computed inf"):
        check_finite(res)
    res["positions"][1]["greeks"]["delta"]["A"] = 0.5
    res["stress"]["grid"][1, 1] = np.nan
    with pytest.raises(NonFiniteError, match=r"^stress.grid\[1\]\[1\]: computed nan"):
        check_finite(res)


def _single(vol, expiry, option="call", rate=0.0, dividend=0.0, dtype="float32"):
    return dict(market=dict(assets=["A"], spot=[100.0], vol=[vol], rate=rate,
                            dividend=[dividend]),
                sim=dict(n_paths=20_000, n_steps=2, seed=0, dtype=dtype, chunk_size=20_000),
                greeks=dict(enabled=False),
                portfolio=dict(positions=[dict(type="european", asset="A", option=option,
                                               strike=100.0, expiry=expiry)]))


@pytest.mark.parametrize("vol,expiry", [(50.0, 1.0), (0.6, 1000.0)])
def test_call_beyond_monte_carlo_reach_rejected(vol, expiry):
    # Both priced at 0.00 +- 0.00 where the value is about the spot (100).
    with pytest.raises(ConfigError, match=r"^portfolio.positions\[0\].expiry: .*vol\^2 x "
                                          r"expiry <= 15.1 .*sim.n_paths = 20000"):
        mcrisk.build(_single(vol, expiry))


def test_float32_underflow_rejected_and_float64_priced():
    # Discounting over 1000 years at 10% is exp(-100): 0 in float32, so the put read 0 +- 0.
    from scipy.stats import norm

    with pytest.raises(ConfigError, match=r"^portfolio.positions\[0\].expiry: .*float32.*"
                                          r"set sim.dtype: float64"):
        mcrisk.build(_single(0.05, 1000.0, "put", 0.1, 0.1))
    got = mcrisk.price(_single(0.05, 1000.0, "put", 0.1, 0.1, "float64"))["positions"][0]
    sd = 0.05 * math.sqrt(1000.0)
    ref = 100.0 * math.exp(-100.0) * (norm.cdf(sd / 2) - norm.cdf(-sd / 2))  # 2.12e-42
    assert abs(got["value"] - ref) <= 4 * got["stderr"], (got["value"], ref, got["stderr"])


def test_sample_index_bounded():
    cfg = copy.deepcopy(BASE)
    cfg["sim"]["n_paths"] = 2 ** 32 + 2
    with pytest.raises(ConfigError, match=r"^sim.n_paths: .*at most 4294967296 = 2\^32"):
        mcrisk.build(cfg)


MESSAGE_CASES = [
    # (field, value, exact text the message must hold): numbers as typed, plain English.
    ("market.corr", [[1.0, 0.8], [0.7, 1.0]],
     "market.corr[0][1]: got 0.8; expected a symmetric matrix (market.corr[1][0] = 0.7)"),
    ("market.corr", [[1.0, 0.5]], "market.corr: got [[1.0, 0.5]]; expected a 2x2 matrix: "
                                  "a list of 2 rows (it has 1)"),
    ("market.corr", [[1.0, 0.5], [0.5]], "market.corr[1]: got [0.5]; expected a row of 2 "
                                         "numbers (it has 1)"),
    ("market.corr", [[1.0, 1.5], [1.5, 1.0]], "market.corr[0][1]: got 1.5; expected"),
    ("portfolio.positions[1].barrier_type", "up-and-in",
     "expected a level above today's spot 3000 for an up-and-in barrier"),
    ("portfolio.positions[1].barrier", 3100.0,
     "expected a level below today's spot 3000 for a down-and-out barrier"),
]


@pytest.mark.parametrize("field,value,text", MESSAGE_CASES,
                         ids=[f"{c[0]}={c[1]!r}"[:40] for c in MESSAGE_CASES])
def test_messages_show_plain_numbers_and_plain_english(field, value, text):
    cfg = copy.deepcopy(BASE)
    _set(cfg, field, value)
    with pytest.raises(ConfigError) as info:
        mcrisk.build(cfg)
    msg = str(info.value)
    assert text in msg, msg
    assert "np." not in msg and "of length" not in msg, msg


def test_stress_shock_value_is_a_plain_number():
    cfg = copy.deepcopy(BASE)
    cfg["risk"] = dict(stress=[dict(name="wipeout", spot=dict(BTC=-150))])
    with pytest.raises(ConfigError) as info:
        mcrisk.build(cfg)
    assert str(info.value) == ("risk.stress[0].spot.BTC: got -150.0; expected a move above "
                               "-100 (percent)")


def test_show_formats_numpy_values_as_python_ones():
    import numpy as np

    from mcrisk.errors import show

    assert show(np.float64(0.8)) == "0.8"
    assert show([np.float32(0.5), np.int64(3), "SOL"]) == "[0.5, 3, 'SOL']"
    assert show({"BTC": np.array([1.0, 2.0])}) == "{'BTC': [1.0, 2.0]}"


def test_integer_entries_accepted_where_floats_are_expected():
    # The command line types `1` as an int; the Python API already accepted it.
    from mcrisk.config.store import compose

    cfg = compose(["market.corr=[[1,0.8],[0.8,1]]", "market.rate=0", "market.spot=[60000,3000]"])
    problem = mcrisk.build(cfg)
    assert problem.market.corr.tolist() == [[1.0, 0.8], [0.8, 1.0]]
    assert problem.market.spots.tolist() == [60000.0, 3000.0]


def test_from_csv_without_a_path_names_market_path():
    from mcrisk.config.store import compose

    with pytest.raises(ConfigError, match=r"^market\.path: got None; expected the path of a "
                                          r"CSV price file.*market\.path=prices\.csv"):
        mcrisk.build(compose(["market=from_csv"]))
