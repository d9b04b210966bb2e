"""Scenarios from a price history: historical simulation (HS) and filtered HS.

Host-side NumPy (and `arch` for GARCH): this runs before anything is traced, like the
config checks, and hands the risk engine relative spot moves to revalue in full.
"""

from mcrisk.history.filters import Filtered as Filtered
from mcrisk.history.filters import ewma_filter as ewma_filter
from mcrisk.history.filters import garch_filter as garch_filter
from mcrisk.history.returns import age_weights as age_weights
from mcrisk.history.returns import log_returns as log_returns
from mcrisk.history.scenarios import Scenarios as Scenarios
from mcrisk.history.scenarios import filtered_scenarios as filtered_scenarios
from mcrisk.history.scenarios import historical_scenarios as historical_scenarios
