"""A worker of ``chinwag serve --workers N``: what it is given by the supervisor (``workers.py``).

Worker ``i`` (from 1) is a whole server and the node ``<first label>-<i>.<rest>`` of the node
name. It listens on the ports the supervisor reserved (shared by every worker with
``SO_REUSEPORT``), cloaks with the supervisor's secret, names its admin socket after its number,
and tells the supervisor through a pipe once it listens.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass

from chinwag.server.config import Config, parse_listen

__all__ = ["Ports", "Worker", "worker_config", "worker_name"]


def worker_name(node: str, index: int) -> str:
    """The node name of worker ``index`` (from 1): ``-<index>`` added to the first label."""
    first, dot, rest = node.partition(".")
    return f"{first}-{index}{dot}{rest}"


@dataclass(frozen=True)
class Worker:
    """What a worker process knows of its place among the workers (given to `Server`).

    Attributes:
        index: its number, from 1.
        node: its node name in the network.
        cloak_secret: the supervisor's cloak secret, the same for every worker.
        ready_fd: the write end of the pipe that tells the supervisor it listens.
    """

    index: int
    node: str
    cloak_secret: bytes
    ready_fd: int

    @property
    def admin_socket(self) -> str:
        """The file name of its admin socket in the data directory."""
        return f"admin-{self.index}.sock"

    def ready(self) -> None:
        """Tell the supervisor that this worker listens (once)."""
        with contextlib.suppress(OSError):  # the supervisor is gone: nobody to tell
            os.write(self.ready_fd, b"1")
            os.close(self.ready_fd)


@dataclass(frozen=True)
class Ports:
    """The ports every worker listens on, as the supervisor reserved them."""

    port: int
    tls_port: int
    websocket: str
    """``HOST:PORT`` of the WebSocket listener, or empty."""


def worker_config(config: Config, worker: Worker, ports: Ports) -> Config:
    """``config`` as worker ``worker`` runs it: its node name, the reserved ports, and its own
    metrics port (the configured one plus ``index - 1``; 0 stays 0)."""
    metrics = config.metrics.listen
    if metrics:
        host, port = parse_listen(metrics, "metrics.listen")
        if port:
            shown = f"[{host}]" if ":" in host else host
            metrics = f"{shown}:{port + worker.index - 1}"
    return dataclasses.replace(
        config,
        server=dataclasses.replace(config.server, port=ports.port, tls_port=ports.tls_port),
        websocket=dataclasses.replace(config.websocket, listen=ports.websocket),
        metrics=dataclasses.replace(config.metrics, listen=metrics),
        cluster=dataclasses.replace(config.cluster, node_name=worker.node),
    )
