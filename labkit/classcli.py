"""``labkit class …``: the instructor's commands for a class cluster.

    labkit class up --students N --host ADDRESS [--dir DIR] [--port N]
    labkit class add sNN            a student (again): new password, new sNN.properties
    labkit class reset sNN          that student's topics, groups and offsets only
    labkit class status             per student: topics, log bytes, groups, lag, throttle, checks
    labkit class progress           students x exercise checks, from class.progress
    labkit class down [--purge]     stop it (and delete its data)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["add_class_commands"]


def cmd_up(args: argparse.Namespace) -> int:
    from labkit import classroom

    t0 = time.monotonic()
    cluster = classroom.up(args.students, args.host, args.dir, port=args.port)
    spec = cluster.spec
    print(f"class cluster started in {time.monotonic() - t0:.1f} s: "
          f"bootstrap.servers={cluster.bootstrap_servers} (SASL_SSL, SCRAM-SHA-512)")
    print(f"{spec.students} students s01..s{spec.students:02d}; hand out "
          f"{spec.folder}/sNN.properties and {spec.folder}/ca.pem (each student their own)")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from labkit import classroom

    path = classroom.add_student(classroom.class_cluster(), args.student)
    print(f"{args.student}: new credentials in {path}")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    from labkit import classroom

    topics, groups = classroom.reset_student(classroom.class_cluster(), args.student)
    print(f"{args.student}: deleted {len(topics)} topic(s) and {len(groups)} consumer "
          "group(s); the other students' are untouched")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from labkit import classroom

    cluster = classroom.class_cluster()
    print(f"class cluster {cluster.bootstrap_servers}: "
          f"{len(cluster.alive_nodes())} of 3 nodes running")
    rows = classroom.status(cluster)
    print(f"{'student':<8} {'topics':>6} {'log bytes':>12} {'groups':>6} {'lag':>8} "
          f"{'throttle ms':>11} {'checks passed':>13}")
    for row in rows:
        ms = classroom.throttle_text(row["throttle_ms"])
        print(f"{row['student']:<8} {row['topics']:>6} {row['bytes']:>12,} "
              f"{row['groups']:>6} {row['lag']:>8,} {ms:>11} {row['passed']:>13}")
    if any(row["throttle_ms"] is None for row in rows):
        print("throttle ms: unknown, the nodes serve no metrics (a class started by an older "
              "labkit); 'labkit class down' and 'labkit class up' restart them with metrics")
    else:
        print("throttle ms: the longest time Kafka's quotas held back a student's responses, "
              "on average over the last ~11 s")
    return 0


def cmd_progress(args: argparse.Namespace) -> int:
    from labkit import classroom

    grid = classroom.progress(classroom.class_cluster())
    if grid.columns.empty:
        print("no exercise checked yet (each check a student runs appears here)")
    else:
        print(grid.to_string())
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from labkit import classroom
    from labkit.exceptions import ClusterNotRunningError

    if not classroom.down(purge=args.purge) and not args.purge:
        raise ClusterNotRunningError("no class cluster is running; 'labkit class up' "
                                     "starts one")
    print("class cluster stopped" + (" and its data deleted" if args.purge else ""))
    return 0


def _students(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; use 1 to 99") \
            from None
    if not 1 <= value <= 99:
        raise argparse.ArgumentTypeError(f"{value} is out of range; use 1 to 99 students")
    return value


def _student(text: str) -> str:
    from labkit.classroom import student_name
    from labkit.exceptions import UsageError

    try:
        return student_name(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_class_commands(command: Callable[..., Any], port_type: Callable[[str], int]) -> None:
    """Add ``class`` and its sub-commands to labkit's parser (``command`` makes one)."""
    from labkit.cluster.classroom import CLASS_BASE_PORT

    top = command("class", lambda _args: 0, help="run a class cluster (instructors)")
    sub = top.add_subparsers(dest="class_command", metavar="SUBCOMMAND",
                             parser_class=type(top))
    up = sub.add_parser("up", help="start the class cluster")
    up.set_defaults(func=cmd_up)
    up.add_argument("--students", type=_students, required=True, metavar="N")
    up.add_argument("--host", required=True, metavar="ADDRESS",
                    help="the address students connect to (one of this machine's)")
    up.add_argument("--dir", type=Path, default=Path("class"),
                    help="where the credentials files go (default: ./class)")
    up.add_argument("--port", type=port_type, default=CLASS_BASE_PORT,
                    help=f"node 1's student port (default {CLASS_BASE_PORT})")
    for name, func, text in (("add", cmd_add, "make a student (or new credentials)"),
                             ("reset", cmd_reset, "delete a student's topics and groups")):
        p = sub.add_parser(name, help=text)
        p.set_defaults(func=func)
        p.add_argument("student", type=_student, metavar="sNN")
    sub.add_parser("status", help="per student: topics, bytes, lag, throttle, checks passed"
                   ).set_defaults(func=cmd_status)
    sub.add_parser("progress", help="students x exercise checks").set_defaults(
        func=cmd_progress)
    down = sub.add_parser("down", help="stop the class cluster")
    down.set_defaults(func=cmd_down)
    down.add_argument("--purge", action="store_true", help="also delete its data")
