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
                "kafka-consumer-perf-test", "kafka-delete-records", "kafka-broker-api-versions"}
_JAAS = {"SCRAM": "org.apache.kafka.common.security.scram.ScramLoginModule",
         "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule"}


def java_security(security: dict[str, str]) -> dict[str, str]:
    """The Java client's form of librdkafka's security settings (``security.protocol``,
    ``sasl.*``, ``ssl.ca.location``): for Kafka's tools and for Java clients (Streams)."""
    props = {}
    if "security.protocol" in security:
        props["security.protocol"] = security["security.protocol"]
    mechanism = security.get("sasl.mechanism") or security.get("sasl.mechanisms")
    if mechanism:
        user = security.get("sasl.username", "").replace('"', '\\"')
        password = security.get("sasl.password", "").replace('"', '\\"')
        module = _JAAS["SCRAM" if mechanism.startswith("SCRAM") else "PLAIN"]
        props["sasl.mechanism"] = mechanism
        props["sasl.jaas.config"] = f'{module} required username="{user}" password="{password}";'
    if security.get("ssl.ca.location"):
        props["ssl.truststore.type"] = "PEM"
        props["ssl.truststore.location"] = security["ssl.ca.location"]
    return props


def java_client_properties(security: dict[str, str]) -> str:
    """:func:`java_security` as a properties file (what ``--command-config`` reads)."""
    return "".join(f"{k}={v}\n" for k, v in java_security(security).items())


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
    return ["--command-config", str(path), *args]  # before a subcommand (kafka-features)


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
