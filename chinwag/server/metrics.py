"""The Prometheus endpoint: ``http://HOST:PORT/metrics`` when ``[metrics] listen`` is set.

Theory of operation
-------------------
Nothing is pushed into ``prometheus_client`` while the server works: the server keeps plain ints
(`stats.Stats`) and states it needs anyway (the network's clients and channels, the store's
backlog), and `ChinwagCollector` turns them into metric families when Prometheus scrapes. The
cost of metrics is therefore the cost of a scrape, every 15 s or so, and nothing per line.

The endpoint is served by the event loop itself (a few lines of HTTP/1.0 over
``asyncio.start_server``), not by ``prometheus_client``'s thread: a scrape reads the counters
between two loop turns, never while a handler is half-way through changing them.

The names are promised in the README (dashboards and alerts rely on them): change them only
with a note in the changelog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from chinwag.server.commands import COMMANDS
from chinwag.server.history import History
from chinwag.server.network import Network
from chinwag.server.password_checks import PasswordChecks
from chinwag.server.stats import LAG_BUCKETS, Stats

if TYPE_CHECKING:  # needs the cluster extra (redis): only a cluster node has one
    from chinwag.cluster.node import ClusterNode
    from chinwag.cluster.roster import NodeInfo

__all__ = ["ChinwagCollector", "MetricsEndpoint", "command_families"]

log = logging.getLogger("chinwag.metrics")

REQUEST_TIMEOUT = 5.0
MAX_REQUEST_BYTES = 8192
ROSTER_TIMEOUT = 2.0
"""Seconds a scrape waits for the network's roster from Redis before it answers without it."""


def command_families() -> dict[str, str]:
    """Each verb's family (``channels``, ``messaging``...): the module its handler lives in."""
    return {verb: spec.handler.__module__.rsplit(".", 1)[-1] for verb, spec in COMMANDS.items()}


class ChinwagCollector:
    """Reads the server's counters and states at scrape time.

    Args:
        stats: the connections' and the dispatcher's counters.
        network: users, channels, connections.
        history: its count of stored messages.
        passwords: its counts of failed and throttled password checks.
        cluster: this node's place in a network (None: a server on its own).
    """

    def __init__(
        self,
        stats: Stats,
        network: Network,
        history: History,
        passwords: PasswordChecks,
        *,
        cluster: ClusterNode | None = None,
    ) -> None:
        self.stats = stats
        self.network = network
        self.history = history
        self.passwords = passwords
        self.cluster = cluster
        self.families = command_families()
        self._roster: list[NodeInfo] = []

    async def refresh(self) -> None:
        """Read what is not in this process before a scrape: the nodes of the network."""
        if self.cluster is None:
            return
        from redis.exceptions import RedisError

        try:
            async with asyncio.timeout(ROSTER_TIMEOUT):
                self._roster = await self.cluster.bus.roster()
        except (RedisError, TimeoutError) as exc:
            log.warning("metrics: cannot read the network's nodes from Redis: %s", exc)
            self._roster = []

    def collect(self) -> Iterator[Metric]:
        """The metric families, as of now."""
        stats = self.stats
        network = self.network
        yield GaugeMetricFamily(
            "chinwag_connections", "Open client connections.", value=len(network.connections)
        )
        connections = CounterMetricFamily(
            "chinwag_connections", "Connections by what became of them.", labels=["result"]
        )
        connections.add_metric(["accepted"], stats.accepted)
        for reason, count in sorted(stats.refused.items()):
            connections.add_metric([f"refused_{reason}"], count)
        yield connections
        yield GaugeMetricFamily("chinwag_users", "Registered users.", value=network.user_count)
        yield GaugeMetricFamily("chinwag_channels", "Channels.", value=len(network.channels))
        received = CounterMetricFamily(
            "chinwag_lines_received", "Lines received, by command family.", labels=["family"]
        )
        by_family: dict[str, int] = {}
        for verb, count in list(stats.received.items()):
            family = self.families.get(verb, "unknown")
            by_family[family] = by_family.get(family, 0) + count
        for family, count in sorted(by_family.items()):
            received.add_metric([family], count)
        yield received
        yield CounterMetricFamily("chinwag_lines_sent", "Lines sent.", value=stats.lines_sent)
        yield CounterMetricFamily(
            "chinwag_bytes_received", "Bytes received from clients.", value=stats.bytes_received
        )
        yield CounterMetricFamily(
            "chinwag_bytes_sent", "Bytes written to clients.", value=stats.bytes_sent
        )
        yield CounterMetricFamily(
            "chinwag_messages_stored", "Messages given to the history.", value=self.history.stored
        )
        yield GaugeMetricFamily(
            "chinwag_store_lag_seconds",
            "How long the last probe waited behind the store's pending writes.",
            value=stats.store_lag,
        )
        disconnects = CounterMetricFamily(
            "chinwag_disconnects", "Connections ended, by reason.", labels=["reason"]
        )
        for reason, count in sorted(stats.disconnects.items()):
            disconnects.add_metric([reason], count)
        yield disconnects
        yield CounterMetricFamily(
            "chinwag_login_failures", "Wrong passwords (SASL, IDENTIFY, OPER).",
            value=self.passwords.failed_count,
        )  # fmt: skip
        yield CounterMetricFamily(
            "chinwag_login_throttled", "Password checks refused by the failed-login throttle.",
            value=self.passwords.throttled_count,
        )  # fmt: skip
        yield HistogramMetricFamily(
            "chinwag_event_loop_lag_seconds",
            "How late the event loop ran a timer due every second.",
            buckets=_cumulative(LAG_BUCKETS, stats.lag_buckets),
            sum_value=stats.lag_sum,
        )
        if self.cluster is not None:
            yield from self._cluster()

    def _cluster(self) -> Iterator[Metric]:
        """The network's nodes (as of `refresh`) and this node's bus."""
        from chinwag.cluster.redis_bus import FLUSH_BUCKETS

        assert self.cluster is not None
        bus = self.cluster.bus
        yield GaugeMetricFamily(
            "chinwag_cluster_nodes", "Nodes of the network (with a lease).", value=len(self._roster)
        )
        users = GaugeMetricFamily(
            "chinwag_cluster_node_users", "Users of each node of the network.", labels=["node"]
        )
        age = GaugeMetricFamily(
            "chinwag_cluster_node_lease_age_seconds",
            "Seconds since each node renewed its lease.",
            labels=["node"],
        )
        epoch = GaugeMetricFamily(
            "chinwag_cluster_node_epoch", "Each node's epoch (new at each start).", labels=["node"]
        )
        for node in self._roster:
            users.add_metric([node.name], node.users)
            age.add_metric([node.name], node.lease_age(bus.lease))
            epoch.add_metric([node.name], node.epoch)
        yield users
        yield age
        yield epoch
        yield CounterMetricFamily(
            "chinwag_bus_events_sent", "Events this node sent on the bus.", value=bus.events_out
        )
        yield CounterMetricFamily(
            "chinwag_bus_events_received",
            "Events this node received from the bus (its own coming back included).",
            value=bus.events_in,
        )
        yield HistogramMetricFamily(
            "chinwag_bus_flush_seconds",
            "How long each script call that carried a loop turn's events took, there and back.",
            buckets=_cumulative(FLUSH_BUCKETS, bus.flush_buckets),
            sum_value=bus.flush_seconds,
        )


def _cumulative(bounds: Sequence[float], counts: Sequence[int]) -> list[tuple[str, float]]:
    """A histogram's buckets as Prometheus wants them: per upper bound (``counts`` has one more,
    past the last bound: ``+Inf``), the count of everything up to it."""
    buckets: list[tuple[str, float]] = []
    running = 0
    for bound, count in zip((*bounds, float("inf")), counts, strict=True):
        running += count
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
    return buckets


class MetricsEndpoint:
    """The HTTP listener that answers ``GET /metrics``.

    Args:
        collector: chinwag's own metrics.
    """

    def __init__(self, collector: ChinwagCollector) -> None:
        self.collector = collector
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        ProcessCollector(registry=self.registry)
        self._listener: asyncio.AbstractServer | None = None
        self.address = ""
        """``host:port`` actually bound (the real port when 0 was asked for)."""

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port``.

        Raises:
            OSError: when the address cannot be bound.
        """
        listener = await asyncio.start_server(self._serve, host, port, reuse_address=True)
        bound_host, bound_port = listener.sockets[0].getsockname()[:2]
        self.address = f"{bound_host}:{bound_port}"
        self._listener = listener

    def close(self) -> None:
        """Stop listening."""
        if self._listener is not None:
            self._listener.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > MAX_REQUEST_BYTES:
                raise ValueError("request too large")
            method, path, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            if method not in ("GET", "HEAD"):
                writer.write(_response(405, b"only GET\n", "text/plain"))
            elif path.split("?", 1)[0] not in ("/metrics", "/"):
                writer.write(_response(404, b"try /metrics\n", "text/plain"))
            else:
                await self.collector.refresh()
                body = generate_latest(self.registry)
                writer.write(_response(200, body if method == "GET" else b"", CONTENT_TYPE_LATEST))
            await writer.drain()
        except (TimeoutError, ValueError, asyncio.IncompleteReadError, ConnectionError):
            pass  # a scanner or a dropped scrape: nothing to answer
        except asyncio.LimitOverrunError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def _response(status: int, body: bytes, content_type: str) -> bytes:
    reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed"}[status]
    head = (
        f"HTTP/1.0 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body
