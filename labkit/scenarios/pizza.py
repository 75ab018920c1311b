"""The pizza shop: customers sign up, ask for login links, change address, order pizza.

Stories, each in causal order (a follow-up is always later on the simulated clock):

* sign-up:  UserRegistered -> EmailSent(welcome), LoginCredentialsRequested(first_login)
  -> EmailSent(login_credentials), CustomerUpdated v1 (profile filled in; now the customer
  can order)
* account:  LoginCredentialsRequested(forgot_password | new_device) -> EmailSent
* profile:  CustomerUpdated v2, v3... (address, phone, email, opt-in, loyalty tier)
* order:    CartCheckedOut -> OrderPlaced (-> EmailSent(order_confirmation)) ->
  PaymentAuthorized -> PizzaBaked -> OutForDelivery -> OrderDelivered

The clock is compressed so an order is delivered within a few simulated minutes.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from labkit.events import (
    KINDS,
    Address,
    CartCheckedOut,
    CustomerUpdated,
    EmailSent,
    EmailTemplate,
    Event,
    LoginCredentialsRequested,
    LoginReason,
    LoyaltyTier,
    OrderDelivered,
    OrderPlaced,
    OutForDelivery,
    PaymentAuthorized,
    PaymentMethod,
    Pizza,
    PizzaBaked,
    Size,
    UserRegistered,
)
from labkit.exceptions import SettingsError
from labkit.scenarios.base import Scenario, _check_float, register_scenario

MENU = {
    "margherita": 9.0,
    "marinara": 8.0,
    "funghi": 10.5,
    "diavola": 11.5,
    "hawaii": 11.0,
    "vegetariana": 11.0,
    "capricciosa": 12.5,
    "quattro formaggi": 12.0,
}
SIZES: dict[Size, float] = {"small": 0.8, "medium": 1.0, "large": 1.3}
# fmt: off
FIRST = ["Ada", "Alan", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances",
         "Edsger", "Radia", "Tim", "Katherine", "Guido", "Anita", "John", "Sophie", "Niklaus"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton",
        "Ritchie", "Allen", "Dijkstra", "Perlman", "Berners", "Johnson", "Rossum", "Borg",
        "Backus", "Wilson", "Wirth"]
STREETS = ["Kafka Lane", "Broker Street", "Offset Road", "Partition Way", "Topic Avenue",
           "Replica Close", "Commit Row", "Producer Place", "Consumer Court", "Log Hill"]
# fmt: on
CITIES = [("Springfield", "SP"), ("Riverton", "RV"), ("Lakeside", "LK"), ("Hillview", "HV")]
COURIERS = ["Mia", "Noah", "Zoe", "Omar", "Lena", "Ravi"]
TIERS: list[tuple[int, LoyaltyTier]] = [(10, "gold"), (5, "silver"), (2, "bronze"), (0, "none")]
"""Delivered orders needed for each loyalty tier."""


@dataclass
class _Customer:
    id: str
    name: str
    email: str
    address: Address
    phone: str
    registered_at: datetime
    tier: LoyaltyTier = "none"
    opt_in: bool = False
    version: int = 0
    delivered: int = 0


@dataclass
class _Order:
    id: str
    customer: _Customer
    items: list[Pizza]


class PizzaShop(Scenario):
    """The pizza shop; ``kinds`` picks the streams to emit (default: all of them).

    Extra settings: kinds (subset of accounts, customers, orders, emails), orders_per_minute,
    signups_per_minute, logins_per_minute, updates_per_minute (simulated-clock rates).
    """

    name = "pizza"

    def __init__(
        self,
        *,
        kinds: Iterable[str] | None = None,
        orders_per_minute: float = 20.0,
        signups_per_minute: float = 60.0,
        logins_per_minute: float = 4.0,
        updates_per_minute: float = 4.0,
        **settings: Any,
    ) -> None:
        super().__init__(**settings)
        wanted = set(KINDS if kinds is None else [kinds] if isinstance(kinds, str) else kinds)
        if not wanted or not wanted <= set(KINDS):
            raise SettingsError(f"kinds={kinds!r} is not valid; choose from {', '.join(KINDS)}")
        _check_float("orders_per_minute", orders_per_minute, 0.0, 1e6)
        _check_float("signups_per_minute", signups_per_minute, 0.001, 1e6)
        _check_float("logins_per_minute", logins_per_minute, 0.0, 1e6)
        _check_float("updates_per_minute", updates_per_minute, 0.0, 1e6)
        self.kinds = tuple(k for k in KINDS if k in wanted)
        self.orders_per_minute = orders_per_minute
        self.signups_per_minute = signups_per_minute
        self.logins_per_minute = logins_per_minute
        self.updates_per_minute = updates_per_minute

    def _wanted(self, event: Event) -> bool:
        return event.kind in self.kinds

    def _world(self) -> Iterator[tuple[float, Event]]:
        return _World(self).run()


class _World:
    """A discrete-event simulation: a heap of (time, sequence, action); one event per action."""

    def __init__(self, shop: PizzaShop) -> None:
        self.shop = shop
        self.rng = random.Random(shop.seed)
        self.heap: list[tuple[float, int, Callable[..., Event | None], tuple[Any, ...]]] = []
        self.seq = 0
        self.now = 0.0
        self.customers: list[_Customer] = []
        self.active: list[_Customer] = []
        self.orders = 0

    def later(self, lo: float, hi: float, action: Callable[..., Event | None], *args: Any) -> None:
        """Schedule ``action(*args)`` between lo and hi seconds from now."""
        self.at(self.now + self.rng.uniform(lo, hi), action, *args)

    def at(self, when: float, action: Callable[..., Event | None], *args: Any) -> None:
        heapq.heappush(self.heap, (when, self.seq, action, args))
        self.seq += 1

    def every(self, per_minute: float, action: Callable[[], Event | None]) -> None:
        """Run ``action`` as a Poisson process with the given rate."""
        if per_minute <= 0:
            return

        def tick() -> Event | None:
            self.at(self.now + self.rng.expovariate(per_minute / 60), tick)
            return action()

        self.at(self.rng.expovariate(per_minute / 60), tick)

    def run(self) -> Iterator[tuple[float, Event]]:
        shop = self.shop
        self.at(0.0, self.sign_up)
        self.every(shop.orders_per_minute, self.check_out)
        self.every(shop.logins_per_minute, self.forgot_login)
        self.every(shop.updates_per_minute, self.change_profile)
        if shop.burst_every is not None:
            self.at(shop.burst_every, self.rush)
        while self.heap:
            self.now, _, action, args = heapq.heappop(self.heap)
            event = action(*args)
            if event is not None:
                yield round(self.now, 3), event

    def time(self) -> datetime:
        return self.shop.start + timedelta(seconds=round(self.now, 3))

    # -- accounts and customers ------------------------------------------------------------

    def sign_up(self) -> Event:
        rng, n = self.rng, len(self.customers) + 1
        first, last = rng.choice(FIRST), rng.choice(LAST)
        c = _Customer(
            id=f"cust-{n:05d}",
            name=f"{first} {last}",
            email=f"{first.lower()}.{last.lower()}{n}@example.com",
            address=self.address(),
            phone=self.phone(),
            registered_at=self.time(),
            opt_in=rng.random() < 0.4,
        )
        self.customers.append(c)
        if n < self.shop.customers:
            self.at(self.now + rng.expovariate(self.shop.signups_per_minute / 60), self.sign_up)
        self.later(0.5, 3, self.email, c, "welcome", None)
        self.later(5, 60, self.credentials, c, "first_login")
        self.later(20, 90, self.update, c, ["name", "email", "address", "phone"])
        return UserRegistered(customer_id=c.id, email=c.email, registered_at=c.registered_at)

    def address(self) -> Address:
        city, prefix = self.rng.choice(CITIES)
        street = f"{self.rng.randint(1, 200)} {self.rng.choice(STREETS)}"
        return Address(street=street, city=city, postcode=f"{prefix}{self.rng.randint(1, 99)}")

    def phone(self) -> str:
        return f"+1-555-01{self.rng.randrange(100):02d}"

    def credentials(self, c: _Customer, reason: LoginReason) -> Event:
        self.later(0.5, 3, self.email, c, "login_credentials", None)
        return LoginCredentialsRequested(customer_id=c.id, email=c.email, reason=reason)

    def forgot_login(self) -> Event | None:
        if not self.customers:
            return None
        reasons: list[LoginReason] = ["forgot_password", "new_device"]
        reason = self.rng.choice(reasons)
        return self.credentials(self.rng.choice(self.customers), reason)

    def update(self, c: _Customer, changed: list[str]) -> Event:
        if c.version == 0:
            self.active.append(c)
        c.version += 1
        return CustomerUpdated(
            customer_id=c.id, version=c.version, name=c.name, email=c.email,
            address=c.address, phone=c.phone, loyalty_tier=c.tier, marketing_opt_in=c.opt_in,
            registered_at=c.registered_at, changed=changed,
        )  # fmt: skip

    def change_profile(self) -> Event | None:
        if not self.active:
            return None
        c = self.rng.choice(self.active)
        what = self.rng.choice(["address", "address", "phone", "email", "marketing_opt_in"])
        if what == "address":
            c.address = self.address()
            self.later(0.5, 3, self.email, c, "address_changed", None)
        elif what == "phone":
            c.phone = self.phone()
        elif what == "email":
            c.email = f"{c.name.split()[0].lower()}.{c.version + 1}.{c.id}@example.net"
        else:
            c.opt_in = not c.opt_in
        return self.update(c, [what])

    def check_tier(self, c: _Customer) -> Event | None:
        tier = next(name for needed, name in TIERS if c.delivered >= needed)
        if tier == c.tier:
            return None
        c.tier = tier
        return self.update(c, ["loyalty_tier"])

    def email(self, c: _Customer, template: EmailTemplate, order_id: str | None) -> Event:
        return EmailSent(customer_id=c.id, to=c.email, template=template, order_id=order_id)

    # -- orders ----------------------------------------------------------------------------

    def rush(self) -> None:
        assert self.shop.burst_every is not None
        for _ in range(self.shop.burst_size):
            self.later(0, 10, self.check_out)
        self.at(self.now + self.shop.burst_every, self.rush)

    def check_out(self) -> Event | None:
        if not self.active:
            return None
        rng = self.rng
        self.orders += 1
        items = []
        for _ in range(rng.choices([1, 2, 3, 4], weights=[4, 3, 2, 1])[0]):
            name, size = rng.choice(list(MENU)), rng.choice(list(SIZES))
            items.append(Pizza(name=name, size=size, price=round(MENU[name] * SIZES[size] * 2) / 2))
        order = _Order(f"ord-{self.orders:06d}", rng.choice(self.active), items)
        self.later(0.5, 2, self.place, order)
        return CartCheckedOut(
            order_id=order.id, cart_id=f"cart-{self.orders:06d}", customer_id=order.customer.id,
            item_count=len(items), subtotal=self.total(order),
        )  # fmt: skip

    @staticmethod
    def total(order: _Order) -> float:
        return round(sum(p.price for p in order.items), 2)

    def place(self, order: _Order) -> Event:
        self.later(1, 3, self.email, order.customer, "order_confirmation", order.id)
        self.later(1, 5, self.pay, order)
        return OrderPlaced(
            order_id=order.id, customer_id=order.customer.id, items=order.items,
            total=self.total(order),
        )  # fmt: skip

    def pay(self, order: _Order) -> Event:
        self.later(20, 60, self.bake, order)
        methods: list[PaymentMethod] = ["card", "paypal", "voucher"]
        method = self.rng.choices(methods, weights=[6, 3, 1])[0]
        return PaymentAuthorized(
            order_id=order.id, customer_id=order.customer.id, amount=self.total(order),
            payment_id=f"pay-{order.id[4:]}", method=method,
        )  # fmt: skip

    def bake(self, order: _Order) -> Event:
        self.later(5, 30, self.send_out, order)
        return PizzaBaked(order_id=order.id, pizzas=len(order.items), oven=self.rng.randint(1, 4))

    def send_out(self, order: _Order) -> Event:
        eta = self.rng.randint(1, 3)
        courier = self.rng.choice(COURIERS)
        self.later(eta * 40, eta * 80, self.deliver, order, courier)
        return OutForDelivery(order_id=order.id, courier=courier, eta_minutes=eta)

    def deliver(self, order: _Order, courier: str) -> Event:
        order.customer.delivered += 1
        self.later(0.5, 2, self.check_tier, order.customer)
        return OrderDelivered(order_id=order.id, customer_id=order.customer.id, courier=courier)


register_scenario("pizza", PizzaShop, description="the whole pizza shop: every stream")
register_scenario(
    "pizza-accounts", PizzaShop, kinds=("accounts",),
    description="thin account events: UserRegistered, LoginCredentialsRequested",
)  # fmt: skip
register_scenario(
    "pizza-customers", PizzaShop, kinds=("customers",),
    description="fat CustomerUpdated events: the customer's whole state, versioned",
)  # fmt: skip
register_scenario(
    "pizza-orders", PizzaShop, kinds=("orders",),
    description="the order lifecycle, CartCheckedOut to OrderDelivered, keyed by order_id",
)  # fmt: skip
