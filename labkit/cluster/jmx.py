"""A class node's metrics over JMX, read with Kafka's own ``JmxTool``.

Kafka measures what a quota costs each user (``kafka.server:type=Produce|Fetch|Request,
user=<name>``, attribute ``throttle-time``: the average time, in ms, its responses were held back
over the quota window, about the last 11 s). Kafka has no client API for its metrics, so a class
node also serves JMX: on 127.0.0.1 only, with a password, for a read-only ``monitor`` user
(files owner-only). ``JmxTool`` gets the password through a Java argument file (owner-only), so
it never shows in ``ps``.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from labkit.cluster.jvm import Jvm, child_env
from labkit.cluster.tls import write_private
from labkit.exceptions import KafkaToolError

__all__ = ["JMX_TOOL", "MONITOR", "jmx_flags", "query", "write_jmx_files"]

JMX_TOOL = "org.apache.kafka.tools.JmxTool"
MONITOR = "monitor"


def write_jmx_files(home: Path, password: str) -> tuple[Path, Path]:
    """The JVM's JMX password and access files (owner-only, as the JVM demands): one
    read-only user, ``monitor``."""
    secret, access = home / "jmx.password", home / "jmx.access"
    write_private(secret, f"{MONITOR} {password}\n")
    write_private(access, f"{MONITOR} readonly\n")
    return secret, access


def jmx_flags(port: int, secret: Path, access: Path) -> list[str]:
    """JVM flags: JMX on 127.0.0.1:``port`` (registry and objects on the one port), password
    required, read-only; no TLS (loopback only)."""
    p = "-Dcom.sun.management.jmxremote"
    return [p, f"{p}.host=127.0.0.1", f"{p}.port={port}", f"{p}.rmi.port={port}",
            "-Djava.rmi.server.hostname=127.0.0.1", f"{p}.authenticate=true",
            f"{p}.ssl=false", f"{p}.registry.ssl=false", f"{p}.password.file={secret}",
            f"{p}.access.file={access}"]


def _arg_file(args: Sequence[str], folder: Path) -> Path:
    """A Java argument file (``java @file``) holding the whole command after ``java``."""
    quoted = ['"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"' for a in args]
    fd, name = tempfile.mkstemp(prefix=".jmxtool.", suffix=".args", dir=folder)  # 0600
    with open(fd, "w") as f:
        f.write("\n".join(quoted) + "\n")
    return Path(name)


def query(jvm: Jvm, port: int, password: str, names: Sequence[str], attributes: Sequence[str],
          *, folder: Path, timeout: float = 60.0) -> dict[str, float]:
    """One reading of ``attributes`` of the MBeans matching ``names`` (patterns allowed) on
    the node whose JMX port is ``port``: ``{"<object name>:<attribute>": value}``. A value
    Kafka has not measured yet (no request in the window: NaN) is 0.0."""
    tool = jvm.tool_cmd(JMX_TOOL, [])[1:]  # after 'java'
    args = [*tool, "--jmx-url", f"service:jmx:rmi:///jndi/rmi://127.0.0.1:{port}/jmxrmi",
            "--jmx-auth-prop", f"{MONITOR}={password}", "--one-time", "true",
            "--report-format", "csv", "--attributes", ",".join(attributes),
            *[a for n in names for a in ("--object-name", n)]]
    path = _arg_file(args, folder)
    try:
        out = subprocess.run([str(jvm.java.path), f"@{path}"], capture_output=True, text=True,
                             timeout=timeout, env=child_env(), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise KafkaToolError(f"JmxTool on 127.0.0.1:{port} did not answer within "
                             f"{timeout:.0f}s") from None
    finally:
        path.unlink(missing_ok=True)
    if out.returncode != 0:
        last = (out.stderr.strip() or out.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise KafkaToolError(f"JmxTool on 127.0.0.1:{port} failed (exit {out.returncode}): "
                             f"{last[0]}")
    return parse_csv(out.stdout)


def parse_csv(text: str) -> dict[str, float]:
    """JmxTool's one-time ``--report-format csv`` (a line per value: ``name,"value"``, the
    first one ``time``; names hold commas, unquoted) as ``{name: value}``; NaN and
    unparsable values are 0.0."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        name, _, raw = line.rpartition(",")
        if not name or name == "time":
            continue
        try:
            v = float(raw.strip().strip('"'))
        except ValueError:
            v = 0.0
        values[name] = 0.0 if math.isnan(v) else v
    return values
