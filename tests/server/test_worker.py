"""What each worker of ``chinwag serve --workers N`` is given: its name, ports and metrics."""

from __future__ import annotations

from chinwag.server.config import Config
from chinwag.server.worker import Ports, Worker, worker_config, worker_name


def test_a_worker_is_named_after_the_node_in_its_first_label() -> None:
    """``n1.chat.example.org`` gives ``n1-1.chat.example.org``...; a name without a dot too."""
    assert worker_name("n1.chat.example.org", 1) == "n1-1.chat.example.org"
    assert worker_name("n1.chat.example.org", 12) == "n1-12.chat.example.org"
    assert worker_name("localhost", 2) == "localhost-2"


def test_a_worker_gets_the_reserved_ports_its_name_and_its_own_metrics_port() -> None:
    """Every worker listens on the ports the supervisor reserved; metrics on PORT + i - 1, or
    on a port of its own when 0 was asked for; the rest of the configuration is the same."""
    config = Config()
    config.server.port = 0
    config.metrics.listen = "127.0.0.1:9100"
    config.websocket.listen = "[::1]:0"
    ports = Ports(6667, 6697, "[::1]:8080")
    third = worker_config(config, Worker(3, "n-3.example.org", b"k", -1), ports)
    assert (third.server.port, third.server.tls_port) == (6667, 6697)
    assert third.websocket.listen == "[::1]:8080"
    assert third.metrics.listen == "127.0.0.1:9102"
    assert third.cluster.node_name == "n-3.example.org"
    assert third.server.name == config.server.name
    assert config.server.port == 0 and config.metrics.listen == "127.0.0.1:9100"  # untouched
    config.metrics.listen = "[::1]:0"
    first = worker_config(config, Worker(1, "n-1.example.org", b"k", -1), ports)
    assert first.metrics.listen == "[::1]:0"
