"""The lab's port layout on 127.0.0.1, shared by the local and compose backends.

Node *i* listens for clients on ``base + (i-1)*PORT_STEP`` and, on the local backend, for the
KRaft quorum on the port above. All ports lie below 32768, where Linux hands out ports to
outgoing connections: an ephemeral client socket can never be sitting on a node's port.
"""

from __future__ import annotations

import random
import socket

from labkit.exceptions import PortInUseError
from labkit.settings import Settings

DEFAULT_BASE_PORT = 19092
PORT_STEP = 1000  # node i: client port base + (i-1)*1000, controller port one above
FREE_RANGE = (22000, 32000)  # where free ports are picked when the fixed layout is taken


def node_port(node_id: int, base: int = DEFAULT_BASE_PORT) -> int:
    """Node ``node_id``'s client port in the layout starting at ``base``."""
    return base + (node_id - 1) * PORT_STEP


def port_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:``port`` (as Kafka does, with SO_REUSEADDR,
    so a closed socket in TIME_WAIT does not count as taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(n: int) -> list[int]:
    """``n`` free ports in :data:`FREE_RANGE` (below the ephemeral range), in random order."""
    lo, hi = FREE_RANGE
    found: list[int] = []
    for port in random.sample(range(lo, hi), hi - lo):
        if port_free(port):
            found.append(port)
            if len(found) == n:
                return found
    raise PortInUseError(f"no free ports between {lo} and {hi} on 127.0.0.1; free some, or "
                         "set LABKIT_BASE_PORT")


def choose_ports(settings: Settings) -> dict[int, tuple[int, int]]:
    """(client, controller) port per node: the fixed layout if free, else free ones.

    With an explicit ``LABKIT_BASE_PORT`` a taken port is an error; with the default layout
    labkit falls back to free ports (so a second Kafka on the laptop does not stop the lab).
    """
    base = settings.base_port or DEFAULT_BASE_PORT
    wanted = {
        i: (node_port(i, base), node_port(i, base) + 1) for i in range(1, settings.nodes + 1)
    }
    taken = [p for pair in wanted.values() for p in pair if not port_free(p)]
    if not taken:
        return wanted
    if settings.base_port is not None:
        raise PortInUseError(
            f"port {taken[0]} on 127.0.0.1 is taken by another process; free it, or set "
            "LABKIT_BASE_PORT to another base (or unset it to let labkit pick free ports)"
        )
    free = iter(free_ports(2 * settings.nodes))
    return {i: (next(free), next(free)) for i in range(1, settings.nodes + 1)}


__all__ = ["DEFAULT_BASE_PORT", "FREE_RANGE", "PORT_STEP", "choose_ports", "free_ports",
           "node_port", "port_free"]
