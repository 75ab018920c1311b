"""Running Kafka's own command-line tools (``kafka-topics``, ``kafka-dump-log``, ...)."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

from labkit.cluster.jars import find_libs
from labkit.cluster.java import find_java
from labkit.cluster.jvm import Jvm, child_env, tool_command
from labkit.cluster.tls import write_private
from labkit.exceptions import KafkaToolError

if TYPE_CHECKING:
    from labkit.cluster.base import Cluster


def tool_jvm(cluster: Cluster) -> Jvm:
    jvm = getattr(cluster, "jvm", None)
    return jvm if isinstance(jvm, Jvm) else Jvm(find_java(), find_libs(cluster.settings))


# the tools that sign in with ``--command-config`` (a Java client properties file)
SIGNED_TOOLS = {"kafka-configs", "kafka-topics", "kafka-consumer-groups", "kafka-acls",
                "kafka-log-dirs", "kafka-features", "kafka-metadata-quorum", "kafka-share-groups",
                "kafka-transactions", "kafka-get-offsets", "kafka-console-producer",
                "kafka-console-consumer", "kafka-console-share-consumer",
                "kafka-consumer-perf-test"}
_JAAS = {"SCRAM": "org.apache.kafka.common.security.scram.ScramLoginModule",
         "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule"}


def java_client_properties(security: dict[str, str]) -> str:
    """The Java client's form of librdkafka's security settings (``security.protocol``,
    ``sasl.*``, ``ssl.ca.location``): what Kafka's tools read from ``--command-config``."""
    lines = [f"security.protocol={security.get('security.protocol', 'PLAINTEXT')}"]
    mechanism = security.get("sasl.mechanism")
    if mechanism:
        module = _JAAS["SCRAM" if mechanism.startswith("SCRAM") else "PLAIN"]
        lines += [f"sasl.mechanism={mechanism}",
                  f"sasl.jaas.config={module} required "
                  f'username="{security.get("sasl.username", "")}" '
                  f'password="{security.get("sasl.password", "")}";']
    if security.get("ssl.ca.location"):
        lines += ["ssl.truststore.type=PEM",
                  f"ssl.truststore.location={security['ssl.ca.location']}"]
    return "\n".join(lines) + "\n"


def signed_in(cluster: Cluster, tool: str, args: list[str]) -> list[str]:
    """``args`` plus ``--command-config`` with the cluster's credentials, for a tool that
    signs in, on a cluster that needs them (SASL or TLS); ``args`` as given elsewhere."""
    security = cluster.security_config()
    if (tool not in SIGNED_TOOLS or not security or "--command-config" in args
            or "--help" in args):
        return args
    user = security.get("sasl.username", "client")
    path = cluster.settings.home / "tools" / f"{user}.java.properties"
    text = java_client_properties(security)
    if not path.exists() or path.read_text() != text:  # written once per credentials
        write_private(path, text)
    return [*args, "--command-config", str(path)]


def run_tool(
    cluster: Cluster, tool: str, args: list[str], *, check: bool = True, timeout: float = 120.0,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``tool`` against ``cluster``; with ``check``, a non-zero exit raises KafkaToolError.
    ``input``: text for the tool's standard input (``kafka-console-producer`` reads its
    records there, one a line); without it the tool reads nothing. On a cluster that needs
    credentials, the tools that sign in get them (``--command-config``)."""
    args = signed_in(cluster, tool, args)
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
