"""The external backend: a cluster someone else runs (a shared class cluster, a cloud one).

Configured from the environment: ``LABKIT_BOOTSTRAP_SERVERS`` plus, where needed,
``LABKIT_SECURITY_PROTOCOL``, ``LABKIT_SASL_MECHANISM``, ``LABKIT_SASL_USERNAME``,
``LABKIT_SASL_PASSWORD`` and ``LABKIT_SSL_CA_LOCATION``.
"""

from __future__ import annotations

import os

from labkit.cluster.base import Cluster, NodeInfo
from labkit.exceptions import ClusterTimeoutError, SettingsError
from labkit.settings import Settings

_SECURITY_ENV = {
    "LABKIT_SECURITY_PROTOCOL": "security.protocol",
    "LABKIT_SASL_MECHANISM": "sasl.mechanism",
    "LABKIT_SASL_USERNAME": "sasl.username",
    "LABKIT_SASL_PASSWORD": "sasl.password",
    "LABKIT_SSL_CA_LOCATION": "ssl.ca.location",
}


def security_from_env() -> dict[str, str]:
    conf = {key: os.environ[env] for env, key in _SECURITY_ENV.items() if os.environ.get(env)}
    proto = conf.get("security.protocol", "PLAINTEXT").upper()
    if proto not in {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}:
        raise SettingsError(
            f"LABKIT_SECURITY_PROTOCOL={proto!r} is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, "
            "SASL_SSL"
        )
    if proto.startswith("SASL") and not (conf.get("sasl.username") and conf.get("sasl.password")):
        raise SettingsError(
            f"{proto} needs LABKIT_SASL_USERNAME and LABKIT_SASL_PASSWORD; set both"
        )
    return conf


class ExternalCluster(Cluster):
    """Attach to a running cluster by address; labkit neither starts nor stops it."""

    backend = "external"

    def __init__(self, settings: Settings, *, security: dict[str, str] | None = None) -> None:
        super().__init__(settings)
        assert settings.bootstrap_servers
        self._bootstrap = settings.bootstrap_servers
        self._security = security if security is not None else security_from_env()

    @property
    def bootstrap_servers(self) -> str:
        return self._bootstrap

    def security_config(self) -> dict[str, str]:
        return dict(self._security)

    @property
    def nodes(self) -> list[NodeInfo]:
        md = self.admin().list_topics(timeout=10)
        return [NodeInfo(id=b.id, host=b.host, port=b.port) for b in md.brokers.values()]

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

    def down(self, *, purge: bool = False) -> None:
        """Nothing to stop: the external cluster is not ours. Forget our client handles."""
        self.close()
