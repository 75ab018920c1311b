"""The scenarios' fast path (plain dicts, orjson, header templates, no models): the same
bytes as the model path and as before it existed, and every record valid."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from labkit.codec import decode_fast
from labkit.events import CE_TYPES
from labkit.scenarios import get_scenario, scenario_names
from labkit.scenarios.fast import Clock, time_text, uuid4_text

# sha256 of the records (and kind, at, time, poison) made by the model-only generator before
# the fast path existed (commit 3a71bb4): the fast path changed no byte.
PINNED = [
    ("pizza", {"seed": 3, "limit": 400, "poison_fraction": 0.1},
     "e37a957b4d7f032ae4735d28acea5114ea1914f868b62f473cfe077f78646798"),
    ("pizza", {"seed": 7, "limit": 5000, "burst_every": 60, "burst_size": 10, "customers": 200},
     "0ad99eb6c3829899b3505bc89d80d69b0b4871c63f579db2c98e01f39df3c38f"),
    ("pizza", {"seed": 9, "limit": 3000, "start": datetime(2024, 3, 1, 8, 30, 15, 250000,
                                                           tzinfo=timezone(timedelta(hours=2)))},
     "f3e57871b9b95c40605fe66f211a0fec8fcd8cab5e2447549037ca2e217e3502"),
    ("pizza", {"seed": 4, "duration": 900, "limit": None, "poison_fraction": 0.3},
     "6beb1fb9a4de0afa223170daeead21d34aa243c635fec44b547db3629d450fe2"),
    ("pizza-orders", {"seed": 2, "limit": 5000},
     "eade9a8162b833679fe89982ee215437ba76635f04b737b81e55f57cce61ca17"),
    # changed on purpose (issue 10): the accounts alone are simulated without orders, and
    # since 2026-12-04 without profile changes and emails either (was 45370a2d8c68...)
    ("pizza-accounts", {"seed": 2, "limit": 300},
     "7c37d064d7e9758e96dffa785f4605a5474c84951df48f1d5d21e29c77aaa310"),
    # changed on purpose (issue 10, 2026-12-04): the customers alone are simulated without
    # logins and emails, an order as its delivery only (was 6dfedda040f3...)
    ("pizza-customers", {"seed": 2, "limit": 300, "customers": 500},
     "d003251b9d8afe0ffbcba5848759fa84dec0ef3dea29b1fcf66914719c92002d"),
]


@pytest.mark.parametrize(("name", "settings", "digest"), PINNED)
def test_bytes_are_those_of_the_model_only_generator(name: str, settings: dict, digest: str
                                                     ) -> None:
    h = hashlib.sha256()
    for e in get_scenario(name, **settings):
        r = e.record
        h.update(r.key + b"|" + r.value + b"|"
                 + b"".join(n.encode() + b"=" + v + b";" for n, v in r.headers))
        h.update(repr((e.kind, e.at, e.time.isoformat(), e.poison)).encode())
    assert h.hexdigest() == digest


@pytest.mark.parametrize("name", sorted(scenario_names()))
def test_fast_path_and_model_path_make_identical_records(name: str) -> None:
    scenario = get_scenario(name, seed=13, limit=3000, poison_fraction=0.05, burst_every=300)
    fast, slow = list(scenario.events()), list(scenario.events(check=True))
    assert [e.record for e in fast] == [e.record for e in slow]
    assert [(e.kind, e.at, e.time, e.poison, e.type) for e in fast] == [
        (e.kind, e.at, e.time, e.poison, e.type) for e in slow]
    assert [e.event for e in fast] == [e.event for e in slow]  # validated on first use


def test_a_large_sample_is_valid_for_the_models() -> None:
    seen = set()
    for e in get_scenario("pizza", seed=21, limit=60_000, customers=400):
        model = CE_TYPES[dict(e.headers)["ce_type"].decode()]
        event = model.model_validate_json(e.value)  # the pydantic model accepts the data
        assert event.__pydantic_serializer__.to_json(event) == e.value  # and writes it back
        assert e.key == event.key.encode() == dict(e.headers)["ce_subject"]
        assert decode_fast(e.value, e.headers, e.key).type == model.ce_type
        seen.add(model)
    assert seen == set(CE_TYPES.values())


def test_clock_text_is_the_codec_s_text() -> None:
    for start in (datetime(2025, 1, 6, 11, 0, tzinfo=UTC),
                  datetime(2024, 2, 28, 23, 59, 59, 999000, tzinfo=timezone(timedelta(hours=-5)))):
        clock = Clock(start)
        for at in (0.0, 0.001, 0.999, 1.0, 59.999, 60.0, 3599.5, 86_400.25, 31_536_000.125,
                   1e8 + 0.5, 2e9):
            want = time_text((start + timedelta(seconds=at)).astimezone(UTC))
            assert clock.text(at).decode() == want, (start, at)


def test_uuid4_text_is_uuid_s() -> None:
    import random
    import uuid

    rng = random.Random(1)
    for bits in [0, 2**128 - 1, *(rng.getrandbits(128) for _ in range(2000))]:
        assert uuid4_text(bits) == str(uuid.UUID(int=bits, version=4))
