"""Batch decoding (the readers' hot loops): the same events, columns and rejections as
``decode_fast`` record by record."""

from __future__ import annotations

from typing import Any

import pytest

from labkit.batchcodec import decode_columns, decode_messages
from labkit.codec import decode_fast
from labkit.exceptions import DecodeError
from labkit.scenarios import get_scenario
from tests.test_codec_hostile import Msg  # what a consumer gives, as the decoders see it


def test_decode_messages_gives_what_decode_fast_gives() -> None:
    """Every stream of the shop, poison pills included: the good records as decode_fast's
    events (same type, data, model, key, headers), the bad ones to on_bad, in order."""
    records = [e.record for e in get_scenario("pizza", seed=3, limit=3000, poison_fraction=0.05)]
    messages = [Msg(r.value, list(r.headers), r.key) for r in records]
    bad: list[tuple[Any, str]] = []
    events = list(decode_messages(messages, lambda m, exc: bad.append((m, str(exc)))))
    expected, rejected = [], []
    for m in messages:
        try:
            expected.append(decode_fast(m.value(), m.headers(), m.key()))
        except DecodeError as exc:
            rejected.append((m, str(exc)))
    assert bad == rejected and len(rejected) >= 50  # the pills decode_fast rejects
    assert len(events) == len(expected) and len({ev.type for ev in events}) >= 8
    for got, want in zip(events, expected, strict=True):
        assert (got.type, got.data, got.model_class, got.key, got.id, got.time) == (
            want.type, want.data, want.model_class, want.key, want.id, want.time)
    assert list(decode_messages([], lambda m, exc: None)) == []


def test_decode_messages_passes_tombstones_through() -> None:
    good = get_scenario("pizza", seed=3, limit=1).records().__next__()
    events = list(decode_messages([Msg(None, list(good.headers), b"ord-1"),
                                   Msg(None, None, b"ord-2")], lambda m, exc: None))
    assert [(e.tombstone, e.key, e.type) for e in events] == [
        (True, "ord-1", "pizza.user.registered"), (True, "ord-2", None)]


def test_decode_columns_gives_what_decode_fast_gives() -> None:
    """A batch decoded as columns: the same types, data and headers as record by record."""
    records = [e.record for e in get_scenario("pizza", seed=3, limit=3000)]
    heads = [list(r.headers) for r in records]
    cols = decode_columns([r.value for r in records], heads)
    assert cols is not None
    maps, types, data = cols
    events = [decode_fast(r.value, h, r.key) for r, h in zip(records, heads, strict=True)]
    assert types == [ev.type for ev in events]
    assert data == [ev.data for ev in events]
    assert maps == [dict(h) for h in heads]
    assert len(set(types)) >= 8  # every stream of the shop is in the sample
    assert decode_columns([], []) == ([], [], [])


@pytest.mark.parametrize("case", ["tombstone", "no-headers", "unknown-type", "missing-type",
                                  "repeated-type", "not-json", "not-object", "unhashable"])
def test_decode_columns_leaves_a_batch_with_an_odd_record_to_decode_fast(case: str) -> None:
    good = [e.record for e in get_scenario("pizza", seed=3, limit=20)]
    values: list[Any] = [r.value for r in good]
    heads: list[Any] = [list(r.headers) for r in good]
    first = heads[5]
    odd = {"tombstone": (None, first), "no-headers": (values[5], None),
           "unknown-type": (values[5], [(n, b"x.y" if n == "ce_type" else v) for n, v in first]),
           "missing-type": (values[5], [(n, v) for n, v in first if n != "ce_type"]),
           "repeated-type": (values[5], [*first, ("ce_type", b"pizza.unicorn.sighted")]),
           "not-json": (values[5][:10], first), "not-object": (b"[1, 2]", first),
           "unhashable": (values[5], [(n, [1] if n == "ce_type" else v) for n, v in first])}
    values[5], heads[5] = odd[case]
    assert decode_columns(values, heads) is None
