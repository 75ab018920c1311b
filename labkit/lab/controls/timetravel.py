"""The time-travel slider: rebuild state as of a chosen offset or time (a lab control)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from labkit.cluster import resolve
from labkit.exceptions import ControlError, LabkitError
from labkit.kafka.ranges import BoundedReader
from labkit.lab.controls.panels import _Panel
from labkit.validate import aware

if TYPE_CHECKING:
    from confluent_kafka import Message

    from labkit.cluster import Cluster


def _decode(msg: Message) -> Any:
    from labkit.codec import decode_fast

    where = f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"
    # the stub types headers() like produce()'s input; a consumed record's are (str, bytes|None)
    return decode_fast(msg.value(), msg.headers(), msg.key(), where=where)  # type: ignore[arg-type]


class TimeTravel(_Panel):
    """Rebuild state as of any point of a topic: the slider picks how many events are folded.

    Records are read once (``load``, or the reload button) and kept, in offset order for one
    ``partition``, else in timestamp order across partitions. Moving forward folds only the
    new events; moving back starts again from a deep copy of ``initial``. ``fold(state, event)
    -> state`` gets ``decode(msg)`` (default: the decoded pizza-shop event; records that raise
    a LabkitError there are skipped and listed in ``skipped``); ``render(state)`` draws.
    """

    def __init__(self, topic: str, fold: Callable[[Any, Any], Any], initial: Any, *,
                 cluster: Cluster | None = None, render: Callable[[Any], Any] | None = None,
                 partition: int | None = None, decode: Callable[[Message], Any] = _decode,
                 max_records: int = 100_000, timeout: float = 30.0,
                 extra_config: dict[str, Any] | None = None) -> None:
        import ipywidgets as w

        super().__init__()
        self.cluster = resolve(cluster)
        self.topic, self.fold, self.initial, self.render = topic, fold, initial, render
        self.partition, self.decode = partition, decode
        self.max_records, self.timeout, self.extra_config = max_records, timeout, extra_config
        self.records: list[tuple[int, int, int, Any]] = []  # (ms, partition, offset, event)
        self.skipped: list[str] = []
        self.applied = -1  # events folded into last_state (-1: none built yet)
        self.last_state: Any = None
        self.slider = w.IntSlider(min=0, max=0, description="events",
                                  layout=w.Layout(width="80%"))
        self.slider.observe(lambda ch: self._guard(lambda: self.go(ch["new"])), names="value")
        self.output = w.Output()
        self.widget = self._box(f"time travel · {topic}",
                                w.HBox([self.slider, self._button("reload", self.load)]))
        self.widget.children += (self.output,)
        self.load()

    def load(self) -> int:
        """(Re)read the topic up to its current end and show the latest state; returns how
        many events it holds."""
        records, skipped = [], []
        with BoundedReader(self.cluster, self.topic, timeout=self.timeout,
                           extra_config=self.extra_config) as reader:
            parts = reader.partitions(self.partition)
            ranges = reader.ranges(parts)  # from the log start to the high watermark now
            total = sum(stop - first for first, stop in ranges.values())
            if total > self.max_records:
                raise ControlError(f"{self.topic!r} holds {total} records, more than "
                                   f"max_records={self.max_records}; raise it")
            for msg in reader.records(ranges):
                try:
                    records.append((msg.timestamp()[1], msg.partition(), msg.offset(),
                                    self.decode(msg)))
                except LabkitError as exc:
                    skipped.append(str(exc))
        if len(parts) > 1:
            records.sort(key=lambda r: (r[0], r[1], r[2]))
        self.records, self.skipped = records, skipped
        self.applied, self.last_state = -1, None
        self.slider.max = len(records)
        self._jump(len(records))
        return len(records)

    def go(self, count: int) -> Any:
        """The state after folding the first ``count`` events (rendered); returns it."""
        if not 0 <= count <= len(self.records):
            raise ControlError(f"count={count}: choose from 0 to {len(self.records)} events")
        if count == self.applied:
            return self.last_state
        if count < self.applied or self.applied < 0:
            state, start = copy.deepcopy(self.initial), 0
        else:
            state, start = self.last_state, self.applied
        for _ts, p, o, event in self.records[start:count]:
            state = self.fold(state, event)
            if state is None:
                raise ControlError(f"fold returned None at {self.topic}[{p}]@{o}; make it "
                                   "return the new state")
        self.last_state, self.applied = state, count
        self._show(count)
        return state

    def at_offset(self, offset: int) -> Any:
        """The state after every event before ``offset`` (of the one partition)."""
        if len({r[1] for r in self.records}) > 1:
            raise ControlError("offsets are per partition: pass partition= to TimeTravel")
        return self._jump(sum(1 for r in self.records if r[2] < offset))

    def at_time(self, when: datetime) -> Any:
        """The state after the events before the first one stamped later than ``when``."""
        ms = int(aware("when", when).timestamp() * 1000)
        return self._jump(next((i for i, r in enumerate(self.records) if r[0] > ms),
                               len(self.records)))

    def _jump(self, count: int) -> Any:
        state = self.go(count)
        self.slider.value = count  # its callback then finds nothing left to do
        return state

    def _show(self, count: int) -> None:
        where = "nothing folded yet"
        if count:
            ts, p, o, _event = self.records[count - 1]
            stamp = datetime.fromtimestamp(ts / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]
            where = f"up to {self.topic}[{p}]@{o}, stamped {stamp} UTC"
        note = f" · {len(self.skipped)} undecodable skipped" if self.skipped else ""
        self._say(f"{count} of {len(self.records)} events · {where}{note}")
        if self.render is not None:
            from IPython.display import clear_output, display

            with self.output:
                clear_output(wait=True)
                if (shown := self.render(self.last_state)) is not None:
                    display(shown)
