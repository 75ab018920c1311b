"""Cluster.config: Kafka's own keys as they are, keyword arguments rewritten (and only that)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.cluster.external import ExternalCluster
from labkit.exceptions import UsageError
from labkit.settings import Settings


def _cluster(tmp_path: Path) -> ExternalCluster:
    return ExternalCluster(Settings(home=tmp_path, bootstrap_servers="h:9092"))


def test_keywords_become_kafka_keys_and_a_dict_is_kept(tmp_path: Path) -> None:
    c = _cluster(tmp_path)
    conf = c.config({"auto.offset.reset": "earliest"}, group_id="g", enable_auto_commit=False,
                    on_delivery=print, **{"linger.ms": 5})
    assert conf == {"bootstrap.servers": "h:9092", "auto.offset.reset": "earliest",
                    "group.id": "g", "enable.auto.commit": False, "on_delivery": print,
                    "linger.ms": 5}


def test_a_dict_with_python_style_keys_names_the_kafka_key(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"'group_id' is not a Kafka client setting.*'group\.id'"):
        _cluster(tmp_path).config({"group_id": "g"})


def test_the_same_setting_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"'group\.id' is given twice"):
        _cluster(tmp_path).config({"group.id": "a"}, group_id="b")
