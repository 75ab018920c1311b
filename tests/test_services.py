"""labkit.Service against the real cluster: what it handles is what it commits."""

from __future__ import annotations

import pytest

import labkit
from labkit.exceptions import UsageError
from labkit.services import Service, ServiceError


def _fill(cluster: labkit.Cluster, topic: str, n: int) -> None:
    cluster.fresh_topic(topic, partitions=1)
    labkit.produce_all(labkit.get_scenario("pizza-accounts", seed=3, limit=n), topic,
                       cluster=cluster, progress=False)


def test_handles_everything_and_commits_it(cluster: labkit.Cluster, topic: str) -> None:
    _fill(cluster, topic, 40)
    seen: list[str] = []
    with Service(f"{topic}-g", topic, lambda ev: seen.append(ev.name), cluster=cluster) as svc:
        svc.wait_until_caught_up(30)
        assert svc.lag() == 0 and svc.committed_lag() == 0
    assert len(seen) == 40 and svc.handled == 40
    # a restarted service resumes after its commits: nothing is handled twice
    again: list[str] = []
    with Service(f"{topic}-g", topic, lambda ev: again.append(ev.name), cluster=cluster) as svc2:
        svc2.wait_until_caught_up(30)
    assert again == []


def test_a_failing_handler_stops_the_service_without_skipping_events(
    cluster: labkit.Cluster, topic: str
) -> None:
    _fill(cluster, topic, 30)
    count = {"n": 0}

    def handler(_ev: object) -> None:
        count["n"] += 1
        if count["n"] == 5:
            raise ValueError("the mail server is down")

    svc = Service(f"{topic}-g", topic, handler, cluster=cluster).start()
    with pytest.raises(ServiceError, match="the mail server is down"):
        svc.wait_until_caught_up(30)
    svc.stop()
    # the 5th event (offset 4) was not handled: the group's commit stops before it
    assert svc.committed_lag() == 30 - 4


def test_pause_stops_handling_and_resume_catches_up(cluster: labkit.Cluster, topic: str) -> None:
    _fill(cluster, topic, 20)
    svc = Service(f"{topic}-g", topic, cluster=cluster).start()
    try:
        svc.wait_until_caught_up(30)
        svc.pause()
        labkit.produce_all(labkit.get_scenario("pizza-accounts", seed=4, limit=25), topic,
                           cluster=cluster, progress=False)
        with pytest.raises(ServiceError, match="to catch up"):
            svc.wait_until_caught_up(3)
        assert svc.lag() == 25 and svc.running
        svc.resume()
        svc.wait_until_caught_up(30)
        assert svc.handled == 45
    finally:
        svc.stop()


def test_bad_start_is_refused() -> None:
    with pytest.raises(UsageError, match="use one of 'earliest', 'latest'"):
        Service("g", "t", start="yesterday")


def test_a_tombstone_reaches_the_handler_when_asked_for(cluster: labkit.Cluster,
                                                        topic: str) -> None:
    """A null value is handled as a "Tombstone" event (the deletion of its key), not as a
    bad record; a ``types`` filter without "Tombstone" ignores it."""
    from tests.conftest import produce_records

    _fill(cluster, topic, 5)
    produce_records(cluster, topic, [{"key": b"cust-00001", "value": None}])
    seen: list[tuple[str, bool]] = []
    with Service(f"{topic}-a", topic, lambda ev: seen.append((ev.name, ev.tombstone)),
                 types={"UserRegistered", "LoginCredentialsRequested", "Tombstone"},
                 cluster=cluster) as svc:
        svc.wait_until_caught_up(30)
    assert seen[-1] == ("Tombstone", True) and svc.handled == 6 and svc.bad == []
    with Service(f"{topic}-b", topic, types={"UserRegistered", "LoginCredentialsRequested"},
                 cluster=cluster) as other:
        other.wait_until_caught_up(30)
    assert other.handled == 5 and other.ignored == 1 and other.bad == []
