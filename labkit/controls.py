"""Lab controls (ipywidgets): a producer, a consumer, the brokers and a time-travel slider.

Every button calls a plain method (``start``, ``pause``, ``kill``...), so code and tests can
drive a panel without a browser. Methods raise; a button shows the error in the panel's
``status`` line and keeps it in ``last_error``. Show a panel by leaving it last in a cell.
"""

from __future__ import annotations

import concurrent.futures
import copy
import html
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from labkit.exceptions import LabkitError

if TYPE_CHECKING:
    import pandas as pd
    from confluent_kafka import Consumer, Message

    from labkit.cluster import Cluster


class ControlError(LabkitError):
    """A lab control was used in a way that cannot work right now."""


def _cluster(cluster: Cluster | None) -> Cluster:
    if cluster is not None:
        return cluster
    from labkit.cluster import connect

    return connect()


class _Panel:
    """What every panel shares: a widget to show, a status line, the last error."""

    def __init__(self) -> None:
        import ipywidgets as w

        self.widget: Any = None
        self.status = w.HTML()
        self.message = ""
        self.last_error: BaseException | None = None
        self.buttons: dict[Any, Any] = {}
        """Every button by its label (by (node id, label) in BrokerPanel)."""

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message = text
        color = "firebrick" if error else "inherit"
        self.status.value = f'<span style="color:{color}">{html.escape(text)}</span>'

    def _button(self, label: str, action: Callable[[], Any], style: str = "",
                key: Any = None) -> Any:
        import ipywidgets as w

        button = w.Button(description=label, button_style=style, layout=w.Layout(width="auto"))
        button.on_click(lambda _b: self._guard(action))
        self.buttons[key or label] = button
        return button

    def _box(self, title: str, *rows: Any) -> Any:
        import ipywidgets as w

        return w.VBox([w.HTML(f"<b>{html.escape(title)}</b>"), *rows, self.status])

    def _guard(self, action: Callable[[], Any]) -> None:
        try:
            action()
        except Exception as exc:  # shown to the student, kept for code and tests
            self.last_error = exc
            self._say(f"{type(exc).__name__}: {exc}", error=True)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


# -- producer ----------------------------------------------------------------------------------
class ProducerPanel(_Panel):
    """Start, pause, resume and stop a producer; a slider sets its rate.

    ``factory()`` starts a producer and returns its handle: anything with ``stop()``,
    ``pause()``, ``resume()`` and a settable ``rate`` (like ``labkit.produce``'s).
    Its counters ``sent``/``acked``/``failed``/``bytes`` are shown where it has them.
    """

    COUNTERS = ("sent", "acked", "failed", "bytes")

    def __init__(self, factory: Callable[[], Any], *, rate: float = 10.0,
                 max_rate: float = 1000.0, title: str = "producer") -> None:
        import math

        import ipywidgets as w

        super().__init__()
        if not 1 <= rate <= max_rate:
            raise ControlError(f"rate={rate!r}: give events/s from 1 to max_rate={max_rate}")
        self.factory = factory
        self.handle: Any = None
        self._stopped = True
        self.rate = w.FloatLogSlider(value=rate, base=10, min=0, max=math.log10(max_rate),
                                     step=0.05, description="events/s")
        self.rate.observe(lambda ch: self._guard(lambda: self._set_rate(ch["new"])),
                          names="value")
        buttons = [self._button("start", self.start, "success"),
                   self._button("pause", self.pause), self._button("resume", self.resume),
                   self._button("stop", self.stop, "danger"),
                   self._button("refresh", self.refresh)]
        self.widget = self._box(title, w.HBox(buttons), self.rate)
        self._say("stopped: press start")

    @property
    def running(self) -> bool:
        """Started and not stopped (by the button, or by itself if the handle has ``running``)."""
        return not self._stopped and bool(getattr(self.handle, "running", True))

    def start(self) -> Any:
        if self.running:
            raise ControlError("the producer already runs; press stop first")
        handle = self.factory()
        missing = [a for a in ("stop", "pause", "resume", "rate") if not hasattr(handle, a)]
        if missing:
            raise ControlError(f"the factory returned a {type(handle).__name__} without "
                               f"{', '.join(missing)}; make it return a producer handle")
        self.handle, self._stopped = handle, False
        handle.rate = self.rate.value
        self.refresh()
        return handle

    def _running_handle(self) -> Any:
        if not self.running:
            raise ControlError("no producer is running; press start first")
        return self.handle

    def pause(self) -> None:
        self._running_handle().pause()
        self.refresh("paused")

    def resume(self) -> None:
        self._running_handle().resume()
        self.refresh()

    def stop(self) -> None:
        self._running_handle().stop()
        self._stopped = True
        self.refresh()

    def _set_rate(self, rate: float) -> None:
        if self.running:
            self.handle.rate = rate
            self.refresh()

    def refresh(self, state: str | None = None) -> dict[str, Any]:
        """Show (and return) the handle's counters."""
        h = self.handle
        counts = {k: getattr(h, k) for k in self.COUNTERS if h is not None and hasattr(h, k)}
        state = state or ("running" if self.running else "stopped")
        rate = getattr(h, "rate", self.rate.value)
        speed = "full speed" if rate is None else f"{float(rate):g} events/s"
        shown = ", ".join(f"{k} {v}" for k, v in counts.items())
        self._say(f"{state} at {speed}" + (f": {shown}" if shown else ""))
        return counts


# -- consumer ----------------------------------------------------------------------------------
class ConsumerPanel(_Panel):
    """A consumer of ``topic`` in ``group``, polled by a thread this panel owns: start, pause,
    resume, stop, and reset the group's offsets to a time ("minutes ago").

    ``on_record(msg)`` runs in that thread for each record. State: ``consumed``, ``positions``
    (next offset per partition), ``paused``, ``polls_while_paused``, ``errors``. The loop ends
    by itself after ``max_seconds``.
    """

    def __init__(self, topic: str, group: str, *, cluster: Cluster | None = None,
                 on_record: Callable[[Message], Any] | None = None,
                 auto_offset_reset: str = "earliest", max_seconds: float = 3600.0,
                 extra_config: dict[str, Any] | None = None) -> None:
        import ipywidgets as w

        super().__init__()
        self.cluster = _cluster(cluster)
        self.topic, self.group, self.on_record = topic, group, on_record
        self.max_seconds = max_seconds
        self.config = self.cluster.config(group_id=group, auto_offset_reset=auto_offset_reset,
                                          **(extra_config or {}))
        self.consumed = self.polls_while_paused = 0
        self.positions: dict[int, int] = {}
        self.paused = False
        self.errors: list[str] = []
        self._thread: threading.Thread | None = None
        self._stop_now = threading.Event()
        self._commands: queue.Queue[tuple[str, Any, concurrent.futures.Future[Any]]]
        self._commands = queue.Queue()
        self.minutes_ago = w.IntSlider(value=5, min=0, max=120, description="minutes ago")
        reset = self._button("reset offsets", self._reset_clicked, "warning")
        buttons = [self._button("start", self.start, "success"),
                   self._button("pause", self.pause), self._button("resume", self.resume),
                   self._button("stop", self.stop, "danger")]
        self.widget = self._box(f"consumer · group {group} · {topic}", w.HBox(buttons),
                                w.HBox([self.minutes_ago, reset]))
        self._say("stopped: press start")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            raise ControlError("the consumer already runs; press stop first")
        self._stop_now.clear()
        self.paused = False
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name=f"labkit-consumer-{self.group}")
        self._thread.start()
        self._say("running")

    def stop(self, *, timeout: float = 15.0) -> None:
        """Stop the loop and close the consumer (it leaves the group)."""
        if self._thread is None:
            raise ControlError("the consumer is not running; press start first")
        self._stop_now.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise ControlError(f"the consumer did not stop within {timeout:.0f}s; try again")
        self._thread = None
        self._say(f"stopped after {self.consumed} records")

    def pause(self, *, timeout: float = 15.0) -> None:
        """Stop fetching (the consumer stays in the group); returns once it has paused."""
        self._command("pause", None, timeout)

    def resume(self, *, timeout: float = 15.0) -> None:
        self._command("resume", None, timeout)

    def _reset_clicked(self) -> None:
        self.reset_to(minutes_ago=self.minutes_ago.value)

    def reset_to(self, when: datetime | None = None, *, minutes_ago: float | None = None,
                 timeout: float = 15.0) -> dict[int, int]:
        """Move the group to the first offset at or after ``when`` (or ``minutes_ago``) in
        each partition: commit it, and seek there if running. Returns the new offsets."""
        if (when is None) == (minutes_ago is None):
            raise ControlError("give either when=<datetime> or minutes_ago=<number>")
        when = when or datetime.now(UTC) - timedelta(minutes=float(minutes_ago or 0))
        ms = int((when if when.tzinfo else when.astimezone()).timestamp() * 1000)
        if self.running:
            return dict(self._command("reset", ms, timeout))
        from confluent_kafka import Consumer

        consumer = Consumer(self.config)
        try:
            return self._reset(consumer, ms, timeout)
        finally:
            consumer.close()

    def _command(self, name: str, arg: Any, timeout: float) -> Any:
        if not self.running:
            raise ControlError("the consumer is not running; press start first")
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._commands.put((name, arg, fut))
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            raise ControlError(f"the consumer did not {name} within {timeout:.0f}s") from None

    def _reset(self, consumer: Consumer, ms: int, timeout: float) -> dict[int, int]:
        from confluent_kafka import TopicPartition

        md = consumer.list_topics(self.topic, timeout=timeout).topics.get(self.topic)
        if md is None or md.error is not None:
            raise ControlError(f"topic {self.topic!r} does not exist")
        wanted = [TopicPartition(self.topic, p, ms) for p in sorted(md.partitions)]
        found = consumer.offsets_for_times(wanted, timeout=timeout)
        for tp in found:
            if tp.offset < 0:  # no record that new: the end of the partition
                tp.offset = consumer.get_watermark_offsets(tp, timeout=timeout)[1]
        assigned = {tp.partition for tp in consumer.assignment()}
        for tp in found:
            if tp.partition in assigned:
                consumer.seek(tp)
        consumer.commit(offsets=found, asynchronous=False)
        new = {tp.partition: tp.offset for tp in found}
        self.positions.update(new)
        stamp = datetime.fromtimestamp(ms / 1000, UTC)
        self._say(f"offsets reset to {stamp:%H:%M:%S} UTC: {new}")
        return new

    def _run_commands(self, consumer: Consumer) -> None:
        while not self._commands.empty():
            name, arg, fut = self._commands.get_nowait()
            try:
                if name == "reset":
                    fut.set_result(self._reset(consumer, arg, 15.0))
                    continue
                self.paused = name == "pause"
                if parts := consumer.assignment():
                    (consumer.pause if self.paused else consumer.resume)(parts)
                fut.set_result(None)
                self._say(f"{'paused' if self.paused else 'running'}: {self.consumed} records")
            except Exception as exc:
                fut.set_exception(exc)

    def _loop(self) -> None:
        from confluent_kafka import Consumer

        deadline = time.monotonic() + self.max_seconds
        consumer = Consumer(self.config)
        shown = 0.0
        try:
            consumer.subscribe([self.topic])
            while not self._stop_now.is_set() and time.monotonic() < deadline:
                self._run_commands(consumer)
                if self.paused:  # partitions assigned by a rebalance come unpaused
                    consumer.pause(consumer.assignment())
                msg = consumer.poll(0.2)
                self.polls_while_paused += self.paused
                if msg is None:
                    continue
                if msg.error():
                    self.errors.append(str(msg.error()))
                    self._say(f"error: {msg.error()}", error=True)
                    continue
                self.consumed += 1
                self.positions[msg.partition()] = msg.offset() + 1
                if self.on_record is not None:
                    self.on_record(msg)
                if time.monotonic() - shown >= 0.5:  # at most 2 status updates a second
                    shown = time.monotonic()
                    self._say(f"running: {self.consumed} records")
        except Exception as exc:
            self.last_error = exc
            self._say(f"consumer stopped: {type(exc).__name__}: {exc}", error=True)
        finally:
            consumer.close()
            while not self._commands.empty():
                self._commands.get_nowait()[2].set_exception(
                    ControlError("the consumer stopped before it could do that"))


# -- brokers -----------------------------------------------------------------------------------
class BrokerPanel(_Panel):
    """Stop (cleanly), kill (crash) or restart each node; a leader/ISR table on ``refresh``."""

    def __init__(self, *, cluster: Cluster | None = None, topic: str | None = None) -> None:
        import ipywidgets as w

        super().__init__()
        self.cluster = _cluster(cluster)
        self.topic = topic
        self.table: pd.DataFrame | None = None
        self.table_html = w.HTML()
        self.node_labels = {n.id: w.HTML() for n in self.cluster.nodes}
        for i in self.node_labels:
            for verb, style in (("stop", ""), ("kill", "danger"), ("restart", "success")):
                action = getattr(self, verb)
                self._button(verb, lambda a=action, i=i: a(i), style, key=(i, verb))
        rows = [w.HBox([label, *(self.buttons[i, v] for v in ("stop", "kill", "restart"))])
                for i, label in self.node_labels.items()]
        self.widget = self._box("brokers", *rows, self._button("refresh", self.refresh),
                                self.table_html)
        self._show_nodes()

    def alive(self) -> dict[int, bool]:
        """Whether each node's process runs (the backend's view, not the metadata's)."""
        return {n.id: n.alive for n in self.cluster.nodes}

    def _show_nodes(self) -> None:
        for n in self.cluster.nodes:
            self.node_labels[n.id].value = (f"node {n.id} <code>:{n.port}</code> "
                                            f"<b>{'up' if n.alive else 'DOWN'}</b>")

    def _act(self, verb: str, node_id: int, action: Callable[[int], None]) -> None:
        self._say(f"{verb} node {node_id}…")
        action(node_id)
        self._show_nodes()
        self._say(f"node {node_id}: {verb} done")

    def stop(self, node_id: int) -> None:
        """Controlled shutdown (SIGTERM): leadership moves away first."""
        self._act("stopping", node_id, self.cluster.stop_node)

    def kill(self, node_id: int) -> None:
        """SIGKILL, as a crash would."""
        self._act("killing", node_id, self.cluster.kill_node)

    def restart(self, node_id: int) -> None:
        """Start the node again; returns once it is back in the metadata."""
        self._act("restarting", node_id, self.cluster.start_node)

    def refresh(self) -> pd.DataFrame:
        """Fill the table (and return it): leader, replicas and in-sync replicas of every
        partition of ``topic``, or of every lab topic."""
        import pandas as pd

        md = self.cluster.admin().list_topics(topic=self.topic, timeout=10)
        rows = [{"topic": name, "partition": p, "leader": part.leader,
                 "replicas": list(part.replicas), "isr": list(part.isrs),
                 "under_replicated": len(part.isrs) < len(part.replicas)}
                for name, t in sorted(md.topics.items())
                if not name.startswith("__") and t.error is None
                for p, part in sorted(t.partitions.items())]
        self.table = pd.DataFrame(rows, columns=["topic", "partition", "leader", "replicas",
                                                 "isr", "under_replicated"])
        self.table_html.value = self.table.to_html(index=False)
        self._show_nodes()
        self._say(f"metadata lists brokers {sorted(md.brokers)}")
        return self.table


# -- time travel -------------------------------------------------------------------------------
def _decode(msg: Message) -> Any:
    from labkit.codec import decode_fast

    where = f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"
    return decode_fast(msg.value(), msg.headers(), msg.key(), where=where)


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
        self.cluster = _cluster(cluster)
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
        from confluent_kafka import Consumer, TopicPartition

        from labkit.charts import partitions

        parts = ([self.partition] if self.partition is not None
                 else partitions(self.cluster, self.topic))
        consumer = Consumer(self.cluster.config(
            group_id=f"labkit-timetravel-{self.topic}", enable_auto_commit=False,
            **(self.extra_config or {})))
        records, skipped = [], []
        try:
            marks = {p: consumer.get_watermark_offsets(TopicPartition(self.topic, p),
                                                       timeout=self.timeout) for p in parts}
            total = sum(hi - lo for lo, hi in marks.values())
            if total > self.max_records:
                raise ControlError(f"{self.topic!r} holds {total} records, more than "
                                   f"max_records={self.max_records}; raise it")
            pos = {p: lo for p, (lo, _hi) in marks.items()}
            consumer.assign([TopicPartition(self.topic, p, lo) for p, (lo, hi) in marks.items()
                             if hi > lo])
            deadline = time.monotonic() + self.timeout
            while any(pos[p] < marks[p][1] for p in parts):
                if time.monotonic() > deadline:
                    raise ControlError(f"read {len(records) + len(skipped)} of {total} records "
                                       f"of {self.topic!r} in {self.timeout:.0f}s; pass timeout=")
                for msg in consumer.consume(500, timeout=0.5):
                    if msg.error():
                        raise ControlError(f"reading {self.topic!r} failed: {msg.error()}")
                    p, o = msg.partition(), msg.offset()
                    if o >= marks[p][1]:
                        continue  # written after load() began
                    pos[p] = o + 1
                    try:
                        records.append((msg.timestamp()[1], p, o, self.decode(msg)))
                    except LabkitError as exc:
                        skipped.append(str(exc))
        finally:
            consumer.close()
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
        ms = int((when if when.tzinfo else when.astimezone()).timestamp() * 1000)
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
