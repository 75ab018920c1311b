"""The pizza shop's events: one immutable pydantic model per event type.

Every model declares, as class variables:

* ``ce_type``   the CloudEvents ``type``: ``pizza.<entity>.<what_happened>`` in the past tense,
  e.g. ``pizza.order.placed``; the entity is the one named by the key.
* ``key_field`` the field whose value is the Kafka record key (``customer_id`` or ``order_id``).
  Records with the same key land on the same partition, so each entity's story stays in order.
* ``kind``      the stream it belongs to: ``accounts``, ``customers``, ``orders`` or ``emails``.
* ``source``    the CloudEvents ``source``: the service that records the fact.

Models ignore unknown fields (a tolerant reader) but reject missing or mistyped ones.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
Money = Annotated[float, Field(ge=0)]
Size = Literal["small", "medium", "large"]
LoyaltyTier = Literal["none", "bronze", "silver", "gold"]
EmailTemplate = Literal["welcome", "login_credentials", "order_confirmation", "address_changed"]
LoginReason = Literal["first_login", "forgot_password", "new_device"]
PaymentMethod = Literal["card", "paypal", "voucher"]


class Event(BaseModel):
    """Base of all pizza-shop events: a fact, immutable once it happened."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    ce_type: ClassVar[str]
    key_field: ClassVar[Literal["customer_id", "order_id"]]
    kind: ClassVar[Literal["accounts", "customers", "orders", "emails"]]
    source: ClassVar[str]

    @property
    def key(self) -> str:
        """The Kafka record key: the id of the entity this event is about."""
        return str(getattr(self, self.key_field))


# -- accounts: thin events, the reader asks the account service for more ---------------------


class UserRegistered(Event):
    """A visitor created an account (thin: just enough to identify the customer)."""

    ce_type: ClassVar[str] = "pizza.user.registered"
    key_field: ClassVar[Literal["customer_id"]] = "customer_id"
    kind: ClassVar[Literal["accounts"]] = "accounts"
    source: ClassVar[str] = "/pizza/accounts"

    customer_id: Id
    email: Email
    registered_at: AwareDatetime


class LoginCredentialsRequested(Event):
    """A customer asked for a login link / new password."""

    ce_type: ClassVar[str] = "pizza.user.login_credentials_requested"
    key_field: ClassVar[Literal["customer_id"]] = "customer_id"
    kind: ClassVar[Literal["accounts"]] = "accounts"
    source: ClassVar[str] = "/pizza/accounts"

    customer_id: Id
    email: Email
    reason: LoginReason


# -- customers: fat events, each carries the whole current state -----------------------------


class Address(BaseModel):
    """A delivery address."""

    model_config = ConfigDict(frozen=True)

    street: Annotated[str, StringConstraints(min_length=1)]
    city: Annotated[str, StringConstraints(min_length=1)]
    postcode: Annotated[str, StringConstraints(min_length=1)]


class CustomerUpdated(Event):
    """The customer's whole state after a change (event-carried state transfer)."""

    ce_type: ClassVar[str] = "pizza.customer.updated"
    key_field: ClassVar[Literal["customer_id"]] = "customer_id"
    kind: ClassVar[Literal["customers"]] = "customers"
    source: ClassVar[str] = "/pizza/customers"

    customer_id: Id
    version: Annotated[int, Field(ge=1)]
    name: Annotated[str, StringConstraints(min_length=1)]
    email: Email
    address: Address
    phone: Annotated[str, StringConstraints(min_length=3)]
    loyalty_tier: LoyaltyTier
    marketing_opt_in: bool
    registered_at: AwareDatetime
    changed: list[str] = Field(default_factory=list)


# -- orders: the lifecycle of one order, all keyed by order_id -------------------------------


class Pizza(BaseModel):
    """One pizza in an order."""

    model_config = ConfigDict(frozen=True)

    name: Annotated[str, StringConstraints(min_length=1)]
    size: Size
    price: Annotated[float, Field(gt=0)]


class CartCheckedOut(Event):
    """The customer pressed "order now"; the order id is assigned here."""

    ce_type: ClassVar[str] = "pizza.cart.checked_out"
    key_field: ClassVar[Literal["order_id"]] = "order_id"
    kind: ClassVar[Literal["orders"]] = "orders"
    source: ClassVar[str] = "/pizza/webshop"

    order_id: Id
    cart_id: Id
    customer_id: Id
    item_count: Annotated[int, Field(ge=1)]
    subtotal: Money


class OrderPlaced(Event):
    """The order service accepted the order."""

    ce_type: ClassVar[str] = "pizza.order.placed"
    key_field: ClassVar[Literal["order_id"]] = "order_id"
    kind: ClassVar[Literal["orders"]] = "orders"
    source: ClassVar[str] = "/pizza/orders"

    order_id: Id
    customer_id: Id
    items: Annotated[list[Pizza], Field(min_length=1)]
    total: Money

    @model_validator(mode="after")
    def _total_is_sum_of_prices(self) -> OrderPlaced:
        expected = round(sum(p.price for p in self.items), 2)
        if abs(self.total - expected) > 0.005:
            raise ValueError(f"total {self.total} is not the sum of the item prices {expected}")
        return self


class PaymentAuthorized(Event):
    """The payment provider reserved the money."""

    ce_type: ClassVar[str] = "pizza.payment.authorized"
    key_field: ClassVar[Literal["order_id"]] = "order_id"
    kind: ClassVar[Literal["orders"]] = "orders"
    source: ClassVar[str] = "/pizza/payments"

    order_id: Id
    customer_id: Id
    payment_id: Id
    amount: Money
    method: PaymentMethod


class PizzaBaked(Event):
    """All pizzas of the order came out of the oven."""

    ce_type: ClassVar[str] = "pizza.order.baked"
    key_field: ClassVar[Literal["order_id"]] = "order_id"
    kind: ClassVar[Literal["orders"]] = "orders"
    source: ClassVar[str] = "/pizza/kitchen"

    order_id: Id
    pizzas: Annotated[int, Field(ge=1)]
    oven: Annotated[int, Field(ge=1)]


class OutForDelivery(Event):
    """A courier left the shop with the order."""

    ce_type: ClassVar[str] = "pizza.order.out_for_delivery"
    key_field: ClassVar[Literal["order_id"]] = "order_id"
    kind: ClassVar[Literal["orders"]] = "orders"
    source: ClassVar[str] = "/pizza/delivery"

    order_id: Id
    courier: Annotated[str, StringConstraints(min_length=1)]
    eta_minutes: Annotated[int, Field(ge=1)]


class OrderDelivered(Event):
    """The customer received the order."""

    ce_type: ClassVar[str] = "pizza.order.delivered"
    key_field: ClassVar[Literal["order_id"]] = "order_id"
    kind: ClassVar[Literal["orders"]] = "orders"
    source: ClassVar[str] = "/pizza/delivery"

    order_id: Id
    customer_id: Id
    courier: Annotated[str, StringConstraints(min_length=1)]


# -- emails ------------------------------------------------------------------------------------


class EmailSent(Event):
    """The mailer sent an email to a customer."""

    ce_type: ClassVar[str] = "pizza.email.sent"
    key_field: ClassVar[Literal["customer_id"]] = "customer_id"
    kind: ClassVar[Literal["emails"]] = "emails"
    source: ClassVar[str] = "/pizza/mailer"

    customer_id: Id
    to: Email
    template: EmailTemplate
    order_id: Id | None = None


# -- registry ----------------------------------------------------------------------------------

ORDER_LIFECYCLE: tuple[type[Event], ...] = (
    CartCheckedOut,
    OrderPlaced,
    PaymentAuthorized,
    PizzaBaked,
    OutForDelivery,
    OrderDelivered,
)
"""The order stages, in the order they happen."""

_ALL: tuple[type[Event], ...] = (
    UserRegistered,
    LoginCredentialsRequested,
    CustomerUpdated,
    *ORDER_LIFECYCLE,
    EmailSent,
)

EVENT_MODELS: dict[str, type[Event]] = {m.__name__: m for m in _ALL}
"""Model name (``"OrderPlaced"``) -> model."""

CE_TYPES: dict[str, type[Event]] = {m.ce_type: m for m in _ALL}
"""CloudEvents type (``"pizza.order.placed"``) -> model."""

KINDS: dict[str, tuple[type[Event], ...]] = {
    kind: tuple(m for m in _ALL if m.kind == kind)
    for kind in ("accounts", "customers", "orders", "emails")
}
"""Stream kind -> the models in it."""


def model_for(type_name: str) -> type[Event]:
    """The model for a model name (``OrderPlaced``) or CloudEvents type (``pizza.order.placed``)."""
    model = EVENT_MODELS.get(type_name) or CE_TYPES.get(type_name)
    if model is None:
        raise KeyError(f"unknown event type {type_name!r}; known: {', '.join(EVENT_MODELS)}")
    return model


__all__ = [
    "CE_TYPES",
    "EVENT_MODELS",
    "KINDS",
    "ORDER_LIFECYCLE",
    "Address",
    "CartCheckedOut",
    "CustomerUpdated",
    "EmailSent",
    "Event",
    "LoginCredentialsRequested",
    "OrderDelivered",
    "OrderPlaced",
    "OutForDelivery",
    "PaymentAuthorized",
    "Pizza",
    "PizzaBaked",
    "UserRegistered",
    "model_for",
]
