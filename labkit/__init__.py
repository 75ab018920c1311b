"""labkit: see event-driven architecture happen on a real Apache Kafka cluster.

The surface is small; heavy modules (pandas, matplotlib, ipywidgets) load on first use.
Layers, each importing only those below it: settings and errors; ``labkit.kafka`` (client
queries); ``labkit.cluster`` (backends); the domain (events, codec, scenarios); the toolkit
(producer, reader, services, dead letters, inspect, segments); ``labkit.lab`` (charts,
checks, exercises, controls) and the CLI::

    import labkit
    cluster = labkit.connect()                      # the lab's real Kafka cluster
    handle = labkit.produce("pizza", "orders", rate=50, seconds=10)
    df = labkit.read("orders")                      # a pandas DataFrame, always bounded
    state = labkit.replay("orders", fold, {})       # rebuild state from the log
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from labkit.cluster import Cluster, connect
from labkit.exceptions import LabkitError
from labkit.settings import KAFKA_VERSION, Settings

__version__ = "0.1.0"

_LAZY = {
    "produce": ("labkit.producer", "produce"),
    "produce_all": ("labkit.producer", "produce_all"),
    "read": ("labkit.reader", "read"),
    "replay": ("labkit.reader", "replay"),
    "get_scenario": ("labkit.scenarios", "get_scenario"),
    "LiveChart": ("labkit.lab.charts", "LiveChart"),
    "Service": ("labkit.services", "Service"),
    "members": ("labkit.members", None),
    "streams": ("labkit.streams", None),
    "charts": ("labkit.lab.charts", None),
    "check": ("labkit.lab.check", None),
    "controls": ("labkit.lab.controls", None),
    "inspect": ("labkit.inspect", None),
    "kafka": ("labkit.kafka", None),
    "segments": ("labkit.segments", None),
    "exceptions": ("labkit.exceptions", None),
    "failover": ("labkit.cluster.failover", None),
    "codec": ("labkit.codec", None),
    "events": ("labkit.events", None),
}

__all__ = ["KAFKA_VERSION", "Cluster", "LabkitError", "Settings", "connect", "scaled",
           *_LAZY]


def scaled(seconds: float) -> float:
    """A demo duration times ``LABKIT_TIME_SCALE`` (CI runs the same lessons faster)."""
    from labkit.validate import positive

    return Settings.from_env().scaled(positive("seconds", seconds))


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'labkit' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = importlib.import_module(module)
    value = getattr(value, attr) if attr else value
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if "IPython" in sys.modules:  # in a notebook: make %%solution available
    from labkit.lab.exercises import register as _register

    _register()
