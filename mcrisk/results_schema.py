"""What every key of ``results.json`` means, per task; docs/results.md is rendered from here.

    python -m mcrisk.results_schema > docs/results.md

A path names nested keys with dots; ``[]`` is every element of a list of mappings and
``<...>`` a key that is data: ``<level>`` a tail level written as in ``risk.levels`` ("0.99"),
``<position>`` a position name, ``<asset>`` an asset name (``es_by_asset`` also has groups such
as ``BTC+ETH``), ``<venue>``, ``<model>``, ``<column>``. `undescribed` finds the keys of a
result that no entry covers; the test suite runs it on a small run of every task.
"""

from __future__ import annotations

import re
from typing import Any

from mcrisk.tasks.allocate import FIELDS as ALLOCATE
from mcrisk.tasks.backtest import FIELDS as BACKTEST
from mcrisk.tasks.calibrate import FIELDS as CALIBRATE
from mcrisk.tasks.dynamic_hedge import FIELDS as DYNAMIC_HEDGE
from mcrisk.tasks.hedge import FIELDS as HEDGE

# Keys written by the command line for every task (the Python API returns the rest).
RUN = [
    ("notes", "list of strings: warnings and facts about the run (a repaired correlation, a "
              "violated Feller condition, an estimated market, a portfolio file and its hash, "
              "a hardware fallback, not-estimable intervals)"),
    ("seconds", "wall-clock seconds of the task (command line only)"),
    ("provenance.mcrisk", "mcrisk version (command line only, as is all of `provenance`)"),
    ("provenance.jax", "JAX version"),
    ("provenance.jaxlib", "jaxlib version"),
    ("provenance.python", "Python version"),
    ("provenance.platform", "operating system and machine"),
    ("provenance.device", "`platform:kind` of the first JAX device, e.g. `cpu:cpu`"),
    ("provenance.device_count", "number of JAX devices (all processes)"),
    ("provenance.local_device_count", "devices of this process, over which each chunk of "
                                      "paths and scenarios is split (`hardware.devices`)"),
    ("provenance.process_count", "JAX processes (1 unless `jax.distributed` was initialised)"),
    ("provenance.xla_flags", "the XLA_FLAGS the run started with (the CPU host device count "
                             "is set there), null when unset"),
    ("provenance.x64", "whether JAX's 64-bit mode was on"),
    ("provenance.prng_impl", "JAX PRNG implementation (derives the sample keys and the "
                             "streams other than the path normals)"),
    ("provenance.normals_generator", "generator and transform of the path normals "
                                     "(`mcrisk.random.normal_block`)"),
    ("provenance.threefry_partitionable", "JAX `jax_threefry_partitionable` flag"),
    ("provenance.dtype", "`sim.dtype`"),
    ("provenance.seed", "`sim.seed`"),
    ("provenance.config_hash", "first 16 hex digits of the SHA-256 of the resolved config"),
    ("provenance.hardware_notes", "list of strings: the device set-up notes (also in "
                                  "`notes`; `task=verify` leaves them out of its comparison)"),
    ("provenance.compile_cache", "directory of JAX's persistent compilation cache "
                                 "(`hardware.compile_cache`), null when off"),
    ("provenance.created", "UTC time the results were written (ISO 8601)"),
    ("partial", "true only in the results.json of an interrupted run, which then holds no "
                "estimate: `task`, `signal`, `progress`, `seconds`, `note`, and for a risk run "
                "streaming Parquet `files` and `rows_saved`"),
    ("signal", "interrupted run: `SIGINT` or `SIGTERM`"),
    ("note", "interrupted run: what was saved"),
    ("progress.phase", "interrupted run: the phase reached (pricing, Greeks, scenarios, ...)"),
    ("progress.chunks_done", "interrupted run: chunks of that phase finished"),
    ("progress.n_chunks", "interrupted run: chunks in that phase"),
    ("progress.<unit>_done", "interrupted run: paths or scenarios of that phase finished"),
    ("progress.phases_done", "interrupted run: list of the phases finished"),
    ("rows_saved.<file>", "interrupted risk run: rows in each streamed Parquet file, read "
                          "back from the file (`losses`, `paths`)"),
]

FACTS = [
    ("task", "the task that produced the result"),
    ("model", "`model.name`"),
    ("dtype", "`sim.dtype` (`float32` or `float64`)"),
    ("seed", "`sim.seed`"),
    ("n_paths", "`sim.n_paths`: paths (price) or scenarios (risk)"),
]

_GREEKS = [
    ("greeks.delta.<asset>", "d value / d spot of the asset (per 1 unit of spot)"),
    ("greeks.gamma.<asset>", "d² value / d spot² (own second derivative, per unit of spot²)"),
    ("greeks.vega.<asset>", "d value / d vol, per 1.00 of vol (divide by 100 for one vol "
                            "point); under heston/bates with respect to sqrt(v0)"),
    ("greeks.rho", "d value / d rate, per 1.00 of rate"),
    ("greeks.delta_stderr.<asset>", "standard error of `delta`"),
    ("greeks.gamma_stderr.<asset>", "standard error of `gamma`"),
    ("greeks.vega_stderr.<asset>", "standard error of `vega`"),
    ("greeks.rho_stderr", "standard error of `rho`"),
    ("greeks.cross_gamma.<asset>.<asset>", "d² value / d spot_i d spot_j, per unit of spot_i × "
                                           "spot_j, for each pair of the position's assets, the "
                                           "first in market order (only with "
                                           "`greeks.cross_gamma: true`, and for positions on "
                                           "two or more assets)"),
    ("greeks.cross_gamma_stderr.<asset>.<asset>", "standard error of `cross_gamma`"),
]

PRICE = FACTS + [
    ("positions[].name", "position name (`portfolio.positions[i].name`, default `<i>:<type>`)"),
    ("positions[].type", "position type"),
    ("positions[].assets", "list of the assets the position references"),
    ("positions[].quantity", "quantity (negative = short)"),
    ("positions[].venue", "venue, present only when the position has one"),
    ("positions[].unit_price", "Monte Carlo value of one unit"),
    ("positions[].unit_stderr", "standard error of `unit_price`"),
    ("positions[].value", "quantity × unit_price"),
    ("positions[].stderr", "standard error of `value`"),
    ("positions[].ci95", "[low, high]: value ± 1.96 stderr"),
] + [(f"positions[].{p}", m) for p, m in _GREEKS] + [
    ("book.value", "value of the book (all positions on the same paths)"),
    ("book.stderr", "standard error of the book value (includes the positions' correlation)"),
    ("book.ci95", "[low, high]: value ± 1.96 stderr"),
] + [(f"book.{p}", m + " (the book's, summed over positions)") for p, m in _GREEKS] + [
    ("n_samples", "independent samples (antithetic pairs count once)"),
    ("n_steps", "time steps actually simulated (event dates and `min_steps` included)"),
    ("antithetic", "`sim.antithetic`"),
    ("assets", "list of the market's asset names"),
    ("corr_repaired", "true when `market.corr_repair: nearest` replaced the matrix"),
    ("greeks_method", "how each Greek was estimated per payoff family (null without Greeks)"),
    ("units.<quantity>", "the unit of each reported quantity (`value`, `delta`, `gamma`, "
                         "`vega`, `rho`, `cross_gamma`): Greeks per 1.00 of their input "
                         "(`mcrisk.units`)"),
]

_VEGA = [
    ("vega_by_expiry.buckets", "only with `market.surface`: labels of the expiry buckets "
                               "(days to expiry; edges `market.surface.vega_buckets`, "
                               "default `<=7d`, `7-30d`, `30-90d`, `90-180d`, `>180d`)"),
    ("vega_by_expiry.book.<bucket>", "the book's vega per 1.00 of vol in the bucket: d value / "
                                     "d parallel shift of each contract's own surface vol, "
                                     "analytic from the closed forms (not the Monte Carlo "
                                     "prices, which are at the flat `market.vol`)"),
    ("vega_by_expiry.positions.<position>.<bucket>", "the same per surface-marked position "
                                                     "(quantity included)"),
    ("vega_by_expiry.not_marked", "positions without a surface vega (no Black-Scholes closed "
                                  "form: valued by Monte Carlo at the flat vol, or linear)"),
]

_ON_SURFACE = [
    ("on_surface.book", "only with `market.surface`: today's value of the book on the smile, "
                        "the sum of `on_surface.positions`"),
    ("on_surface.positions.<position>", "each closed-form position at its own contract's "
                                        "surface vol (quantity included); the others at their "
                                        "Monte Carlo `value` at the flat `market.vol`"),
    ("on_surface.method.<position>", "which of the two"),
]
PRICE = PRICE + _VEGA + _ON_SURFACE

_TAIL = [
    ("var.<level>", "Value-at-Risk: the ⌈n(1−a)⌉-th largest loss (loss = today's value − "
                    "value at the horizon; positive = money lost)"),
    ("es.<level>", "Expected Shortfall: mean of the ⌈n(1−a)⌉ largest losses"),
    ("var_ci.<level>", "[low, high]: distribution-free order-statistic interval of VaR "
                       "(`risk.ci_level`)"),
    ("es_ci.<level>", "[low, high]: ES interval (influence function, Student-t, Edgeworth "
                      "upper limit), or null when fewer than 20 tail scenarios"),
]

TODAY = [
    ("today.book", "today's book value"),
    ("today.positions.<position>", "today's value of each position"),
    ("today.stderr.<position>", "its standard error (0 for a closed form)"),
    ("today.method.<position>", "how it was found: `closed form` or `monte carlo (<n> paths, "
                                "...)`"),
]

STRESS = [
    ("stress[].name", "scenario name (`risk.stress[i].name`)"),
    ("stress[].spot_shock_pct.<asset>", "spot move in percent (−30 = −30%)"),
    ("stress[].vol_shock_pts.<asset>", "vol move in vol points (20 = +0.20 of vol)"),
    ("stress[].horizon", "years between today and the shocked revaluation"),
    ("stress[].loss", "book loss in the scenario (positive = money lost)"),
    ("stress[].loss_stderr", "its Monte Carlo standard error (0 when every position has a "
                             "closed form)"),
    ("stress[].by_position.<position>", "loss of each position"),
    ("stress[].by_position_stderr.<position>", "its standard error"),
]

_POINT = [
    ("asset", "the scanned asset (`per_asset` mode) or null (`joint`: all assets move)"),
    ("spot", "spot move as a fraction (−0.16 = −16%)"),
    ("vol", "absolute vol shift (0.10 = +10 vol points)"),
    ("weight", "weight of the loss (1, or `extreme_weight` for the extreme moves)"),
    ("loss", "book loss at the point, before the weight"),
    ("loss_stderr", "its Monte Carlo standard error"),
]

MARGIN = [
    ("margin", "null when `risk.margin.enabled` is false"),
    ("margin.requirement", "max(0, worst weighted loss) over the grid"),
    ("margin.requirement_stderr", "its standard error (a bound in `per_asset` mode)"),
    ("margin.revaluation_paths", "`risk.stress_paths` when a position needs Monte Carlo, "
                                 "else null"),
] + [(f"margin.worst_point.{k}", m + " (the point that sets the requirement)")
     for k, m in _POINT] + [(f"margin.points[].{k}", m) for k, m in _POINT] + [
    ("margin.vol_floored_points", "indices into `points` whose vol was floored at 0.01"),
    ("margin.notes", "list of strings about the grid (floored vols)"),
    ("margin.per_venue.<venue>", "requirement of each venue's positions alone"),
    ("margin.per_venue_stderr.<venue>", "its standard error"),
    ("margin.sum_of_venues", "sum of the per-venue requirements"),
    ("margin.cross_venue_saving", "sum_of_venues − requirement"),
    ("margin.grid.spot_range", "`risk.margin.spot_range`"),
    ("margin.grid.spot_steps", "`risk.margin.spot_steps`"),
    ("margin.grid.vol_shift", "`risk.margin.vol_shift`"),
    ("margin.grid.extreme_multiple", "`risk.margin.extreme_multiple`"),
    ("margin.grid.extreme_weight", "`risk.margin.extreme_weight`"),
    ("margin.grid.mode", "`risk.margin.mode` (`joint` or `per_asset`)"),
    ("margin.grid.vol_expiry_power", "`risk.margin.vol_expiry_power` (0: every expiry's vol "
                                     "moves by `vol_shift`)"),
]

_STATS = [
    ("n_scenarios", "scenarios"), ("mean", "mean loss"), ("stdev", "standard deviation"),
    ("skew", "skewness"), ("excess_kurtosis", "excess kurtosis"),
    ("worst_loss", "largest loss"), ("prob_loss", "fraction of scenarios with a loss > 0"),
]

RISK = FACTS + _TAIL + [
    ("horizon", "`risk.horizon` in years"),
    ("levels", "`risk.levels`"),
    ("dates", "revaluation dates in years: the horizon and `risk.dates`, sorted"),
    ("method", "`risk.method` (`full` or `delta_gamma`)"),
    ("inner_paths", "`risk.inner_paths` when a position is revalued by nested Monte Carlo, "
                    "else null"),
    ("measure", "`real-world (market.drift)` or `risk-neutral`; `history (<source>)` with "
                "`risk.scenarios`"),
    ("vol_dynamics", "`risk.vol_dynamics`"),
    ("scenario_source.source", "`risk.scenarios.source` (present unless it is `model`)"),
    ("scenario_source.prices", "`risk.scenarios.prices`: the price file"),
    ("scenario_source.window", "one-day returns looked back"),
    ("scenario_source.horizon_days", "days per scenario return"),
    ("scenario_source.n_scenarios", "scenarios revalued"),
    ("scenario_source.overlapping", "overlapping h-day returns (historical), else null"),
    ("scenario_source.age_weighting", "BRW lambda of the age weights, null: equal weights"),
    ("scenario_source.filter", "`ewma` or `garch` (filtered_historical), else null"),
    ("stats.effective_scenarios", "age-weighted scenarios: 1 / sum of squared weights"),
] + [(f"stats.{k}", m + " of the loss") for k, m in _STATS] + [
    ("stats.mean_stderr", "standard error of the mean loss"),
    ("histogram.edges", "bin edges of the loss histogram (`risk.histogram_bins` + 1)"),
    ("histogram.counts", "scenarios per bin"),
    ("histogram.below", "scenarios below the first edge"),
    ("histogram.above", "scenarios above the last edge"),
    ("nested_error", "null when no position is revalued by nested Monte Carlo"),
    ("nested_error.inner_paths", "`risk.inner_paths`"),
    ("nested_error.var_bias_removed.<level>", "inner-noise bias removed from VaR (half-"
                                              "sample jackknife), also added to `var_ci`"),
    ("nested_error.es_bias_removed.<level>", "the same for ES and `es_ci`"),
    ("nested_error.method", "how the bias was estimated (text)"),
    ("contributions", "per level, the tail's attribution; empty with "
                      "`risk.attribution: false`"),
    ("contributions.<level>.component_es.<position>", "mean loss of the position over the "
                                                      "ES tail scenarios; sums to ES"),
    ("contributions.<level>.component_var.<position>", "mean loss of the position over the "
                                                       "scenarios ranked around VaR"),
    ("contributions.<level>.var_window_sum", "sum of component VaR (close to VaR)"),
    ("contributions.<level>.incremental_es.<position>", "ES minus the ES without the "
                                                        "position"),
    ("contributions.<level>.es_by_asset.<asset>", "component ES summed by the assets a "
                                                  "position references (`BTC+ETH` groups)"),
    ("worst_scenarios[].scenario", "index of one of the five largest-loss scenarios"),
    ("worst_scenarios[].loss", "its book loss"),
    ("worst_scenarios[].by_position", "its loss per position; null with "
                                      "`risk.attribution: false` where the run kept no "
                                      "per-position losses (nothing nested, no profile)"),
    ("worst_scenarios[].by_position.<position>", "its loss per position"),
] + TODAY + [
    ("methods_at_horizon.<position>", "how the position is revalued at the horizon: "
                                      "`closed form (<kind>)`, `nested monte carlo` or "
                                      "`expired: realised payoff`"),
    ("profile", "present with `risk.dates`"),
    ("profile.dates", "profile dates in years"),
    ("profile.expected_exposure", "per date: E[max(book value, 0)]"),
    ("profile.expected_negative_exposure", "per date: E[max(−book value, 0)]"),
    ("profile.mean_value", "per date: mean book value"),
    ("profile.pfe_level", "`risk.pfe_level`"),
    ("profile.pfe", "per date: the `pfe_level` quantile of the book value"),
    ("profile.max_drawdown.mean", "mean over scenarios of the largest fall of the book "
                                  "value across the dates"),
    ("profile.max_drawdown.stdev", "its standard deviation"),
    ("profile.max_drawdown.q95", "its 95% quantile"),
    ("profile.max_drawdown.q99", "its 99% quantile"),
    ("profile.max_drawdown.worst", "its largest value"),
    ("profile.liquidation", "present with `risk.collateral` and `risk.maintenance_margin`"),
    ("profile.liquidation.collateral", "`risk.collateral`"),
    ("profile.liquidation.maintenance_margin", "`risk.maintenance_margin`"),
    ("profile.liquidation.probability", "probability of liquidation by the last date"),
    ("profile.liquidation.probability_by_date", "per date: probability of liquidation by "
                                                "then"),
    ("profile.liquidation.expected_time_given_liquidation", "mean liquidation date in years "
                                                            "given one, or null"),
    ("profile.nested_bias_corrected", "true when the inner-noise bias was removed from the "
                                      "profile"),
    ("delta_gamma", "present with `risk.method: delta_gamma`"),
    ("delta_gamma.var.<level>", "VaR of the delta-gamma-vega losses on the same scenarios"),
    ("delta_gamma.es.<level>", "their ES"),
    ("delta_gamma.var_error.<level>", "delta-gamma VaR − full-revaluation VaR"),
    ("delta_gamma.es_error.<level>", "delta-gamma ES − full-revaluation ES"),
] + [(f"delta_gamma.stats.{k}", m + " of the delta-gamma loss") for k, m in _STATS] + [
    ("delta_gamma.note", "what the approximation includes (text)"),
] + STRESS + MARGIN + [
    ("files", "list of the Parquet files written with `report.save_losses` / "
              "`report.save_paths` (command line only)"),
]

_RISK_UNITS = [("units.<quantity>", "the unit of each reported quantity, keyed by its result "
                                    "path (`losses`, `horizon`, `stress[].spot_shock_pct`, "
                                    "`margin.points[].vol`, ...; `mcrisk.units`)")]
STRESS_TASK = [f for f in FACTS] + TODAY + STRESS + MARGIN + _RISK_UNITS + _VEGA
RISK = RISK + _RISK_UNITS + _VEGA

CONVERGENCE = [f for f in FACTS if f[0] != "n_paths"] + [
    ("rows[].n_paths", "paths of this row (`convergence.n_paths`)"),
    ("rows[].book_value", "book value at that size"),
    ("rows[].book_stderr", "its standard error"),
    ("rows[].book_ci95", "[low, high]: value ± 1.96 stderr"),
] + [(f"rows[].{p}", m + " (with `convergence.risk`)") for p, m in _TAIL]

MODEL_RISK = [f for f in FACTS if f[0] != "model"] + [
    ("models.<model>.book_value", "book value under the model (`conf/model/<model>.yaml`)"),
    ("models.<model>.book_stderr", "its standard error"),
    ("models.<model>.positions.<position>", "each position's value under the model"),
] + [(f"models.<model>.{p}", m + " (with `model_risk.risk`)") for p, m in _TAIL]

VERIFY = [
    ("task", "`verify`"),
    ("run_dir", "the re-run folder"),
    ("original_task", "the task of the original run"),
    ("exact_match", "true when every number is bitwise equal"),
    ("same_device_and_dtype", "true when device, dtype, JAX version and x64 match the "
                              "original's provenance"),
    ("ok", "exact_match on the same setup, else max_rel_diff <= 1e-4"),
    ("n_mismatches", "fields that differ (numbers, and keys, lengths, types or strings)"),
    ("n_structural", "of those, differences in keys, list lengths, types or strings"),
    ("max_abs_diff", "largest absolute difference"),
    ("max_rel_diff", "largest relative difference"),
    ("mismatches", "list of every structural difference and the first 20 differing numbers "
                   "(empty when none differ)"),
    ("mismatches[].field", "path of a differing field"),
    ("mismatches[].kind", "`number`, `value` (a string or other non-number), `type`, `length`, "
                           "`missing` (not in the saved results) or `extra` (not in the re-run)"),
    ("mismatches[].detail", "the difference in words, re-run first: `'gbm' vs 'heston'`"),
    ("mismatches[].original", "its value in the original run"),
    ("mismatches[].rerun", "its value in the re-run"),
]

COLLECT = [
    ("task", "`collect`"),
    ("run_dir", "the multirun folder"),
    ("n_runs", "jobs collected"),
    ("files", "collected.csv, collected.parquet and, when there is a metric, collected.png"),
    ("rows[].<column>", "one row of collected.csv per job: `job`, `task`, each override "
                        "(typed as Hydra typed it), `model`, `dtype`, `n_paths`, `seed`, "
                        "`seconds`, `book_value`, `book_stderr`, `var_<level>`, "
                        "`var_<level>_lo`, `var_<level>_hi`, the same for `es`, "
                        "`margin_requirement`"),
]

TASKS: dict[str, list[tuple[str, str]]] = {
    "price": PRICE, "risk": RISK, "stress": STRESS_TASK, "convergence": CONVERGENCE,
    "model_risk": MODEL_RISK, "verify": VERIFY, "collect": COLLECT, "calibrate": CALIBRATE,
    "allocate": ALLOCATE,
    "dynamic_hedge": DYNAMIC_HEDGE,
    "backtest": BACKTEST,
    "allocate": ALLOCATE, "hedge": HEDGE,
}
INTRO = {
    "price": "`task=price`, `mcrisk.price(cfg)`: Monte Carlo value, error and Greeks per "
             "position and for the book.",
    "risk": "`task=risk`, `mcrisk.risk(cfg)`: horizon loss distribution, attribution, "
            "exposure profile, stress scenarios and margin. Loss = today's value − value at "
            "the date, positive when money is lost.",
    "stress": "`task=stress`, `mcrisk.stress(cfg)`: stress scenarios and the margin grid "
              "only.",
    "convergence": "`task=convergence`: book value (and VaR/ES) against `convergence.n_paths`.",
    "model_risk": "`task=model_risk`: the same book under each of `model_risk.models`.",
    "verify": "`task=verify run_dir=<run>`: a finished run re-run from its saved config.",
    "collect": "`task=collect run_dir=<multirun>` / `mcrisk-collect`: a sweep's jobs in "
               "one table.",
    "calibrate": "`task=calibrate quotes=<chain>`, `mcrisk.calibrate_surface(cfg)`: an "
                 "option chain read and an implied-vol surface fitted per underlying.",
    "allocate": "`task=allocate`: the mean-CVaR efficient frontier of a long-only portfolio "
                "of `allocation.assets`, and the best mean return under `allocation.cvar_cap`.",
    "dynamic_hedge": "`task=dynamic_hedge`: a book delta hedged along simulated paths under "
                     "each rebalancing rule of `dynamic_hedge.sweep`; P&L positive = gain.",
    "backtest": "`task=backtest`, `mcrisk.backtest(cfg)`: each model of `backtest.models` "
                "re-estimated on every day of a price history, its VaR/ES compared with the "
                "book's realised loss (positive = loss); `<model>` is a model name.",
    "hedge": "`task=hedge`: the static hedge of the book with `hedge.instruments` minimising "
             "ES, variance or the margin requirement, beside no hedge and the delta and "
             "delta-vega hedges, in and out of sample.",
}
PLACEHOLDERS = {"level": r"0\.\d+", "name": r"[a-z_]+"}


def fields(task: str) -> list[tuple[str, str]]:
    """Every documented path of a task's results.json, the command line's keys included."""
    return TASKS[task] + RUN


def leaves(result: Any, prefix: tuple = ()) -> list[tuple]:
    """Paths (tuples of keys, ``name[]`` for list elements) of a result's leaves and empty
    mappings."""
    if isinstance(result, dict):
        if not result:
            return [prefix]
        return [p for k, v in result.items() for p in leaves(v, prefix + (str(k),))]
    if isinstance(result, list) and result and all(isinstance(x, dict) for x in result):
        head = prefix[:-1] + (prefix[-1] + "[]",)
        return [p for x in result for p in leaves(x, head)]
    return [prefix]


def _pattern(doc_path: str) -> list[str]:
    parts = []
    for seg in doc_path.split("."):
        m = re.fullmatch(r"<(\w+)>", seg)
        parts.append(PLACEHOLDERS.get(m.group(1), r".+") if m else re.escape(seg))
    return parts


def undescribed(task: str, result: dict) -> list[str]:
    """Leaf paths of `result` that no documented field of `task` describes. A field covers
    its own path only, so a new key inside a documented section is still reported."""
    pats = [_pattern(p) for p, _ in fields(task)]
    missing = []
    for path in dict.fromkeys(leaves(result)):
        # An empty list of records (``stress: []``) is described by its elements' fields.
        listed = path[:-1] + (path[-1] + "[]",) if path else path
        if not any(len(p) == len(path) and all(re.fullmatch(s, k) for s, k in zip(p, path))
                   or len(p) > len(path) and all(re.fullmatch(s, k) for s, k in zip(p, listed))
                   for p in pats):
            missing.append(".".join(path))
    return missing


def render() -> str:
    """docs/results.md."""
    lines = ["# results.json, key by key", "",
             "Generated from `mcrisk/results_schema.py` (`python -m mcrisk.results_schema > "
             "docs/results.md`); `tests/unit/test_results_schema.py` fails when a small run "
             "of any task returns a key this page does not describe.", "",
             "`a.b` is key `b` inside `a`; `[]` is every element of a list; `<level>` is a "
             "tail level as written in `risk.levels` (`\"0.99\"`), `<position>` a position "
             "name, `<asset>` an asset, `<venue>` a venue, `<model>` a model name. Money is "
             "in the currency of `market.spot`. No number is ever NaN or infinite; null "
             "means \"not applicable\" or \"not estimable\", as stated. The Python API "
             "returns the same dict without the keys marked *command line only*. "
             "`mcrisk.to_frame(result, what)` turns sections into pandas DataFrames.", ""]
    for task, rows in TASKS.items():
        lines += [f"## {task}", "", INTRO[task], "", "| key | meaning |", "| --- | --- |"]
        lines += [f"| `{p}` | {m} |" for p, m in rows]
        lines.append("")
    lines += ["## Every task, written by the command line", "",
              "`mcrisk` adds these to every results.json; the Python API returns `notes` "
              "for price, risk and stress.", "",
              "| key | meaning |", "| --- | --- |"]
    lines += [f"| `{p}` | {m} |" for p, m in RUN]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
