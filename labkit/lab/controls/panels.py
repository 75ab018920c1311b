"""The producer, consumer and broker panels (see :mod:`labkit.lab.controls`)."""

from __future__ import annotations

import concurrent.futures
import functools
import html
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from labkit.cluster import resolve
from labkit.exceptions import ControlError
from labkit.kafka.topics import listing, partition_ids
from labkit.moments import announce
from labkit.validate import aware, choice
from labkit.waiting import Deadline

if TYPE_CHECKING:
    import pandas as pd
    from confluent_kafka import Consumer, Message

    from labkit.cluster import Cluster


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
    (next offset per partition), ``paused``, ``polls_while_paused``, ``errors``. The loop runs
    until :meth:`stop` (or, if given, for at most ``max_seconds``).
    """

    def __init__(self, topic: str, group: str, *, cluster: Cluster | None = None,
                 on_record: Callable[[Message], Any] | None = None,
                 auto_offset_reset: str = "earliest", max_seconds: float | None = None,
                 extra_config: dict[str, Any] | None = None) -> None:
        import ipywidgets as w

        super().__init__()
        self.cluster = resolve(cluster)
        choice("auto_offset_reset", auto_offset_reset, ("earliest", "latest"))
        partition_ids(self.cluster, topic)  # an unknown topic fails here, at once
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
        when = aware("when", when) if when is not None else (
            datetime.now(UTC) - timedelta(minutes=float(minutes_ago or 0)))
        ms = int(when.timestamp() * 1000)
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

        wanted = [TopicPartition(self.topic, p, ms) for p in partition_ids(self.cluster,
                                                                              self.topic)]
        found = consumer.offsets_for_times(wanted, timeout=timeout)
        for tp in found:
            if tp.offset < 0:  # no record that new: the end of the partition
                tp.offset = consumer.get_watermark_offsets(tp, timeout=timeout)[1]
        assigned = {tp.partition for tp in consumer.assignment()}
        for tp in found:
            if tp.partition in assigned:
                consumer.seek(tp)
        consumer.commit(offsets=found, asynchronous=False)
        announce(f"{self.group} offsets reset")
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

        lifetime = None if self.max_seconds is None else Deadline(self.max_seconds)
        consumer = Consumer(self.config)
        shown = 0.0
        try:
            consumer.subscribe([self.topic])
            while not self._stop_now.is_set() and not (lifetime and lifetime.passed):
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
                partition, offset = msg.partition(), msg.offset()
                if partition is not None and offset is not None:  # always set on a record
                    self.positions[partition] = offset + 1
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
        self.cluster = resolve(cluster)
        self.topic = topic
        if topic is not None:
            partition_ids(self.cluster, topic)  # an unknown topic fails here, at once
        self.table: pd.DataFrame | None = None
        self.table_html = w.HTML()
        self.node_labels = {n.id: w.HTML() for n in self.cluster.nodes}
        for i in self.node_labels:
            for verb, style in (("stop", ""), ("kill", "danger"), ("restart", "success")):
                action = getattr(self, verb)
                self._button(verb, functools.partial(action, i), style, key=(i, verb))
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

        topics = listing(self.cluster)
        rows = [{"topic": name, "partition": p, "leader": part.leader,
                 "replicas": list(part.replicas), "isr": list(part.isrs),
                 "under_replicated": len(part.isrs) < len(part.replicas)}
                for name, t in topics.items() if self.topic in (None, name)
                for p, part in sorted(t.partitions.items())]
        self.table = pd.DataFrame(rows, columns=["topic", "partition", "leader", "replicas",
                                                 "isr", "under_replicated"])
        self.table_html.value = self.table.to_html(index=False)
        self._show_nodes()
        self._say(f"metadata lists brokers {sorted(self.cluster.broker_ids())}")
        return self.table

