"""The external backend: a cluster someone else runs (a shared class cluster, a cloud one).

Configured through :class:`labkit.settings.Settings`: ``bootstrap_servers`` plus, where needed,
``security_protocol``, ``sasl_mechanism``, ``sasl_username``, ``sasl_password`` and
``ssl_ca_location`` (twins: ``LABKIT_BOOTSTRAP_SERVERS``, ``LABKIT_SECURITY_PROTOCOL``, ...).
"""

from __future__ import annotations

from labkit.cluster.base import Cluster, NodeInfo
from labkit.exceptions import ClusterTimeoutError, NotSupportedError
from labkit.settings import Settings


class ExternalCluster(Cluster):
    """Attach to a running cluster by address; labkit neither starts nor stops it."""

    backend = "external"

    def __init__(self, settings: Settings, *, security: dict[str, str] | None = None) -> None:
        super().__init__(settings)
        assert settings.bootstrap_servers
        self._bootstrap = settings.bootstrap_servers
        self._security = security if security is not None else settings.security_config()

    @property
    def bootstrap_servers(self) -> str:
        return self._bootstrap

    def security_config(self) -> dict[str, str]:
        return dict(self._security)

    @property
    def nodes(self) -> list[NodeInfo]:
        md = self.admin().list_topics(timeout=10)
        # the stubs type BrokerMetadata.host as None; it is the broker's host name (a str)
        return [NodeInfo(id=b.id, host=str(b.host), port=b.port) for b in md.brokers.values()]

    def up(self) -> ExternalCluster:
        """Check that the cluster answers (it is someone else's to start)."""
        try:
            self.admin().list_topics(timeout=self.settings.start_timeout)
        except Exception as exc:
            raise ClusterTimeoutError(
                f"the external cluster at {self._bootstrap} did not answer ({exc}); check "
                "LABKIT_BOOTSTRAP_SERVERS and the LABKIT_SASL_*/SSL settings"
            ) from None
        return self

    def is_running(self) -> bool:
        return True

    def logs(self, node_id: int, lines: int = 40) -> str:
        raise NotSupportedError(
            f"the external cluster at {self._bootstrap} does not show its nodes' logs to "
            "labkit; ask whoever runs it"
        )

    def down(self, *, purge: bool = False) -> None:
        """Nothing to stop: the external cluster is not ours. Forget our client handles."""
        self.close()
