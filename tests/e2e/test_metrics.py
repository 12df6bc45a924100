"""The Prometheus endpoint over HTTP, parsed with prometheus_client's own text parser."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families

from chinwag.server import Server, load_config

from .harness import Harness

NAMES = {
    "chinwag_connections",
    "chinwag_users",
    "chinwag_channels",
    "chinwag_lines_received",
    "chinwag_lines_sent",
    "chinwag_bytes_received",
    "chinwag_bytes_sent",
    "chinwag_messages_stored",
    "chinwag_store_lag_seconds",
    "chinwag_disconnects",
    "chinwag_login_failures",
    "chinwag_event_loop_lag_seconds",
    "process_cpu_seconds",
    "process_resident_memory_bytes",
}


async def _get(address: str, path: str) -> tuple[str, str]:
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())
    raw = await reader.read()
    writer.close()
    head, _, body = raw.decode().partition("\r\n\r\n")
    return head.splitlines()[0], body


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            out[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return out


async def test_scrape_shows_every_promised_metric() -> None:
    """A scrape parses, has every name the README promises, and counts what happened."""
    overrides: dict[str, dict[str, object]] = {
        "server": {"port": 0, "name": "test.chinwag", "data_dir": "none"},
        "limits": {"flood_rate": 0},
        "metrics": {"listen": "127.0.0.1:0"},
    }
    server = Server(load_config(None, environ={}, overrides=overrides))
    await server.start()
    h = Harness(server)
    try:
        amy = await h.connect("amy")
        bob = await h.connect("bob")
        await amy.send("PRIVMSG #lobby :hello")
        await bob.expect("PRIVMSG", ["#lobby", "hello"])
        await bob.send("QUIT :bye")
        await bob.expect_closed()
        assert server.metrics is not None
        status, body = await _get(server.metrics.address, "/metrics")
        assert status == "HTTP/1.0 200 OK"
        names = {family.name for family in text_string_to_metric_families(body)}
        assert names >= NAMES
        samples = _samples(body)
        assert samples["chinwag_connections", ()] == 1
        assert samples["chinwag_users", ()] == 1
        assert samples["chinwag_connections_total", (("result", "accepted"),)] == 2
        assert samples["chinwag_lines_received_total", (("family", "messaging"),)] == 1
        assert samples["chinwag_lines_received_total", (("family", "registration"),)] >= 4
        assert samples["chinwag_disconnects_total", (("reason", "quit"),)] == 1
        assert samples["chinwag_messages_stored_total", ()] == 1
        assert samples["chinwag_bytes_sent_total", ()] > 1000
        assert samples["chinwag_lines_sent_total", ()] > 10
        assert samples["chinwag_event_loop_lag_seconds_bucket", (("le", "+Inf"),)] >= 0
        missing, _ = await _get(server.metrics.address, "/other")
        assert missing == "HTTP/1.0 404 Not Found"
    finally:
        await h.close()
        await server.stop()


async def test_metrics_are_off_by_default(h: Harness) -> None:
    """Without [metrics] listen there is no endpoint."""
    assert h.server.metrics is None
