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
import itertools
import math
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from labkit.events import (
    KINDS,
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
    PizzaBaked,
    UserRegistered,
)
from labkit.exceptions import SettingsError
from labkit.scenarios.base import Scenario, _check_float, register_scenario
from labkit.scenarios.fast import time_text
from labkit.scenarios.menu import (
    CITIES,
    COURIERS,
    FIRST,
    LAST,
    MENU_BITS,
    MENU_N,
    MENU_NAMES,
    METHODS,
    PIZZAS_PER_ORDER,
    PRICES,
    SIZE_BITS,
    SIZE_N,
    SIZE_NAMES,
    STREETS,
    TIER_AFTER,
    draws,
)

_push = heapq.heappush
Data = dict[str, Any]
Out = tuple[type[Event], Data] | None
"""What an action of the world returns: an event as (model, its JSON as a dict), or None."""


@dataclass(slots=True)
class _Customer:
    id: str
    name: str
    email: str
    address: Data
    phone: str
    registered_at: str
    tier: LoyaltyTier = "none"
    opt_in: bool = False
    version: int = 0
    delivered: int = 0


@dataclass(slots=True)
class _Order:
    id: str
    customer: _Customer
    items: list[Data]
    total: float


class PizzaShop(Scenario):
    """The pizza shop; ``kinds`` picks the streams to emit (default: all of them).

    Extra settings: kinds (subset of accounts, customers, orders, emails), orders_per_minute,
    signups_per_minute, logins_per_minute, updates_per_minute (simulated-clock rates).
    Every other choice of kinds is an exact subsequence of the whole shop (same seed). Two
    are their own story, told with other draws, with no draw spent on what does not show:
    the accounts alone (no order, profile change or email simulated; an email address stays
    the one given at sign-up), and the customers alone (no login, email or rush; an order
    is only its delivery, 70-330 s after it, which counts for the loyalty tier; orders stop
    once every customer is gold).
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

    def _wanted_type(self, model: type[Event]) -> bool:
        return model.kind in self.kinds

    def _world(self) -> Iterator[tuple[float, Event]]:
        for at, model, data in _World(self).run():
            yield at, model.model_validate(data)

    def _fast_world(self) -> Iterator[tuple[float, type[Event], Data]]:
        return _World(self).run()


class _World:
    """A discrete-event simulation: a heap of (time, sequence, action); one event per action.
    Actions return the event as (model, data dict); the scenario encodes or validates it."""

    def __init__(self, shop: PizzaShop) -> None:
        self.shop = shop
        self.rng = random.Random(shop.seed)
        self.random = self.rng.random
        self.choice, self.randint, self.weighted = draws(self.rng)
        self.heap: list[tuple[float, int, Callable[..., Out], tuple[Any, ...]]] = []
        self.seq = itertools.count().__next__  # ties run in the order scheduled
        self.now = 0.0
        self.customers: list[_Customer] = []
        self.active: list[_Customer] = []
        self.orders = self.gold = 0
        alone = set(shop.kinds)
        self.logins = alone != {"customers"}  # what the accounts or the customers alone skip
        self.profiles = alone != {"accounts"}
        self.mail = self.logins and self.profiles  # emails and whole orders
        self.later, self.at = self._schedulers()

    def _schedulers(self) -> tuple[Callable[..., None], Callable[..., None]]:
        """``later(lo, hi, action, *args)``: schedule ``action(*args)`` between lo and hi
        seconds from now; ``at(when, action, *args)``: at that time. Closures over the heap,
        the RNG and the sequence (ties run in the order scheduled): the hottest calls."""
        heap, push, seq, uniform = self.heap, heapq.heappush, self.seq, self.random

        def later(lo: float, hi: float, action: Callable[..., Out], *args: Any) -> None:
            # rng.uniform(lo, hi), inlined: the same draw, the same float
            push(heap, (self.now + (lo + (hi - lo) * uniform()), seq(), action, args))

        def at(when: float, action: Callable[..., Out], *args: Any) -> None:
            push(heap, (when, seq(), action, args))

        return later, at

    def every(self, per_minute: float, action: Callable[[], Out],
              until: Callable[[], bool] | None = None) -> None:
        """Run ``action`` as a Poisson process with the given rate (until ``until()``)."""
        if per_minute <= 0:
            return

        rate, log, uniform, at = per_minute / 60, math.log, self.random, self.at

        def tick() -> Out:  # rng.expovariate(rate), inlined: the same draw, the same float
            if until is not None and until():
                return None
            at(self.now + -log(1.0 - uniform()) / rate, tick)
            return action()

        self.at(self.rng.expovariate(rate), tick)

    def run(self) -> Iterator[tuple[float, type[Event], Data]]:
        shop = self.shop
        # orders show in the orders, emails (confirmations) and customers (loyalty tiers)
        # streams; the accounts alone simulate none of them, the customers alone only the
        # deliveries, while a tier can still change
        self.at(0.0, self.sign_up)
        if self.mail:
            self.every(shop.orders_per_minute, self.check_out)
        elif self.profiles:
            self.every(shop.orders_per_minute, self.buy,
                       until=lambda: self.gold == self.shop.customers)
        if self.logins:
            self.every(shop.logins_per_minute, self.forgot_login)
        if self.profiles:
            self.every(shop.updates_per_minute, self.change_profile)
        if self.mail and shop.burst_every is not None:
            self.at(shop.burst_every, self.rush)
        heap, pop = self.heap, heapq.heappop
        while heap:
            now, _, action, args = pop(heap)
            self.now = now
            out = action(*args)
            if out is not None:  # round_ms(now), inlined: the same float
                scaled = now * 1000.0
                whole = round(scaled)
                if 0.0 <= now < 1e8 and -0.4998 < scaled - whole < 0.4998:
                    yield whole / 1000, out[0], out[1]
                else:
                    yield round(now, 3), out[0], out[1]

    def time(self) -> datetime:
        return self.shop.start + timedelta(seconds=round(self.now, 3))

    # -- accounts and customers ------------------------------------------------------------

    def sign_up(self) -> Out:
        rng, n = self.rng, len(self.customers) + 1
        first, last = rng.choice(FIRST), rng.choice(LAST)
        c = _Customer(
            id=f"cust-{n:05d}",
            name=f"{first} {last}",
            email=f"{first.lower()}.{last.lower()}{n}@example.com",
            address=self.address(),
            phone=self.phone(),
            registered_at=time_text(self.time()),
            opt_in=rng.random() < 0.4,
        )
        self.customers.append(c)
        if n < self.shop.customers:
            self.at(self.now + rng.expovariate(self.shop.signups_per_minute / 60), self.sign_up)
        if self.mail:
            self.later(0.5, 3, self.email, c, "welcome", None)
        if self.logins:
            self.later(5, 60, self.credentials, c, "first_login")
        if self.profiles:
            self.later(20, 90, self.update, c, ["name", "email", "address", "phone"])
        return UserRegistered, {"customer_id": c.id, "email": c.email,
                                "registered_at": c.registered_at}

    def address(self) -> Data:
        city, prefix = self.choice(CITIES)
        street = f"{self.randint(1, 200)} {self.choice(STREETS)}"
        return {"street": street, "city": city, "postcode": f"{prefix}{self.randint(1, 99)}"}

    def phone(self) -> str:
        return f"+1-555-01{self.randint(0, 99):02d}"  # rng.randrange(100): the same draw

    def credentials(self, c: _Customer, reason: LoginReason) -> Out:
        if self.mail:
            self.later(0.5, 3, self.email, c, "login_credentials", None)
        return LoginCredentialsRequested, {"customer_id": c.id, "email": c.email,
                                           "reason": reason}

    def forgot_login(self) -> Out:
        if not self.customers:
            return None
        reasons: list[LoginReason] = ["forgot_password", "new_device"]
        reason = self.choice(reasons)
        return self.credentials(self.choice(self.customers), reason)

    def update(self, c: _Customer, changed: list[str]) -> Out:
        if c.version == 0:
            self.active.append(c)
        c.version += 1
        return CustomerUpdated, {
            "customer_id": c.id, "version": c.version, "name": c.name, "email": c.email,
            "address": c.address, "phone": c.phone, "loyalty_tier": c.tier,
            "marketing_opt_in": c.opt_in, "registered_at": c.registered_at, "changed": changed,
        }  # fmt: skip

    def change_profile(self) -> Out:
        if not self.active:
            return None
        c = self.choice(self.active)
        what = self.choice(["address", "address", "phone", "email", "marketing_opt_in"])
        if what == "address":
            c.address = self.address()
            if self.mail:
                self.later(0.5, 3, self.email, c, "address_changed", None)
        elif what == "phone":
            c.phone = self.phone()
        elif what == "email":
            c.email = f"{c.name.split()[0].lower()}.{c.version + 1}.{c.id}@example.net"
        else:
            c.opt_in = not c.opt_in
        return self.update(c, [what])

    def check_tier(self, c: _Customer) -> Out:
        tier = TIER_AFTER[min(c.delivered, len(TIER_AFTER) - 1)]
        if tier == c.tier:
            return None
        c.tier = tier
        if tier == TIER_AFTER[-1]:  # the top tier: no order can change it any more
            self.gold += 1
        return self.update(c, ["loyalty_tier"])

    def email(self, c: _Customer, template: EmailTemplate, order_id: str | None) -> Out:
        return EmailSent, {"customer_id": c.id, "to": c.email, "template": template,
                           "order_id": order_id}

    # -- orders ----------------------------------------------------------------------------

    def rush(self) -> None:
        assert self.shop.burst_every is not None
        for _ in range(self.shop.burst_size):
            self.later(0, 10, self.check_out)
        self.at(self.now + self.shop.burst_every, self.rush)

    def buy(self) -> Out:
        """The customers alone: an order is only its delivery, which counts for the tier."""
        if not self.active:
            return None
        self.later(70, 330, self.delivered, self.choice(self.active))
        return None

    def delivered(self, c: _Customer) -> Out:
        c.delivered += 1
        return self.check_tier(c)

    def check_out(self) -> Out:
        if not self.active:
            return None
        choice, bits = self.choice, self.rng.getrandbits
        self.orders += 1
        items, prices = [], []
        for _ in range(self.weighted(PIZZAS_PER_ORDER)):
            # choice(MENU_NAMES), choice(SIZE_NAMES), inlined: the same draws
            r = bits(MENU_BITS)
            while r >= MENU_N:
                r = bits(MENU_BITS)
            z = bits(SIZE_BITS)
            while z >= SIZE_N:
                z = bits(SIZE_BITS)
            name, size = MENU_NAMES[r], SIZE_NAMES[z]
            price = PRICES[name, size]
            items.append({"name": name, "size": size, "price": price})
            prices.append(price)
        n = f"{self.orders:06d}"
        order = _Order(f"ord-{n}", choice(self.active), items, round(sum(prices), 2))
        _push(self.heap, (self.now + (0.5 + 1.5 * self.random()), self.seq(), self.place, (order,)))
        return CartCheckedOut, {
            "order_id": order.id, "cart_id": f"cart-{n}", "customer_id": order.customer.id,
            "item_count": len(items), "subtotal": order.total,
        }  # fmt: skip

    # The order's steps schedule the next as later(lo, hi, ...) would, inlined (the hottest
    # actions): now + (lo + (hi - lo) * rng.random()), the same draw, the same float.

    def place(self, order: _Order) -> Out:
        heap, now, uniform, seq = self.heap, self.now, self.random, self.seq
        _push(heap, (now + (1 + 2 * uniform()), seq(), self.email,
                     (order.customer, "order_confirmation", order.id)))
        _push(heap, (now + (1 + 4 * uniform()), seq(), self.pay, (order,)))
        return OrderPlaced, {"order_id": order.id, "customer_id": order.customer.id,
                             "items": order.items, "total": order.total}

    def pay(self, order: _Order) -> Out:
        _push(self.heap, (self.now + (20 + 40 * self.random()), self.seq(), self.bake, (order,)))
        method = self.weighted(METHODS)
        return PaymentAuthorized, {
            "order_id": order.id, "customer_id": order.customer.id, "payment_id":
            f"pay-{order.id[4:]}", "amount": order.total, "method": method,
        }  # fmt: skip

    def bake(self, order: _Order) -> Out:
        _push(self.heap, (self.now + (5 + 25 * self.random()), self.seq(), self.send_out,
                          (order,)))
        return PizzaBaked, {"order_id": order.id, "pizzas": len(order.items),
                            "oven": self.randint(1, 4)}

    def send_out(self, order: _Order) -> Out:
        eta = self.randint(1, 3)
        courier = self.choice(COURIERS)
        _push(self.heap, (self.now + (eta * 40 + eta * 40 * self.random()), self.seq(),
                          self.deliver, (order, courier)))
        return OutForDelivery, {"order_id": order.id, "courier": courier, "eta_minutes": eta}

    def deliver(self, order: _Order, courier: str) -> Out:
        order.customer.delivered += 1
        _push(self.heap, (self.now + (0.5 + 1.5 * self.random()), self.seq(), self.check_tier,
                          (order.customer,)))
        return OrderDelivered, {"order_id": order.id, "customer_id": order.customer.id,
                                "courier": courier}


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
