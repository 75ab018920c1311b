"""Running Kafka's own command-line tools (``kafka-topics``, ``kafka-dump-log``, ...)."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

from labkit.cluster.jars import find_libs
from labkit.cluster.java import find_java
from labkit.cluster.jvm import Jvm, child_env, tool_command
from labkit.exceptions import KafkaToolError

if TYPE_CHECKING:
    from labkit.cluster.base import Cluster


def tool_jvm(cluster: Cluster) -> Jvm:
    jvm = getattr(cluster, "jvm", None)
    return jvm if isinstance(jvm, Jvm) else Jvm(find_java(), find_libs(cluster.settings))


def run_tool(
    cluster: Cluster, tool: str, args: list[str], *, check: bool = True, timeout: float = 120.0,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``tool`` against ``cluster``; with ``check``, a non-zero exit raises KafkaToolError.
    ``input``: text for the tool's standard input (``kafka-console-producer`` reads its
    records there, one a line); without it the tool reads nothing."""
    cmd = tool_command(tool_jvm(cluster), tool, args, cluster.bootstrap_servers)
    try:
        out = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=child_env(),
            **({"input": input} if input is not None else {"stdin": subprocess.DEVNULL}),
        )
    except subprocess.TimeoutExpired:
        raise KafkaToolError(f"{tool} did not finish within {timeout:.0f}s") from None
    if check and out.returncode != 0:
        last = (out.stderr.strip() or out.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise KafkaToolError(f"{tool} failed (exit {out.returncode}): {last[0]}")
    return out
