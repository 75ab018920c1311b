"""The scenarios' fast path: records encoded from plain dicts, no pydantic model on the way.

Byte-identical to encoding the models (``codec.encode_fast``): tests check both paths give
the same records. What makes it fast: a header template per event type (only ``ce_id``,
``ce_time`` and ``ce_subject`` vary), ``orjson`` on the dict, event ids drawn and formatted
1,024 at a time (one ``getrandbits`` call, one hex text, hyphens placed by numpy; the same
ids as ``uuid.UUID(int=getrandbits(128), version=4)`` one by one), and ``ce_time`` from a
table of the 60,000 milliseconds of a minute (the date, hour and minute formatted once a
simulated minute).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from labkit.codec import CONTENT_TYPE, SPECVERSION
from labkit.events import Event

SPEC_HEADER = ("ce_specversion", SPECVERSION.encode())
CONTENT_HEADER = ("content-type", CONTENT_TYPE.encode())

_V4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_V4_SET = (0x8000 << 48) | (4 << 76)


def uuid4_text(bits: int) -> str:
    """``str(uuid.UUID(int=bits, version=4))``, about 4x faster."""
    h = "%032x" % (bits & _V4_CLEAR | _V4_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


ID_BATCH = 1024
"""Event ids drawn per ``getrandbits`` call."""


@cache
def _id_plan(batch: int) -> tuple[int, int, Any]:
    """Masks for ``batch`` ids in one int, and where each of an id's 36 characters comes from
    in the batch's hex text (the hyphen from one ``-`` appended at its end)."""
    import numpy as np

    word = (1 << 128) - 1
    clear = sum((word & _V4_CLEAR) << (128 * i) for i in range(batch))
    setv = sum(_V4_SET << (128 * i) for i in range(batch))
    one = [j - (j > 8) - (j > 13) - (j > 18) - (j > 23) for j in range(36)]
    gaps = (8, 13, 18, 23)
    src = [32 * batch if j in gaps else 32 * (batch - 1 - i) + one[j]  # id i: lowest bits
           for i in range(batch) for j in range(36)]
    return clear, setv, np.array(src, dtype=np.intp)


def uuid4_ids(getrandbits: Callable[[int], int], batch: int = ID_BATCH) -> Iterator[bytes]:
    """``str(uuid.UUID(int=getrandbits(128), version=4)).encode()`` for ever, the same ids in
    the same order: ``getrandbits(128 * n)`` holds the n draws of ``getrandbits(128)``, the
    first in the lowest bits (CPython fills 32-bit words from the lowest). Batch by batch,
    chained (its ``__next__`` is C code: no generator resumed per id)."""
    return itertools.chain.from_iterable(_id_batches(getrandbits, batch))


def _id_batches(getrandbits: Callable[[int], int], batch: int) -> Iterator[list[bytes]]:
    import numpy as np

    clear, setv, src = _id_plan(batch)
    size, width = 16 * batch, 36 * batch
    while True:
        bits = getrandbits(128 * batch) & clear | setv
        text = np.frombuffer(bits.to_bytes(size, "big").hex().encode() + b"-", dtype=np.uint8)
        ids = text[src].tobytes()
        yield [ids[i:i + 36] for i in range(0, width, 36)]


def time_text(time: datetime) -> str:
    """A datetime as pydantic (and the codec) write it: ISO 8601, ``Z`` for UTC."""
    text = time.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class TypePlan:
    """What stays the same for every record of one event type."""

    __slots__ = ("cls", "key_field", "kind", "source", "type")

    def __init__(self, cls: type[Event]) -> None:
        self.cls = cls
        self.key_field = cls.key_field
        self.kind = cls.kind
        self.type = ("ce_type", cls.ce_type.encode())
        self.source = ("ce_source", cls.source.encode())


EXACT_UP_TO = 1e8
"""Simulated seconds below which ``round(at * 1000)`` is exactly the clock's milliseconds."""


@cache
def _minute_tails() -> list[bytes]:
    """``ce_time``'s end for each millisecond of a minute: ``SS.mmm000Z``, or ``SSZ``."""
    return [f"{ms // 1000:02d}.{ms % 1000:03d}000Z".encode() if ms % 1000
            else f"{ms // 1000:02d}Z".encode() for ms in range(60_000)]


class Clock:
    """``ce_time`` text for ``start + at`` seconds (``at`` rounded to milliseconds), as
    ``codec.encode_fast`` writes it; the date, hour and minute are formatted once a minute,
    the rest comes from a table (a start with a fraction of a millisecond: the exact way).
    ``text`` is a closure: its state in cells, not attributes (it runs for every record);
    its first test is the whole common case (a millisecond of the minute cached)."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        utc = start.astimezone(UTC)
        base = utc.replace(second=0, microsecond=0)  # a whole minute
        first, sub = divmod(utc.second * 1_000_000 + utc.microsecond, 1000)
        tails = _minute_tails()
        last = int(EXACT_UP_TO * 1000)  # a cached minute ends by then: at < EXACT_UP_TO in it
        shift = -(1 << 62)  # first - the cached minute's start (ms since base): none yet
        prefix = b""

        def text(at: float) -> bytes:
            nonlocal shift, prefix
            k = int(at * 1000.0 + 0.5) + shift  # round(at * 1000): at is whole milliseconds
            if 0 <= k < 60_000 and at >= 0.0:  # in the cached minute
                return prefix + tails[k]
            if sub or not 0 <= at < EXACT_UP_TO:  # the exact, slow way
                return time_text((start + timedelta(seconds=at)).astimezone(UTC)).encode()
            ms = first + int(at * 1000.0 + 0.5)
            lo = ms - ms % 60_000
            head = (base + timedelta(milliseconds=lo)).isoformat()[:17].encode()
            if lo + 60_000 - first <= last:
                shift, prefix = first - lo, head
            return head + tails[ms - lo]

        self.text = text
