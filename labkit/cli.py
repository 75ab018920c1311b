"""``labkit``: the lab's command line.

    labkit install                 fetch Kafka's jars (and make the start-up archive)
    labkit up [--nodes 1|3]        start the lab cluster and wait until it is ready
    labkit down [--purge]          stop it (and delete its data)
    labkit status                  nodes, pids, ports, ready or not
    labkit logs NODE [-n N]        a node's server.log
    labkit reset                   delete the lab's topics and consumer groups
    labkit kafka TOOL ARGS...      run Kafka's own tools against the lab cluster
    labkit lab [--port N]          start JupyterLab on notebooks/ (no browser opened)
    labkit doctor                  check this machine for the lab (each line: ✓, ! or ✗)
    labkit notebooks --student DIR student copies of the lessons, without their solutions
    labkit class up|add|reset|status|down   a class cluster (see labkit/classcli.py)

Errors print one line (what is wrong and how to fix it) and exit with status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from labkit.exceptions import ClusterNotRunningError, LabkitError, NotSupportedError


def cmd_install(args: argparse.Namespace) -> int:
    from labkit.cluster.jars import find_libs
    from labkit.cluster.java import find_java
    from labkit.cluster.jvm import Jvm
    from labkit.cluster.local import train_cds_archive
    from labkit.settings import Settings

    settings = Settings.from_env()
    java = find_java()
    libs = find_libs(settings)
    jvm = Jvm(java, libs)
    print(f"Kafka {settings.kafka_version} jars: {libs}")
    if not jvm.cds_archive.exists():
        print("making the class-data sharing archive (once, ~10 s)...", flush=True)
        train_cds_archive(settings, jvm)
    print(f"Java {java.version}: {java.path}; start-up archive: {jvm.cds_archive}")
    from labkit import streams  # lesson 08's Kafka Streams jars, fetched ahead like Kafka's

    jars, classes = streams.install(settings)
    print(f"Kafka Streams jars: {jars}; lesson 08's topology: {classes}")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    import time

    from labkit.cluster import connect

    t0 = time.monotonic()
    cluster = connect(nodes=args.nodes)
    dead = [n.id for n in cluster.nodes if not n.alive]
    if dead:  # e.g. a lesson stopped a node and its kernel died before restarting it
        cluster.up()
    took = time.monotonic() - t0
    if dead:
        verb = f"running again, restarted node(s) {', '.join(map(str, dead))}"
    else:
        verb = "started" if cluster.started_here else "already running"
    print(
        f"Kafka cluster {verb} ({len(cluster.nodes)} node(s), {took:.1f} s): "
        f"bootstrap.servers={cluster.bootstrap_servers}"
    )
    if args.nodes is None and len(cluster.nodes) < 3:
        print(f"note: the lessons are written for 3 nodes; this cluster has "
              f"{len(cluster.nodes)} (lessons that need 3 say so). For 3: 'labkit down && "
              "labkit up --nodes 3'")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from labkit.cluster import purge, resolve_backend, running_cluster
    from labkit.cluster.state import read_state, remove_state
    from labkit.settings import Settings

    settings = Settings.from_env()
    if resolve_backend(settings) == "external":
        raise NotSupportedError(
            "the external cluster is not the lab's to stop; unset "
            "LABKIT_BOOTSTRAP_SERVERS to manage the local one"
        )
    had_state = read_state(settings) is not None
    cluster = running_cluster(settings)
    if cluster is None:
        if args.purge:
            purge(settings)
            print("no lab cluster was running; its data was deleted")
            return 0
        remove_state(settings)
        if had_state:
            print("the lab cluster had already stopped; removed its stale state file")
            return 0
        raise ClusterNotRunningError(
            "no lab cluster is running, so there is nothing to stop; 'labkit up' starts one"
        )
    cluster.down(purge=args.purge)
    print("Kafka cluster stopped" + (" and its data deleted" if args.purge else ""))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from labkit.cluster import running_cluster

    cluster = running_cluster()
    if cluster is None:
        print("no lab cluster is running ('labkit up' starts one)")
        return 3
    ready: set[int] = set()
    with contextlib.suppress(Exception):
        ready = cluster.broker_ids(timeout=3)
    leader = cluster.quorum_leader()
    print(f"backend: {cluster.backend}   bootstrap.servers={cluster.bootstrap_servers}")
    print(f"{'node':>4}  {'pid':>7}  {'port':>5}  {'controller':>10}  state")
    for n in cluster.nodes:
        state = "ready" if n.id in ready else ("running, not in metadata" if n.alive else "down")
        if n.id == leader:
            state += ", quorum leader"
        print(f"{n.id:>4}  {n.pid or '-':>7}  {n.port:>5}  {n.controller_port or '-':>10}  {state}")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from labkit.cluster import describe

    print(describe().logs(args.node, args.lines))
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    from labkit.cluster import connect

    topics, groups = connect(start=False).reset()  # a class student: only theirs (sNN.)
    print(f"deleted {len(topics)} topic(s) and {len(groups)} consumer group(s)")
    return 0


def cmd_kafka(args: argparse.Namespace) -> int:
    import subprocess

    from labkit.cluster import connect
    from labkit.cluster.jvm import tool_command
    from labkit.cluster.tools import signed_in, tool_jvm

    cluster = connect(start=False)
    tool_args = signed_in(cluster, args.tool, list(args.args))  # credentials, if it needs any
    cmd = tool_command(tool_jvm(cluster), args.tool, tool_args, cluster.bootstrap_servers)
    return subprocess.call(cmd)


def cmd_lab(args: argparse.Namespace) -> int:
    import os

    from labkit.lab import jupyter_command

    if not args.notebooks.is_dir():
        raise LabkitError(f"{args.notebooks} is not a folder; run 'labkit lab' from the repo or "
                          "pass --notebooks")
    cmd = jupyter_command(port=args.port, notebooks=args.notebooks)
    print(f"JupyterLab starts on 127.0.0.1:{args.port}: open the http://127.0.0.1:{args.port}/lab"
          "?token=… URL it prints below. Ctrl-C stops it; the cluster keeps running until "
          "'labkit down'.", flush=True)
    os.execv(cmd[0], cmd)
    return 0  # not reached


def cmd_doctor(args: argparse.Namespace) -> int:
    from labkit.lab.doctor import report

    text, fine = report()
    print(text)
    return 0 if fine else 1


def cmd_notebooks(args: argparse.Namespace) -> int:
    from labkit.lab.copies import write_student_copies

    removed = write_student_copies(args.notebooks, args.student, force=args.force)
    print(f"wrote {len(removed)} student copies to {args.student} "
          f"({sum(removed.values())} solution cells taken out, outputs cleared)")
    return 0


def cmd_produce(args: argparse.Namespace) -> int:
    from labkit.scenarios import get_scenario

    settings = {"seed": args.seed, "poison_fraction": args.poison}
    scenario = get_scenario(args.scenario, limit=None,  # an unknown name fails here, fast
                            **{k: v for k, v in settings.items() if v is not None})
    from labkit.exceptions import ProduceError
    from labkit.producer import produce

    handle = produce(scenario, args.topic, rate=args.rate, seconds=args.seconds,
                     limit=args.limit)
    live = sys.stdout.isatty()  # a live line on a terminal, a line a second otherwise
    stopped = False

    def finished(seconds: float) -> bool:  # its failures are reported below, after the summary
        try:
            return handle.wait(seconds)
        except ProduceError:
            return True

    try:
        while not finished(0.25 if live else 1.0):
            line = f"sent {handle.sent}  acked {handle.acked}  failed {handle.failed}"
            print(f"\r{line}   " if live else line, end="" if live else "\n", flush=True)
    except KeyboardInterrupt:
        stopped = True
        print(("\n" if live else "") + "stopping (Ctrl-C): waiting for records in flight...",
              flush=True)
        handle.stop()
    if live:
        print()
    achieved = handle.acked / handle.elapsed if handle.elapsed > 0 else 0.0
    pace = ("full speed" if args.rate is None else f"--rate {args.rate:g}")
    print(f"achieved rate: {achieved:,.0f} events/s acknowledged ({pace})", flush=True)
    print(("stopped: " if stopped else "done: ") + handle.summary(), flush=True)
    handle.raise_for_errors()
    return 0


# -- argument parsing: every mistake is one line on stderr and exit status 2 ----------------------
class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake prints one line (no usage block) and exits with status 2."""

    commands: dict[str, argparse.ArgumentParser]

    def error(self, message: str) -> NoReturn:
        text = " ".join(message.split())
        self.exit(2, f"labkit: error: {text} (see '{self.prog} --help')\n")


def _whole(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; {what}") from None


def _positive_int(what: str) -> Callable[[str], int]:
    def check(text: str) -> int:
        value = _whole(text, f"use {what} (1 or more)")
        if value < 1:
            raise argparse.ArgumentTypeError(f"{value} is not valid; use {what} (1 or more)")
        return value

    return check


def _float(text: str, fix: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; {fix}") from None


def _positive_number(what: str) -> Callable[[str], float]:
    def check(text: str) -> float:
        value = _float(text, f"use {what} above 0")
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"{text} is not valid; use {what} above 0")
        return value

    return check


def _nodes(text: str) -> int:
    value = _whole(text, "use 1 or 3")
    if value not in (1, 3):
        raise argparse.ArgumentTypeError(f"{value} is not valid; the lab runs 1 or 3 Kafka nodes")
    return value


def _port(text: str) -> int:
    value = _whole(text, "use a TCP port from 1 to 65535")
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port; use one from 1 to 65535")
    return value


def _fraction(text: str) -> float:
    value = _float(text, "use a fraction from 0 to 0.5 (e.g. 0.05)")
    if not 0 <= value <= 0.5:  # also false for nan
        raise argparse.ArgumentTypeError(
            f"{text} is not valid; use a fraction from 0 to 0.5 (e.g. 0.05)")
    return value


def _seed(text: str) -> int:
    value = _whole(text, "use one from 0 to 2**63-1, e.g. 7")
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"{value} is not valid; use one from 0 to 2**63-1")
    return value


def _topic(text: str) -> str:
    """Kafka's own rule for topic names, checked before anything talks to the cluster."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the topic name is empty; give one, e.g. --topic orders")
    if len(text) > 249 or text in (".", "..") or not _TOPIC_CHARS.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text[:60]!r} is not a Kafka topic name; use up to 249 letters, digits, '.', '_' "
            "and '-'")
    return text


_TOPIC_CHARS = re.compile(r"[A-Za-z0-9._-]+")


def build_parser() -> _Parser:
    p = _Parser(prog="labkit", description="The Kafka event-driven patterns lab")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    p.commands = {}

    def command(name: str, func: Callable[[argparse.Namespace], int], help: str) -> _Parser:
        parser = sub.add_parser(name, help=help)
        parser.set_defaults(func=func)
        p.commands[name] = parser
        return parser

    command("install", cmd_install, help="fetch Kafka's jars")
    up = command("up", cmd_up, help="start the lab cluster")
    up.add_argument(
        "--nodes",
        type=_nodes,
        metavar="{1,3}",
        default=None,
        help="number of Kafka nodes (default: LABKIT_NODES or 3)",
    )
    down = command("down", cmd_down, help="stop the lab cluster")
    down.add_argument("--purge", action="store_true", help="also delete the cluster's data")
    command("status", cmd_status, help="show the nodes")
    logs = command("logs", cmd_logs, help="show a node's server.log")
    logs.add_argument("node", type=_positive_int("a node id"), help="the node's id, e.g. 1")
    logs.add_argument("-n", "--lines", type=_positive_int("a number of lines"), default=40,
                      help="how many of the last lines (default: 40)")
    command("reset", cmd_reset, help="delete the lab's topics and groups")
    kafka = command("kafka", cmd_kafka,
                    help="run a Kafka tool, e.g. 'labkit kafka kafka-topics --list'")
    kafka.add_argument("tool", nargs="?", help="e.g. kafka-topics")
    kafka.add_argument("args", nargs=argparse.REMAINDER, help="the tool's own arguments")
    from pathlib import Path

    from labkit.lab import NOTEBOOKS

    lab = command("lab", cmd_lab, help="start JupyterLab on the lessons")
    lab.add_argument("--port", type=_port, default=8888, help="1 to 65535 (default: 8888)")
    lab.add_argument("--notebooks", type=Path, default=NOTEBOOKS)
    command("doctor", cmd_doctor, help="check this machine for the lab")
    nbs = command("notebooks", cmd_notebooks, help="write student copies of the lessons")
    nbs.add_argument("--student", type=Path, required=True, metavar="DIR",
                     help="where the copies go (a folder outside notebooks/)")
    nbs.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="the lessons' folder")
    nbs.add_argument("--force", action="store_true", help="replace copies already in DIR")
    from labkit.classcli import add_class_commands

    add_class_commands(command, _port)
    prod = command("produce", cmd_produce, help="produce a scenario's events to a topic")
    prod.add_argument("scenario", help="a scenario name, e.g. pizza or pizza-orders")
    prod.add_argument("--topic", required=True, type=_topic)
    prod.add_argument("--rate", type=_positive_number("events/s"), default=None,
                      help="events/s (default: full speed)")
    prod.add_argument("--seconds", type=_positive_number("seconds"), default=None,
                      help="stop after S seconds")
    prod.add_argument("--limit", type=_positive_int("a number of events"), default=None,
                      help="stop after N events")
    prod.add_argument("--seed", type=_seed, default=None, help="the scenario's seed")
    prod.add_argument("--poison", type=_fraction, default=None, metavar="F",
                      help="fraction of poison pills (0 to 0.5)")
    return p


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv``; a mistake exits (status 2) with one line naming the command's --help."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        what = f"unrecognized arguments: {' '.join(extra)}; " if extra else ""
        parser.error(f"{what}no command given; use one of {', '.join(parser.commands)}")
    command = parser.commands[args.command]
    if extra:
        command.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "class" and args.class_command is None:
        command.error("no class command given; use up, add, reset, status, progress or "
                      "down")
    if args.command == "kafka" and args.tool is None:
        command.error("no Kafka tool given; name one, e.g. 'labkit kafka kafka-topics --list'")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    try:
        return int(args.func(args) or 0)
    except LabkitError as exc:
        print(f"labkit: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("labkit: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # e.g. the cluster refused a request: one line, no traceback
        print(f"labkit: error: {type(exc).__name__}: {_one_line(exc)}. Hint: 'labkit status' "
              "shows the cluster; 'labkit logs N' a node's log", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":
    sys.exit(main())
