"""The pizza-shop event models and their registry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from labkit.events import (
    CE_TYPES,
    EVENT_MODELS,
    KINDS,
    ORDER_LIFECYCLE,
    Address,
    CustomerUpdated,
    EmailSent,
    OrderPlaced,
    Pizza,
    UserRegistered,
    model_for,
)

T0 = datetime(2025, 1, 6, 11, 0, tzinfo=UTC)
EXPECTED = {
    "UserRegistered": "customer_id",
    "LoginCredentialsRequested": "customer_id",
    "CartCheckedOut": "order_id",
    "OrderPlaced": "order_id",
    "PaymentAuthorized": "order_id",
    "PizzaBaked": "order_id",
    "OutForDelivery": "order_id",
    "OrderDelivered": "order_id",
    "EmailSent": "customer_id",
    "CustomerUpdated": "customer_id",
}


def order(total: float = 21.5) -> OrderPlaced:
    items = [
        Pizza(name="margherita", size="medium", price=9.0),
        Pizza(name="diavola", size="large", price=12.5),
    ]
    return OrderPlaced(order_id="ord-000001", customer_id="cust-00001", items=items, total=total)


def test_registry_has_every_event_with_its_key() -> None:
    assert {name: m.key_field for name, m in EVENT_MODELS.items()} == EXPECTED
    for model in EVENT_MODELS.values():
        assert model.key_field in model.model_fields, model
        assert model.ce_type.startswith("pizza."), model
        assert model.source.startswith("/pizza/"), model


def test_ce_types_are_unique_and_map_back() -> None:
    assert len(CE_TYPES) == len(EVENT_MODELS)
    assert all(CE_TYPES[m.ce_type] is m for m in EVENT_MODELS.values())
    assert model_for("OrderPlaced") is OrderPlaced
    assert model_for("pizza.order.placed") is OrderPlaced
    with pytest.raises(KeyError, match=r"pizza\.order\.teleported"):
        model_for("pizza.order.teleported")


def test_kinds_partition_the_models() -> None:
    listed = [m for models in KINDS.values() for m in models]
    assert sorted(m.__name__ for m in listed) == sorted(EVENT_MODELS)
    assert set(KINDS["accounts"]) == {
        EVENT_MODELS["UserRegistered"],
        EVENT_MODELS["LoginCredentialsRequested"],
    }
    assert KINDS["customers"] == (CustomerUpdated,)
    assert KINDS["orders"] == ORDER_LIFECYCLE
    assert [m.__name__ for m in ORDER_LIFECYCLE] == [
        "CartCheckedOut",
        "OrderPlaced",
        "PaymentAuthorized",
        "PizzaBaked",
        "OutForDelivery",
        "OrderDelivered",
    ]


def test_key_is_the_entity_id() -> None:
    assert order().key == "ord-000001"
    email = EmailSent(customer_id="cust-00009", to="a@example.com", template="welcome")
    assert email.key == "cust-00009"


def test_events_are_immutable_facts() -> None:
    e = order()
    with pytest.raises(ValidationError):
        e.total = 1.0  # type: ignore[misc]


def test_order_total_must_match_items() -> None:
    assert order(21.5).total == 21.5
    with pytest.raises(ValidationError, match="sum of the item prices"):
        order(99.0)
    with pytest.raises(ValidationError):
        OrderPlaced(order_id="o", customer_id="c", items=[], total=0.0)


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "not-an-email"},
        {"registered_at": datetime(2025, 1, 6, 11, 0)},  # naive: no timezone
        {"customer_id": ""},
        {"customer_id": None},
    ],
)
def test_user_registered_rejects_bad_fields(fields: dict[str, object]) -> None:
    good = {"customer_id": "cust-00001", "email": "ada@example.com", "registered_at": T0}
    UserRegistered.model_validate(good)
    with pytest.raises(ValidationError):
        UserRegistered.model_validate({**good, **fields})


def test_tolerant_reader_ignores_unknown_fields() -> None:
    data = {"customer_id": "c1", "email": "ada@example.com", "registered_at": T0, "new": 1}
    assert UserRegistered.model_validate(data).customer_id == "c1"


def test_customer_updated_is_fat() -> None:
    fields = set(CustomerUpdated.model_fields)
    assert {"name", "email", "address", "phone", "loyalty_tier", "version"} <= fields
    c = CustomerUpdated(
        customer_id="cust-00001", version=1, name="Ada Lovelace", email="ada@example.com",
        address=Address(street="1 Kafka Lane", city="Springfield", postcode="SP1"),
        phone="+1-555-0100", loyalty_tier="none", marketing_opt_in=False, registered_at=T0,
    )  # fmt: skip
    again = CustomerUpdated.model_validate_json(c.model_dump_json())
    assert again == c
    with pytest.raises(ValidationError):
        CustomerUpdated.model_validate({**c.model_dump(), "version": 0})

