"""The capstone's pizza shop (lesson 10): the services that run in the background while the
student's own programs (the kitchen group, the email subscriber) and the chaos take the stage.

* the **storefront** keeps customers and orders in a SQLite database and, in the same local
  transaction, an **outbox** row per change (``CustomerUpdated``: a fat event, state transfer;
  ``OrderPlaced``);
* the **relay** publishes the outbox with an idempotent producer, marks rows only once
  acknowledged, and remembers every event id Kafka acknowledged (:attr:`Shop.acked`);
* **delivery** keeps a local copy of the customers (read from their compacted topic), reads
  the kitchen's ``PizzaBaked`` events and delivers (``OrderDelivered``, one ``sales`` record
  per pizza for the revenue stream) or, when the customer lives outside the delivery area,
  refunds (``OrderCompensated``);
* the **terms** step is a subscriber added later (:meth:`Shop.add_terms_step`): it reads
  the orders from the beginning and asks each ordering customer once to accept new terms.

Events are JSON values keyed by order or customer id, each with an ``event_id``. Use:
``create_topics()``, ``start()``, ... ``stop()``. Chaos: :meth:`Shop.inject_poison`, and
:meth:`Shop.victim` (a node to kill that is neither the active controller nor a coordinator
of the named groups: a moving coordinator can fail a commit, so a record is handled twice).
"""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.cluster import resolve
from labkit.cluster.failover import leaders, offsets_partition
from labkit.exceptions import ServiceError
from labkit.kafka.clients import QUIET
from labkit.kafka.topics import metadata
from labkit.moments import announce
from labkit.scenarios.menu import CITIES, PRICES, STREETS
from labkit.validate import positive
from labkit.waiting import Deadline

if TYPE_CHECKING:
    from labkit.cluster import Cluster

__all__ = ["SERVED", "Shop", "Topics", "price", "stop_all"]

SERVED = {city for city, _code in CITIES[:3]}
"""Cities the couriers reach; an order to any other is refunded (the saga's compensation)."""
_RUNNING: list[Shop] = []
_LOCK = threading.Lock()
ITEMS = sorted(PRICES)  # (pizza, size) pairs, priced by the pizza scenario's menu
SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (customer_id TEXT PRIMARY KEY, name TEXT, city TEXT,
                                      street TEXT, version INTEGER);
CREATE TABLE IF NOT EXISTS orders (order_id TEXT PRIMARY KEY, customer_id TEXT, total REAL);
CREATE TABLE IF NOT EXISTS outbox (event_id TEXT PRIMARY KEY, topic TEXT, key TEXT,
                                   value TEXT, published INTEGER DEFAULT 0);
"""


def price(sale: str) -> float:
    """The price of a pizza from its key in the sales topic, ``"<pizza> <size>"``."""
    name, size = sale.rsplit(" ", 1)
    return PRICES[name, size]  # type: ignore[index]


@dataclass(frozen=True)
class Topics:
    """The shop's topics, named ``<prefix>.<name>``."""

    orders: str
    customers: str
    kitchen: str
    deliveries: str
    sales: str
    revenue: str
    dead_letters: str

    @classmethod
    def named(cls, prefix: str) -> Topics:
        return cls(*(f"{prefix}.{n}" for n in ("orders", "customers", "kitchen", "deliveries",
                                               "sales", "revenue", "orders.dlq")))


class Shop:
    """The background services of the capstone (see the module's docstring)."""

    def __init__(self, prefix: str, *, orders: int, seconds: float, database: str | Path,
                 customers: int = 12, seed: int = 10, cluster: Cluster | None = None) -> None:
        self.prefix, self.topics = prefix, Topics.named(prefix)
        self.orders, self.customers_count = int(positive("orders", orders)), customers
        self.seconds = positive("seconds", seconds)
        self.database = Path(database)
        self._cluster, self._rng = cluster, random.Random(seed)
        self.placed = 0  # orders the storefront has written so far
        self.acked: list[str] = []  # event ids Kafka acknowledged to the relay
        self.copy: dict[str, dict[str, Any]] = {}  # delivery's copy of the customers
        self.delivered: set[str] = set()
        self.terms_seen: set[str] = set()  # orders the terms step has read
        self.terms_asked: set[str] = set()  # customers it asked to accept the terms
        self.skipped: dict[str, int] = {"delivery duplicates": 0, "terms: not JSON": 0}
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def cluster(self) -> Cluster:
        self._cluster = resolve(self._cluster)
        return self._cluster

    # -- set-up ------------------------------------------------------------------------------
    def create_topics(self) -> Topics:
        """Every topic from scratch (customers compacted, sales in one partition): names."""
        c, self.prefix = self.cluster, self.cluster.name(self.prefix)  # a student's: sNN.…
        t = self.topics = Topics.named(self.prefix)
        for name in (t.orders, t.kitchen, t.deliveries, t.sales, t.revenue, t.dead_letters):
            c.fresh_topic(name, partitions=1 if name in (t.sales, t.revenue, t.dead_letters) else 3)
        c.fresh_topic(t.customers, partitions=3, cleanup_policy="compact")
        self.database.unlink(missing_ok=True)
        with self._db() as db:
            db.executescript(SCHEMA)
        return t

    def _config(self, **settings: Any) -> dict[str, Any]:
        """A client configuration; librdkafka's log quiet (failures go to ``errors``)."""
        return {**self.cluster.config(**settings), **QUIET}

    def _db(self) -> sqlite3.Connection:
        self.database.parent.mkdir(parents=True, exist_ok=True)
        return sqlite3.connect(self.database, timeout=30)

    def start(self) -> Shop:
        """Start the storefront, the relay and delivery (each a thread)."""
        for name, fn in (("storefront", self._storefront), ("relay", self._relay),
                         ("delivery", self._delivery)):
            self._spawn(name, fn)
        with _LOCK:
            _RUNNING.append(self)
        return self

    def add_terms_step(self) -> None:
        """Start the terms step: a new subscriber that reads the orders from the beginning."""
        self._spawn("terms", self._terms)

    def _spawn(self, name: str, fn: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                fn()
            except Exception as exc:  # surfaced by raise_for_errors()
                self.errors.append(f"{name}: {type(exc).__name__}: {exc}")

        thread = threading.Thread(target=guarded, name=f"shop-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()
        announce(f"{name} started")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every service (each closes its clients) and raise what failed meanwhile."""
        self._stop.set()
        deadline = Deadline(timeout)
        for thread in self._threads:
            thread.join(deadline.clamp(timeout))
        self._threads = [t for t in self._threads if t.is_alive()]
        with _LOCK:
            if self in _RUNNING:
                _RUNNING.remove(self)
        self.raise_for_errors()

    def raise_for_errors(self) -> None:
        if self.errors:
            raise ServiceError(f"the shop's services failed: {'; '.join(self.errors[:3])}")

    # -- the storefront and its outbox ---------------------------------------------------------
    def _customer(self, db: sqlite3.Connection, customer_id: str, version: int) -> None:
        rng = self._rng
        row = {"customer_id": customer_id, "name": f"Customer {customer_id[-2:]}",
               "city": rng.choice(CITIES)[0],
               "street": f"{rng.randint(1, 99)} {rng.choice(STREETS)}", "version": version}
        db.execute("INSERT OR REPLACE INTO customers VALUES (:customer_id, :name, :city, "
                   ":street, :version)", row)
        event = {"event_id": f"evt-{customer_id}-v{version}", "type": "CustomerUpdated", **row}
        self._outbox(db, self.topics.customers, customer_id, event)

    def _outbox(self, db: sqlite3.Connection, topic: str, key: str, event: dict[str, Any]) -> None:
        db.execute("INSERT INTO outbox (event_id, topic, key, value) VALUES (?, ?, ?, ?)",
                   (event["event_id"], topic, key, json.dumps(event)))

    def _order(self, db: sqlite3.Connection, n: int) -> None:
        rng = self._rng
        picks = [rng.choice(ITEMS) for _ in range(rng.randint(1, 3))]
        items = [{"name": name, "size": size, "price": PRICES[name, size]}
                 for name, size in picks]
        order_id = f"ord-{n:04d}"
        customer = f"cust-{rng.randrange(self.customers_count):02d}"
        total = round(sum(PRICES[p] for p in picks), 2)
        db.execute("INSERT INTO orders VALUES (?, ?, ?)", (order_id, customer, total))
        self._outbox(db, self.topics.orders, order_id, {
            "event_id": f"evt-{order_id}-placed", "type": "OrderPlaced", "order_id": order_id,
            "customer_id": customer, "items": items, "total": total,
            "placed_ms": int(time.time() * 1000)})

    def _storefront(self) -> None:
        db = self._db()
        try:
            with db:  # the customers first: every order's customer exists before it
                for i in range(self.customers_count):
                    self._customer(db, f"cust-{i:02d}", 1)
            start, versions = time.monotonic(), dict[str, int]()
            for n in range(self.orders):
                pause = start + n * self.seconds / self.orders - time.monotonic()
                if self._stop.wait(max(0.0, pause)):  # pacing: the shop's order rate
                    return
                with db:  # one local transaction: the business rows and their events
                    self._order(db, n)
                    if n % 6 == 5:  # now and then a customer moves
                        who = f"cust-{self._rng.randrange(self.customers_count):02d}"
                        versions[who] = versions.get(who, 1) + 1
                        self._customer(db, who, versions[who])
                self.placed = n + 1
        finally:
            db.close()

    def _relay(self) -> None:
        from confluent_kafka import Producer

        db = self._db()
        producer = Producer(self._config(acks="all", enable_idempotence=True, linger_ms=5))
        try:
            while not self._stop.is_set():
                rows = db.execute("SELECT event_id, topic, key, value FROM outbox WHERE "
                                  "published = 0 ORDER BY rowid LIMIT 200").fetchall()
                if not rows:
                    self._stop.wait(0.05)  # pacing: look at the outbox again
                    continue
                acked: list[str] = []
                for event_id, topic, key, value in rows:
                    producer.produce(topic, key=key, value=value,
                                     on_delivery=_collect(acked, event_id))
                producer.flush(60)
                with db:  # only what Kafka acknowledged is marked; the rest goes again
                    db.executemany("UPDATE outbox SET published = 1 WHERE event_id = ?",
                                   [(e,) for e in acked])
                self.acked.extend(acked)
        finally:
            producer.flush(30)
            db.close()

    def outbox_pending(self) -> int:
        """Outbox rows not yet published."""
        with self._db() as db:
            return int(db.execute("SELECT COUNT(*) FROM outbox WHERE published = 0")
                       .fetchone()[0])

    def done(self) -> bool:
        """Every order placed and every outbox row published."""
        return self.placed == self.orders and self.outbox_pending() == 0

    # -- delivery: a copy of the customers, deliveries, refunds, sales ------------------------
    def _read_customers(self, reader: Any, timeout: float) -> None:
        for msg in reader.consume(500, timeout=timeout):
            if msg.error() is None:
                self.copy[msg.key().decode()] = json.loads(msg.value())

    def _customer_of(self, reader: Any, customer_id: str) -> dict[str, Any]:
        deadline = Deadline(30)
        while customer_id not in self.copy:  # published before the order: on its way
            if deadline.passed:
                raise ServiceError(f"customer {customer_id} never reached delivery's copy")
            self._read_customers(reader, 0.2)
        return self.copy[customer_id]

    def _deliver(self, out: Any, baked: dict[str, Any], customer: dict[str, Any]) -> None:
        t, order_id = self.topics, baked["order_id"]
        event = {"order_id": order_id, "customer_id": baked["customer_id"],
                 "total": baked["total"]}
        if customer["city"] in SERVED:
            out.produce(t.deliveries, key=order_id, value=json.dumps(
                {"event_id": f"evt-{order_id}-delivered", "type": "OrderDelivered", **event}))
            for item in baked["items"]:  # the revenue stream: one record per pizza sold
                out.produce(t.sales, key=f"{item['name']} {item['size']}",
                            value=json.dumps({"order_id": order_id, "price": item["price"]}),
                            timestamp=baked["placed_ms"])
        else:
            out.produce(t.deliveries, key=order_id, value=json.dumps(
                {"event_id": f"evt-{order_id}-compensated", "type": "OrderCompensated",
                 "reason": f"{customer['city']} is outside the delivery area: refunded",
                 **event}))
        self.delivered.add(order_id)

    def _delivery(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

        c, t = self.cluster, self.topics
        reader = Consumer(self._config(group_id=f"{self.prefix}.delivery-copy",
                                       enable_auto_commit=False))  # assign() only: no group
        reader.assign([TopicPartition(t.customers, p, OFFSET_BEGINNING) for p in range(3)])
        consumer = _member(c, f"{self.prefix}.delivery", t.kitchen)
        out = Producer(self._config(acks="all", enable_idempotence=True, linger_ms=5))
        try:
            while not self._stop.is_set():
                self._read_customers(reader, 0)
                batch = _records(consumer.consume(200, timeout=0.2))
                for msg in batch:
                    baked = json.loads(msg.value())
                    if baked["order_id"] in self.delivered:  # idempotent: once per order
                        self.skipped["delivery duplicates"] += 1
                        continue
                    self._deliver(out, baked, self._customer_of(reader, baked["customer_id"]))
                if batch:
                    _flush_then_commit(out, consumer)
        finally:
            out.flush(30)
            consumer.close()
            reader.close()

    def copy_caught_up(self) -> bool:
        """Delivery's copy has read the customers topic to its end."""
        from labkit.kafka.offsets import offsets

        ends = offsets(self.cluster, self.topics.customers)
        with self._db() as db:
            versions = dict(db.execute("SELECT customer_id, version FROM customers"))
        return sum(v or 0 for v in ends.values()) > 0 and all(
            self.copy.get(k, {}).get("version") == v for k, v in versions.items())

    # -- the terms step, added later ----------------------------------------------------------
    def _terms(self) -> None:
        consumer = _member(self.cluster, f"{self.prefix}.terms", self.topics.orders)
        try:
            while not self._stop.is_set():
                batch = _records(consumer.consume(200, timeout=0.2))
                for msg in batch:
                    try:
                        event = json.loads(msg.value())
                    except ValueError:
                        self.skipped["terms: not JSON"] += 1
                        continue
                    if event.get("type") == "OrderPlaced":
                        self.terms_seen.add(event["order_id"])
                        self.terms_asked.add(event["customer_id"])
                if batch:
                    consumer.commit(asynchronous=False)
        finally:
            consumer.close()

    # -- the database, read back -----------------------------------------------------------------
    def placed_orders(self) -> dict[str, float]:
        """{order id: total} as the storefront's database has them."""
        with self._db() as db:
            return dict(db.execute("SELECT order_id, total FROM orders"))

    def customer_table(self) -> dict[str, dict[str, Any]]:
        """The customers as the storefront's database has them."""
        with self._db() as db:
            db.row_factory = sqlite3.Row
            return {r["customer_id"]: dict(r) for r in db.execute("SELECT * FROM customers")}

    # -- chaos -----------------------------------------------------------------------------------
    def inject_poison(self) -> tuple[int, int]:
        """Write one record that is not JSON into the orders topic; (partition, offset)."""
        from confluent_kafka import Producer

        where: list[tuple[int, int]] = []

        def delivered(err: Any, msg: Any) -> None:
            if err is None:
                where.append((msg.partition(), msg.offset()))

        producer = Producer(self._config(acks="all", enable_idempotence=True))
        producer.produce(self.topics.orders, key="ord-poison", value=b'{"type": "OrderPl',
                         on_delivery=delivered)
        producer.flush(30)
        if not where:
            raise ServiceError("the poison record was not acknowledged")
        announce("poison record")
        return where[0]

    def victim(self, groups: Iterable[str]) -> int:
        """A node to kill: not the active controller, not the coordinator of ``groups``;
        one that leads a partition of the orders topic if there is one."""
        c = self.cluster
        coordinators = leaders(c, "__consumer_offsets")
        spared = {c.quorum_leader()} | {coordinators[offsets_partition(g, len(coordinators))]
                                         for g in groups}
        candidates = [n.id for n in c.nodes if n.id not in spared]
        if not candidates:
            raise ServiceError(f"every node is a controller or a coordinator of {groups}")
        leading = set(leaders(c, self.topics.orders).values())
        return sorted(candidates, key=lambda n: (n not in leading, n))[0]

    def under_replicated(self) -> int:
        """Partitions of the shop's topics with fewer in-sync replicas than replicas."""
        md = metadata(self.cluster, timeout=5)
        return sum(len(p.isrs) < len(p.replicas)
                   for name, topic in md.topics.items() if name.startswith(self.prefix + ".")
                   for p in topic.partitions.values())


def stop_all() -> None:
    """Stop every shop this process started (a lesson run again), whatever failed in them."""
    with _LOCK:
        running = list(_RUNNING)
    for shop in running:
        with contextlib.suppress(ServiceError):
            shop.stop()


def _collect(acked: list[str], event_id: str) -> Callable[[Any, Any], None]:
    def delivered(err: Any, _msg: Any) -> None:
        if err is None:
            acked.append(event_id)
    return delivered


def _member(cluster: Cluster, group: str, topic: str) -> Any:
    from confluent_kafka import Consumer

    consumer = Consumer({**cluster.config(group_id=group, group_protocol="consumer",
                                          auto_offset_reset="earliest",
                                          enable_auto_commit=False), **QUIET})
    consumer.subscribe([topic])
    return consumer


def _records(batch: list[Any]) -> list[Any]:
    """The records of a batch; a fatal client error raises, a passing one is skipped."""
    out = []
    for msg in batch:
        error = msg.error()
        if error is None:
            out.append(msg)
        elif error.fatal():
            raise ServiceError(f"fatal client error: {error}")
    return out


def _flush_then_commit(producer: Any, consumer: Any) -> None:
    """Every output acknowledged, then the input offsets committed (at least once)."""
    from confluent_kafka import KafkaException

    if producer.flush(60):
        raise ServiceError("outputs not acknowledged within 60 s")
    try:
        consumer.commit(asynchronous=False)
    except KafkaException as exc:  # not fatal: the next commit covers these records
        if exc.args[0].fatal():
            raise
