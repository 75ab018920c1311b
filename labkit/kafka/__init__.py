"""Client-side Kafka queries, the one place labkit asks Kafka about topics, offsets and
groups, and reads a topic back (bounded). Every function takes a *connection*: a
:class:`labkit.Cluster`, or anything with ``config()`` and ``admin()``.

>>> from labkit import kafka
>>> kafka.partition_ids(cluster, "orders")              # [0, 1, 2]
>>> kafka.offsets(cluster, "orders", "latest")          # {0: 120, 1: 98, 2: 131}
>>> kafka.watermarks(cluster, [("orders", 0)])          # log-start and high watermark
>>> kafka.committed(cluster, "billing", "orders")       # {("orders", 0): 120, ...}
>>> kafka.lag(cluster, "billing", "orders")             # {0: 0, 1: 3, 2: 0}

This layer knows Kafka clients only: it imports nothing from the backends
(:mod:`labkit.cluster`) nor from anything above.
"""

from __future__ import annotations

from labkit.kafka.clients import QUIET, TIMEOUT, Connection
from labkit.kafka.groups import (
    Progress,
    committed,
    delete_groups,
    group_ids,
    lag,
    progress,
    require,
    reset,
)
from labkit.kafka.groups import describe as describe_group
from labkit.kafka.groups import exists as group_exists
from labkit.kafka.offsets import Spec, Watermarks, offsets, offsets_for_time, watermarks
from labkit.kafka.ranges import BoundedReader, Position, Ranges
from labkit.kafka.topics import (
    create_topic,
    delete_topics,
    ensure_topic,
    fresh_topic,
    lab_topics,
    listing,
    metadata,
    partition_ids,
    topic_configs,
)
from labkit.kafka.topics import describe as describe_topic
from labkit.kafka.topics import exists as topic_exists

__all__ = [
    "QUIET",
    "TIMEOUT",
    "BoundedReader",
    "Connection",
    "Position",
    "Progress",
    "Ranges",
    "Spec",
    "Watermarks",
    "committed",
    "create_topic",
    "delete_groups",
    "delete_topics",
    "describe_group",
    "describe_topic",
    "ensure_topic",
    "fresh_topic",
    "group_exists",
    "group_ids",
    "lab_topics",
    "lag",
    "listing",
    "metadata",
    "offsets",
    "offsets_for_time",
    "partition_ids",
    "progress",
    "require",
    "reset",
    "topic_configs",
    "topic_exists",
    "watermarks",
]
