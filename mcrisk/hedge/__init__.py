"""Hedging: dynamic delta (and delta–gamma) hedging of a European book along simulated paths,
and a deep hedge (`mcrisk.hedge.deep`) trained and evaluated on the same paths; static hedges
of a book: scenario losses of book and candidates (`scenarios`), the optimiser (`static`),
the delta and delta-vega baselines (`baselines`) and the whole run (`optimal.optimise`)."""

from mcrisk.hedge.dynamic import HedgeArrays as HedgeArrays
from mcrisk.hedge.dynamic import HedgeSpec as HedgeSpec
from mcrisk.hedge.dynamic import PathResult as PathResult
from mcrisk.hedge.dynamic import hedge_along as hedge_along
from mcrisk.hedge.dynamic import make as make
from mcrisk.hedge.dynamic import simulate as simulate
from mcrisk.hedge.summary import run as run
from mcrisk.hedge.summary import summarize as summarize
