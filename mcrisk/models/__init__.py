"""Model registry: name -> module with ``init`` and ``step``."""

from types import ModuleType

from mcrisk.models import bates, gbm, heston, merton

REGISTRY: dict[str, ModuleType] = {"gbm": gbm, "heston": heston, "merton": merton, "bates": bates}
