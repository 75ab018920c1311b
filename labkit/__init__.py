"""labkit: see event-driven architecture happen on a real Apache Kafka cluster.

The public surface is small; heavy modules (pandas, matplotlib) load only when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labkit.cluster import Cluster, connect
from labkit.exceptions import LabkitError
from labkit.settings import KAFKA_VERSION, Settings

__all__ = ["KAFKA_VERSION", "Cluster", "LabkitError", "Settings", "connect"]
__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    pass


def __getattr__(name: str) -> Any:
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")
