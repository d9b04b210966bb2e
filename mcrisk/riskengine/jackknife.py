"""Half-sample jackknife of nested Monte Carlo: the inner-noise bias of tail metrics and
exposures, estimated from the two halves of the inner paths and removed."""

from __future__ import annotations

import numpy as np

from mcrisk.riskengine.results import NestedError, TailResult


def jackknife(full, half_a, half_b):
    """2 x full - mean of the halves, leaf by leaf (elementwise in arrays) through
    NamedTuples, tuples, lists and dicts (None where any of the three is None; equal leaves
    come back unchanged)."""
    if isinstance(full, dict):
        return {k: jackknife(full[k], half_a[k], half_b[k]) for k in full}
    if isinstance(full, tuple) and hasattr(full, "_fields"):
        return type(full)(*(jackknife(*x) for x in zip(full, half_a, half_b)))
    if isinstance(full, (list, tuple)):
        return type(full)(jackknife(*x) for x in zip(full, half_a, half_b))
    if full is None or half_a is None or half_b is None:
        return None
    if isinstance(full, np.ndarray):
        same = (full == half_a) & (half_a == half_b)
        return np.where(same, full, 2.0 * full - 0.5 * (half_a + half_b))
    if full == half_a == half_b:
        return full
    return 2.0 * full - 0.5 * (half_a + half_b)


def nested_correction(out: TailResult, halves: list[TailResult],
                      inner_paths: int) -> tuple[TailResult, NestedError]:
    """Remove the inner-noise bias from VaR and ES of `out`; return the corrected result and
    the bias estimate.

    A scenario's nested loss is the true loss plus independent noise of variance
    s^2/inner_paths, which widens the tail: VaR and ES are biased by c/inner_paths +
    O(1/inner_paths^2) (Gordy and Juneja 2010). Revalued with either half of the inner paths
    the bias doubles, so b = mean(metric of the halves) - metric of all paths estimates it,
    and metric - b is unbiased to O(1/inner_paths^2) (the jackknife of the same paper). The
    interval is the outer one shifted by -b and widened by |b| on each side: the error of
    the bias estimate, taken as large as the bias itself.
    """
    metrics, var_bias, es_bias = [], [], []
    for j, t in enumerate(out.metrics):
        a, b_ = halves[0].metrics[j], halves[1].metrics[j]
        bv = 0.5 * (a.var + b_.var) - t.var
        be = 0.5 * (a.es + b_.es) - t.es
        metrics.append(t._replace(var=t.var - bv, es=t.es - be,
                                  var_ci=_shifted(t.var_ci, bv), es_ci=_shifted(t.es_ci, be)))
        var_bias.append(bv)
        es_bias.append(be)
    return out._replace(metrics=tuple(metrics)), NestedError(
        inner_paths, np.array(var_bias), np.array(es_bias),
        "independent inner paths per scenario, shared with the scenario's own estimate of "
        "today's value; inner-noise bias of VaR/ES removed by the half-sample jackknife "
        "(Gordy-Juneja); intervals widened by the bias removed")


def _shifted(ci, b):
    if ci is None:  # None: too few tail scenarios to estimate
        return None
    lo, hi = ci
    return (lo - b - abs(b), hi - b + abs(b))
