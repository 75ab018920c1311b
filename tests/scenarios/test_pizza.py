"""The pizza-shop scenario: deterministic, valid, causally ordered, with honest poison."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime

import pytest

from labkit.codec import decode, decode_fast, encode
from labkit.events import CE_TYPES, KINDS, ORDER_LIFECYCLE, CustomerUpdated
from labkit.exceptions import DecodeError, SettingsError
from labkit.scenarios import (
    DEFAULT_START,
    POISON_KINDS,
    PizzaShop,
    ScenarioEvent,
    get_scenario,
    scenario_names,
)

LIFECYCLE = [m.ce_type for m in ORDER_LIFECYCLE]


def run(name: str = "pizza", **settings: object) -> list[ScenarioEvent]:
    return list(get_scenario(name, **settings))


def raw(events: list[ScenarioEvent]) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    return [(e.key, e.value, e.headers) for e in events]


@pytest.fixture(scope="module")
def shop() -> list[ScenarioEvent]:
    return run(seed=5, limit=4000)


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    a, b = run(seed=1, limit=600), run(seed=1, limit=600)
    assert raw(a) == raw(b)
    assert raw(run(seed=2, limit=600)) != raw(a)
    scenario = get_scenario("pizza", seed=1, limit=600)
    assert raw(list(scenario)) == raw(list(scenario.events())) == raw(a)  # restartable
    assert list(scenario.records()) == [e.record for e in a]


DIGEST = """
import hashlib, sys
from labkit.scenarios import get_scenario
h = hashlib.sha256()
for r in get_scenario("pizza", seed=3, limit=400, poison_fraction=0.1).records():
    h.update(r.key + r.value + b"".join(n.encode() + v for n, v in r.headers))
print(h.hexdigest())
"""


def test_same_bytes_in_another_process() -> None:
    h = hashlib.sha256()
    for r in get_scenario("pizza", seed=3, limit=400, poison_fraction=0.1).records():
        h.update(r.key + r.value + b"".join(n.encode() + v for n, v in r.headers))
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", DIGEST], capture_output=True, text=True,
                         env=env, check=True, timeout=120)  # fmt: skip
    assert out.stdout.strip() == h.hexdigest()


def test_records_are_what_the_sdk_encoder_makes(shop: list[ScenarioEvent]) -> None:
    for e in shop[:800]:
        assert e.event is not None
        ce_id = dict(e.headers)["ce_id"].decode()
        assert encode(e.event, time=e.time, id=ce_id) == e.record


def test_every_event_decodes_and_validates(shop: list[ScenarioEvent]) -> None:
    assert {e.type for e in shop} == set(CE_TYPES)  # the whole story is told
    for e in shop:
        assert e.poison is None and e.event is not None
        decoded = decode(e.value, e.headers, e.key)
        assert decoded.model() == e.event
        assert decoded.time == e.time == DEFAULT_START + (e.time - DEFAULT_START)
        assert e.key == e.event.key.encode()
        assert e.kind == e.event.kind
    assert len({dict(e.headers)["ce_id"] for e in shop}) == len(shop)  # ids are unique


def test_time_never_goes_backwards(shop: list[ScenarioEvent]) -> None:
    times = [e.at for e in shop]
    assert times == sorted(times)
    assert shop[0].time >= DEFAULT_START


def test_each_order_follows_its_lifecycle(shop: list[ScenarioEvent]) -> None:
    stages: dict[bytes, list[str]] = defaultdict(list)
    for e in shop:
        if e.kind == "orders":
            stages[e.key].append(e.type)
    assert sum(s == LIFECYCLE for s in stages.values()) > 50  # many complete orders
    for key, seen in stages.items():
        assert seen == LIFECYCLE[: len(seen)], (key, seen)


def test_customer_stories_are_in_causal_order(shop: list[ScenarioEvent]) -> None:
    registered: set[str] = set()
    versions: dict[str, int] = defaultdict(int)
    placed: set[str] = set()
    for e in shop:
        data = e.event.model_dump() if e.event else {}
        if e.type == "pizza.user.registered":
            assert data["customer_id"] not in registered
            registered.add(data["customer_id"])
        elif e.kind in ("accounts", "customers", "emails"):
            assert data["customer_id"] in registered, e.type
        if isinstance(e.event, CustomerUpdated):
            assert e.event.version == versions[e.event.customer_id] + 1
            versions[e.event.customer_id] = e.event.version
        if e.type == "pizza.cart.checked_out":  # only customers with a profile order
            assert versions[data["customer_id"]] >= 1
        if e.type == "pizza.order.placed":
            placed.add(data["order_id"])
        if e.type == "pizza.email.sent" and data["template"] == "order_confirmation":
            assert data["order_id"] in placed
    assert len(registered) == 50 and max(versions.values()) >= 3


def test_customers_setting_bounds_the_sign_ups() -> None:
    events = run(seed=9, customers=5, limit=800)
    ids = {e.key for e in events if e.type == "pizza.user.registered"}
    assert ids == {f"cust-{i:05d}".encode() for i in range(1, 6)}
    buyers = {e.event.model_dump()["customer_id"] for e in events if e.type == LIFECYCLE[0]}
    assert buyers and buyers <= {i.decode() for i in ids}


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("accounts", "customers")])
def test_kinds_are_exact_subsequences_of_the_whole_shop(kind: str) -> None:
    whole = [e for e in run(seed=4, limit=3000) if e.kind == kind]
    part = run(seed=4, kinds=[kind], limit=len(whole))
    assert raw(part) == raw(whole)
    assert {e.kind for e in part} == {kind}


def test_the_accounts_alone_are_the_account_story_only() -> None:
    # no order, profile change or email is simulated for a scenario that shows only accounts
    part = run(seed=4, kinds=["accounts"], limit=3000)
    signed: dict[str, str] = {}
    for e in part:
        assert e.event is not None
        data = e.event.model_dump(mode="json")
        if e.type == "pizza.user.registered":
            signed[data["customer_id"]] = data["email"]
        else:  # a request for login credentials: a customer signed up before, her address
            assert signed[data["customer_id"]] == data["email"], data
    assert len(signed) == 50 and len(part) == 3000
    whole = [e for e in run(seed=4, limit=3000) if e.kind == "accounts"]
    assert part[0].key == b"cust-00001" and part[0].at == 0.0  # the shop opens
    assert raw(part[:len(whole)]) != raw(whole)  # a shop with orders draws other numbers
    for other in ({"orders_per_minute": 0}, {"burst_every": 60}, {"updates_per_minute": 0}):
        assert raw(run(seed=4, kinds=["accounts"], limit=500, **other)) == raw(part[:500])


def test_the_customers_alone_are_the_customer_story_only() -> None:
    # no login or email is simulated, and an order is only its delivery (for the tiers)
    part = run(seed=4, kinds=["customers"], limit=3000)
    by_customer: dict[str, list[dict]] = defaultdict(list)
    for e in part:
        assert e.event is not None and e.type == "pizza.customer.updated"
        by_customer[e.key.decode()].append(e.event.model_dump(mode="json"))
    assert len(by_customer) == 50
    for updates in by_customer.values():
        assert [u["version"] for u in updates] == list(range(1, len(updates) + 1))
        assert updates[0]["changed"] == ["name", "email", "address", "phone"]
        tiers = [u["loyalty_tier"] for u in updates if u["changed"] == ["loyalty_tier"]]
        assert tiers == ["bronze", "silver", "gold"]  # 2, 5 and 10 deliveries: each customer
    whole = [e for e in run(seed=4, limit=3000) if e.kind == "customers"]
    assert raw(part[:len(whole)]) != raw(whole)  # a shop with logins draws other numbers
    for other in ({"logins_per_minute": 0}, {"burst_every": 60}):
        assert raw(run(seed=4, kinds=["customers"], limit=500, **other)) == raw(part[:500])


def test_named_variants() -> None:
    assert {"pizza", "pizza-accounts", "pizza-customers", "pizza-orders"} <= set(scenario_names())
    accounts = run("pizza-accounts", seed=2, limit=200)
    assert {e.type for e in accounts} == {
        "pizza.user.registered",
        "pizza.user.login_credentials_requested",
    }
    assert {e.type for e in run("pizza-customers", seed=2, limit=200)} == {"pizza.customer.updated"}
    assert {e.type for e in run("pizza-orders", seed=2, limit=500)} == set(LIFECYCLE)


def test_limit_and_duration() -> None:
    assert len(run(limit=123)) == 123
    assert run(limit=0) == []
    timed = run(limit=None, duration=120.0)
    assert timed and all(e.at <= 120.0 for e in timed)
    assert timed[-1].at > 110.0
    assert len(run(limit=50, duration=120.0)) == 50


def test_poison_fraction_is_roughly_honoured() -> None:
    events = run(seed=8, limit=5000, poison_fraction=0.2)
    pills = [e for e in events if e.poison]
    assert 0.17 < len(pills) / len(events) < 0.23
    assert set(Counter(e.poison for e in pills)) == set(POISON_KINDS)
    real_keys = {e.key for e in events if not e.poison}
    assert sum(e.key in real_keys for e in pills) > 0.9 * len(pills)  # keyed like real events
    assert all(e.event is None and e.type == f"poison:{e.poison}" for e in pills)
    assert not [e for e in run(seed=8, limit=2000) if e.poison]


def test_every_poison_pill_is_rejected() -> None:
    for e in run(seed=6, limit=3000, poison_fraction=0.1):
        if not e.poison:
            continue
        with pytest.raises(DecodeError):
            decode(e.value, e.headers, e.key, where="t[0]@1")
        if e.poison == "bad-data":
            with pytest.raises(DecodeError, match="does not fit"):
                decode_fast(e.value, e.headers, e.key).model()
        else:
            with pytest.raises(DecodeError):
                decode_fast(e.value, e.headers, e.key)


def test_bursts_bring_a_rush_of_orders() -> None:
    def checkouts_in_rush(events: list[ScenarioEvent]) -> int:
        return sum(1 for e in events if e.type == "pizza.cart.checked_out" and 180 <= e.at <= 190)

    calm = run(seed=3, limit=None, duration=200.0)
    rush = run(seed=3, limit=None, duration=200.0, burst_every=180.0, burst_size=60)
    assert checkouts_in_rush(calm) < 15
    assert checkouts_in_rush(rush) >= 60


def test_settings_rebuild_the_same_scenario() -> None:
    s = get_scenario("pizza-orders", seed=12, limit=300, poison_fraction=0.05)
    assert s.settings()["kinds"] == ("orders",)
    again = PizzaShop(**s.settings())
    assert raw(list(again)) == raw(list(s))
    assert "PizzaShop(seed=12" in repr(s)


@pytest.mark.parametrize(
    ("name", "settings", "needle"),
    [
        ("pasta", {}, "unknown scenario 'pasta'; known: pizza"),
        ("pizza", {"colour": "red"}, "no setting colour"),
        ("pizza-orders", {"kinds": ["accounts"]}, "fixes kinds"),
        ("pizza", {"kinds": ["pizzas"]}, "kinds="),
        ("pizza", {"kinds": []}, "kinds="),
        ("pizza", {"poison_fraction": 0.9}, "poison_fraction=0.9"),
        ("pizza", {"customers": 0}, "customers=0"),
        ("pizza", {"seed": -1}, "seed=-1"),
        ("pizza", {"seed": "abc"}, "seed='abc'"),
        ("pizza", {"limit": 1.5}, "limit=1.5"),
        ("pizza", {"duration": float("nan")}, "duration=nan"),
        ("pizza", {"start": datetime(2025, 1, 1)}, "timezone-aware"),
        ("pizza", {"orders_per_minute": -1}, "orders_per_minute=-1"),
    ],
)
def test_bad_settings(name: str, settings: dict[str, object], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle.replace("(", r"\(")) as info:
        get_scenario(name, **settings)
    assert "\n" not in str(info.value)


def test_importing_scenarios_stays_light() -> None:
    code = (
        "import sys, labkit.scenarios, labkit.codec, labkit.events\n"
        "print(sorted(m for m in ('pandas', 'confluent_kafka', 'cloudevents') "
        "if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True, timeout=120)  # fmt: skip
    assert out.stdout.strip() == "[]"


def test_round_ms_is_round_to_3_places() -> None:
    import random

    from labkit.scenarios.menu import round_ms

    rng = random.Random(5)
    samples = [rng.uniform(0, 10.0 ** rng.randint(0, 9)) for _ in range(200_000)]
    samples += [k / 1000 + d for k in range(0, 5000) for d in (0.0005, -0.0005, 5e-7, 0.0)]
    samples += [0.0, 1e8 - 0.0005, 1e8, 1e8 + 0.0005, 2e9 + 0.1235, 1e15 + 0.5]
    for x in samples:
        assert round_ms(x) == round(x, 3), x
