"""Closed-form prices: batched over broadcast arguments, jitted, differentiable, dtype-preserving."""

from mcrisk.analytic import asian as asian
from mcrisk.analytic import barrier as barrier
from mcrisk.analytic import bs as bs
from mcrisk.analytic import heston as heston
from mcrisk.analytic import lookback as lookback
from mcrisk.analytic import margrabe as margrabe
from mcrisk.analytic import merton as merton
from mcrisk.analytic import stulz as stulz
