"""The files for running chinwag as a service say what the README promises, and their
commands are ones chinwag accepts."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from chinwag.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
EXPORTED = {
    "chinwag_connections",
    "chinwag_connections_total",
    "chinwag_users",
    "chinwag_channels",
    "chinwag_lines_received_total",
    "chinwag_lines_sent_total",
    "chinwag_bytes_received_total",
    "chinwag_bytes_sent_total",
    "chinwag_messages_stored_total",
    "chinwag_store_lag_seconds",
    "chinwag_disconnects_total",
    "chinwag_login_failures_total",
    "chinwag_login_throttled_total",
    "chinwag_event_loop_lag_seconds_bucket",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
}


def _unit() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (ROOT / "contrib/chinwag.service").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def test_systemd_unit_is_hardened_and_runs_chinwag() -> None:
    """Own user, StateDirectory, the hardening options, a reload by SIGHUP, a valid command."""
    unit = _unit()
    assert unit["User"] == "chinwag" and unit["StateDirectory"] == "chinwag"
    assert unit["NoNewPrivileges"] == "yes" and unit["ProtectSystem"] == "strict"
    assert unit["ReadWritePaths"] == "/var/lib/chinwag"
    assert unit["ExecReload"] == "/bin/kill -HUP $MAINPID"
    command = shlex.split(unit["ExecStart"])
    assert command[0].endswith("/chinwag")
    args = build_parser().parse_args(command[1:])
    assert args.command == "serve" and args.data == "/var/lib/chinwag"


def test_containerfile_has_a_volume_ports_and_a_valid_command() -> None:
    """The data volume, the IRC, TLS and metrics ports, and a command chinwag accepts."""
    text = (ROOT / "Containerfile").read_text()
    assert 'VOLUME ["/data"]' in text
    assert re.search(r"^EXPOSE 6667 6697 9108$", text, re.MULTILINE)
    cmd = json.loads(re.search(r"^CMD (.*)$", text, re.MULTILINE).group(1))  # type: ignore[union-attr]
    args = build_parser().parse_args(cmd)
    assert args.command == "serve" and args.data == "/data" and args.host == "0.0.0.0"


def test_dashboard_uses_only_exported_metrics() -> None:
    """Every metric the Grafana dashboard queries is one chinwag exports."""
    dashboard = json.loads((ROOT / "contrib/grafana-dashboard.json").read_text())
    used: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used.update(re.findall(r"\b((?:chinwag|process)_[a-z_]+)\{", target["expr"]))
    assert used and used <= EXPORTED, used - EXPORTED
