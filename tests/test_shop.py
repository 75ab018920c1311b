"""labkit.shop (the capstone's background services) and labkit.lab.opscheck (its operations
helpers and checks). Unit tests first; then the shop against the real cluster, with a kitchen
written here in a few lines, as the lesson's student writes one."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

import labkit
from labkit.exceptions import UsageError
from labkit.kafka.topics import topic_configs
from labkit.lab import opscheck
from labkit.scenarios.menu import PRICES
from labkit.shop import SCHEMA, SERVED, Shop, Topics, price


def test_topics_are_named_after_the_prefix() -> None:
    t = Topics.named("lesson10")
    assert t.orders == "lesson10.orders" and t.dead_letters == "lesson10.orders.dlq"
    assert len(set(vars(t).values())) == 7


def test_price_reads_a_sales_key_with_spaces_in_the_pizza_name() -> None:
    assert price("quattro formaggi large") == PRICES["quattro formaggi", "large"]
    assert price("margherita small") == PRICES["margherita", "small"]


def test_some_cities_are_outside_the_delivery_area() -> None:
    from labkit.scenarios.menu import CITIES

    assert 0 < len(SERVED) < len(CITIES)


def test_shop_refuses_nonsense() -> None:
    with pytest.raises(UsageError):
        Shop("x", orders=0, seconds=1, database="x.db")
    with pytest.raises(UsageError):
        Shop("x", orders=1, seconds=-1, database="x.db")


def test_the_storefront_writes_each_change_and_its_event_in_one_transaction(
        tmp_path: Path) -> None:
    shop = Shop("unit", orders=30, seconds=0.01, database=tmp_path / "shop.db", customers=4)
    with shop._db() as db:
        db.executescript(SCHEMA)
    shop._storefront()
    orders = shop.placed_orders()
    with shop._db() as db:
        events = [json.loads(v) for (v,) in db.execute("SELECT value FROM outbox")]
    placed = {e["order_id"]: e for e in events if e["type"] == "OrderPlaced"}
    assert shop.placed == 30 and set(placed) == set(orders)
    for order_id, total in orders.items():  # the total is the sum of the menu's prices
        items = placed[order_id]["items"]
        assert total == placed[order_id]["total"] == round(sum(i["price"] for i in items), 2)
    latest = {}
    for e in events:
        if e["type"] == "CustomerUpdated":
            latest[e["customer_id"]] = {k: e[k] for k in ("name", "city", "street", "version")}
    table = {k: {f: v[f] for f in ("name", "city", "street", "version")}
             for k, v in shop.customer_table().items()}
    assert latest == table  # the outbox's latest version of each customer is the table


def test_comments_explain_the_settings_below_them() -> None:
    text = "# one\n# two\na=1\nb=2\n# three\nc=3\n"
    assert opscheck._explained(text) == {"a": ("1", "one two"), "b": ("2", "one two"),
                                         "c": ("3", "three")}


def test_design_choices_against_the_hashed_key() -> None:
    wrong = opscheck.design_choices({n: "notification" for n in range(1, 6)})
    assert not wrong and "think again" in wrong.message
    assert not opscheck.design_choices({1: "outbox"})  # four missing
    with pytest.raises(UsageError):
        opscheck.design_choices({1: "a queue"})
    right = {1: "state transfer", 2: "outbox", 3: "event sourcing", 4: "stream processing",
             5: "share group"}
    assert opscheck.design_choices(right)


# -- against the real cluster ----------------------------------------------------------------
def _kitchen(cluster: labkit.Cluster, shop: Shop, stop: threading.Event) -> None:
    """A minimal cook: every OrderPlaced becomes a PizzaBaked; not JSON goes to the DLQ."""
    from confluent_kafka import Consumer, Producer

    t = shop.topics
    consumer = Consumer(cluster.config(group_id="test-shop.kitchen", auto_offset_reset="earliest",
                                       enable_auto_commit=False))
    producer = Producer(cluster.config(acks="all", enable_idempotence=True))
    try:
        consumer.subscribe([t.orders])
        while not stop.is_set():
            batch = [m for m in consumer.consume(100, timeout=0.2) if not m.error()]
            for msg in batch:
                try:
                    order = json.loads(msg.value())
                except ValueError:
                    producer.produce(t.dead_letters, value=msg.value())
                    continue
                producer.produce(t.kitchen, key=msg.key(),
                                 value=json.dumps({**order, "type": "PizzaBaked"}))
            if batch:
                producer.flush(30)
                consumer.commit(asynchronous=False)
    finally:
        consumer.close()


def test_the_shop_delivers_or_refunds_every_order(cluster: labkit.Cluster,
                                                  tmp_path: Path) -> None:
    shop = Shop("test-shop", orders=40, seconds=4, database=tmp_path / "shop.db", cluster=cluster)
    cluster.reset("test-shop.")
    t = shop.create_topics()
    stop = threading.Event()
    cook = threading.Thread(target=_kitchen, args=(cluster, shop, stop), daemon=True)
    cook.start()
    try:
        shop.start()
        where = shop.inject_poison()
        cluster.wait_for("every order placed and published", shop.done, timeout=60)
        placed = shop.placed_orders()
        cluster.wait_for("every order delivered or refunded",
                         lambda: shop.delivered == set(placed) or shop.errors, timeout=60)
        shop.raise_for_errors()
        shop.add_terms_step()
        cluster.wait_for("the terms step to read every order",
                         lambda: shop.terms_seen == set(placed), timeout=60)
        cluster.wait_for("delivery's copy to catch up", shop.copy_caught_up, timeout=30)
    finally:
        stop.set()
        cook.join(30)
        shop.stop()
    assert shop.skipped["terms: not JSON"] == 1 and where[1] >= 0
    outcomes = labkit.read(t.deliveries, decode=False)["value"].map(json.loads)
    by_order = {e["order_id"]: e["type"] for e in outcomes}
    assert by_order.keys() == placed.keys()
    assert set(by_order.values()) <= {"OrderDelivered", "OrderCompensated"}
    refunded = {e["customer_id"] for e in outcomes if e["type"] == "OrderCompensated"}
    never_moved = {k for k, v in shop.copy.items() if v["version"] == 1}
    assert all(shop.copy[c]["city"] not in SERVED for c in refunded & never_moved)
    sales = labkit.read(t.sales, decode=False)
    revenue = sum(price(k.decode()) for k in sales["key"])
    assert round(revenue, 2) == round(sum(e["total"] for e in outcomes
                                          if e["type"] == "OrderDelivered"), 2)
    in_log = {json.loads(v)["event_id"] for v in labkit.read(t.orders, decode=False)["value"]
              if v != b'{"type": "OrderPl'}  # all but the poison record
    assert {e for e in shop.acked if e.endswith("-placed")} <= in_log
    assert shop.under_replicated() == 0
    cluster.reset("test-shop.")


def test_log_dirs_reports_every_replica(cluster: labkit.Cluster) -> None:
    topic = cluster.fresh_topic("test-opscheck.logdirs", partitions=2)
    dirs = opscheck.log_dirs(topic)
    replicas = 3 if len(cluster.nodes) >= 3 else 1  # the lab's default replication factor
    assert len(dirs) == 2 * replicas and set(dirs["topic"]) == {topic}
    assert (dirs["size"] == 0).all()
    cluster.reset("test-opscheck.")


def test_lab_settings_differ_from_kafka_defaults(cluster: labkit.Cluster) -> None:
    table = opscheck.lab_settings(cluster=cluster)
    assert "group.consumer.session.timeout.ms" in set(table["setting"])
    assert (table["broker runs"] == table["lab"]).all()
    assert (table["Kafka default"] != table["lab"]).all()
    assert not set(table["setting"]) & {"listeners", "log.dirs", "node.id"}  # per node


def test_retention_covers(cluster: labkit.Cluster) -> None:
    topic = cluster.fresh_topic("test-opscheck.retention", partitions=2)
    rate = 100.0  # bytes per second: 8.64 MB a day; 3 days over 2 partitions: 12.96 MB each
    assert not opscheck.retention_covers(topic, days=3, bytes_per_second=rate)  # unbounded
    for size, ok in ((12_000_000, False), (20_000_000, True), (80_000_000, False)):
        cluster.kafka("kafka-configs", "--alter", "--entity-type", "topics", "--entity-name",
                      topic, "--add-config", f"retention.bytes={size}")
        cluster.wait_for("the setting", lambda s=size: topic_configs(
            cluster, [topic])[topic]["retention.bytes"].value == str(s))
        assert bool(opscheck.retention_covers(topic, days=3, bytes_per_second=rate)) is ok
    cluster.reset("test-opscheck.")
