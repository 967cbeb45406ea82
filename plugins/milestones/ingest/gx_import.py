"""Importing Great Expectations without the modules it loads for expectations this project never runs.

``import great_expectations`` imports every expectation and metric it ships, and three of
them (the KL-divergence expectation, the two Kolmogorov-Smirnov metrics) import
``scipy.stats`` and ``altair`` at module level: about a third of GX's import time (the
startup section of the README), for code our suite never calls. Before GX is first
imported, :func:`load` puts a stand-in for each of :data:`DEFERRED` in ``sys.modules``;
the real module is imported on the first use of one of its attributes (so a GX feature
that needs it still works, it only pays then), and from then on every import gets the
real module. Nothing else of GX is changed.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import threading
import types

#: Imported by GX at module level, used only inside functions we never call.
DEFERRED = ("scipy.stats", "altair", "boto3")


class Deferred(types.ModuleType):
    """A module imported on the first use of one of its attributes."""

    _lock = threading.RLock()  # one deferred module's import may use another's

    def __init__(self, name: str):
        super().__init__(name)
        self._real: types.ModuleType | None = None

    def _load(self) -> types.ModuleType:
        with self._lock:
            if self._real is None:
                if sys.modules.get(self.__name__) is self:
                    del sys.modules[self.__name__]
                self._real = importlib.import_module(self.__name__)
        return self._real

    def __getattr__(self, attr: str):
        # Only attributes a plain module lacks arrive here (not __name__, __dict__...),
        # so the import system's own look-ups (__path__, __spec__) load the module too.
        if attr == "_real":
            raise AttributeError(attr)
        return getattr(self._load(), attr)

    def __dir__(self):
        return dir(self._load())


def load() -> types.ModuleType:
    """``great_expectations``, imported (once) with :data:`DEFERRED` deferred and its logger at WARNING."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    if "great_expectations" not in sys.modules:
        for name in DEFERRED:
            spec = None if name in sys.modules else importlib.util.find_spec(name)
            if spec is not None:
                stand_in = Deferred(name)
                stand_in.__spec__ = spec  # what importlib.util.find_spec(name) answers meanwhile
                sys.modules[name] = stand_in
    import great_expectations

    return great_expectations
