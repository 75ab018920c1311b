"""``labkit``: the lab's command line.

    labkit install                 fetch Kafka's jars (and make the start-up archive)
    labkit up [--nodes 1|3]        start the lab cluster and wait until it is ready
    labkit down [--purge]          stop it (and delete its data)
    labkit status                  nodes, pids, ports, ready or not
    labkit logs NODE [-n N]        a node's server.log
    labkit reset                   delete the lab's topics and consumer groups
    labkit kafka TOOL ARGS...      run Kafka's own tools against the lab cluster
    labkit lab [--port N]          start JupyterLab on notebooks/ (no browser opened)

Errors print one line (what is wrong and how to fix it) and exit with status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

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
    from labkit.kafka import reset

    topics, groups = reset(connect(start=False))
    print(f"deleted {len(topics)} topic(s) and {len(groups)} consumer group(s)")
    return 0


def cmd_kafka(args: argparse.Namespace) -> int:
    import subprocess

    from labkit.cluster import connect
    from labkit.cluster.jvm import tool_command
    from labkit.cluster.tools import tool_jvm

    cluster = connect(start=False)
    cmd = tool_command(tool_jvm(cluster), args.tool, args.args, cluster.bootstrap_servers)
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


def cmd_produce(args: argparse.Namespace) -> int:
    from labkit.producer import produce
    from labkit.scenarios import get_scenario

    settings = {"seed": args.seed, "poison_fraction": args.poison}
    scenario = get_scenario(args.scenario, limit=None,
                            **{k: v for k, v in settings.items() if v is not None})
    handle = produce(scenario, args.topic, rate=args.rate, seconds=args.seconds,
                     limit=args.limit)
    live = sys.stdout.isatty()  # a live line on a terminal, a line a second otherwise
    stopped = False
    try:
        while not handle.wait(0.25 if live else 1.0):
            line = f"sent {handle.sent}  acked {handle.acked}  failed {handle.failed}"
            print(f"\r{line}   " if live else line, end="" if live else "\n", flush=True)
    except KeyboardInterrupt:
        stopped = True
        print(("\n" if live else "") + "stopping (Ctrl-C): waiting for records in flight...",
              flush=True)
        handle.stop()
    if live:
        print()
    print(("stopped: " if stopped else "done: ") + handle.summary(), flush=True)
    handle.raise_for_errors()
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="labkit", description="The Kafka event-driven patterns lab")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("install", help="fetch Kafka's jars").set_defaults(func=cmd_install)
    up = sub.add_parser("up", help="start the lab cluster")
    up.add_argument(
        "--nodes",
        type=int,
        choices=(1, 3),
        default=None,
        help="number of Kafka nodes (default: LABKIT_NODES or 3)",
    )
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="stop the lab cluster")
    down.add_argument("--purge", action="store_true", help="also delete the cluster's data")
    down.set_defaults(func=cmd_down)
    sub.add_parser("status", help="show the nodes").set_defaults(func=cmd_status)
    logs = sub.add_parser("logs", help="show a node's server.log")
    logs.add_argument("node", type=int)
    logs.add_argument("-n", "--lines", type=int, default=40)
    logs.set_defaults(func=cmd_logs)
    sub.add_parser("reset", help="delete the lab's topics and groups").set_defaults(func=cmd_reset)
    kafka = sub.add_parser(
        "kafka", help="run a Kafka tool, e.g. 'labkit kafka kafka-topics --list'"
    )
    kafka.add_argument("tool")
    kafka.add_argument("args", nargs=argparse.REMAINDER)
    kafka.set_defaults(func=cmd_kafka)
    from pathlib import Path

    from labkit.lab import NOTEBOOKS

    lab = sub.add_parser("lab", help="start JupyterLab on the lessons")
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--notebooks", type=Path, default=NOTEBOOKS)
    lab.set_defaults(func=cmd_lab)
    prod = sub.add_parser("produce", help="produce a scenario's events to a topic")
    prod.add_argument("scenario", help="a scenario name, e.g. pizza or pizza-orders")
    prod.add_argument("--topic", required=True)
    prod.add_argument("--rate", type=float, default=None, help="events/s (default: full speed)")
    prod.add_argument("--seconds", type=float, default=None, help="stop after S seconds")
    prod.add_argument("--limit", type=int, default=None, help="stop after N events")
    prod.add_argument("--seed", type=int, default=None, help="the scenario's seed")
    prod.add_argument("--poison", type=float, default=None, metavar="F",
                      help="fraction of poison pills (0 to 0.5)")
    prod.set_defaults(func=cmd_produce)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except LabkitError as exc:
        print(f"labkit: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("labkit: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # e.g. the cluster refused a request: one line, no traceback
        print(f"labkit: error: {type(exc).__name__}: {exc}. Hint: 'labkit status' shows the "
              "cluster; 'labkit logs N' a node's log", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
