"""The start-up log's hint on how others connect, for each kind of listening address."""

from __future__ import annotations

import ipaddress

from chinwag.server.join_hint import join_hints, lan_address


def test_loopback_says_how_to_open_it() -> None:
    """On 127.0.0.1 the hint gives the local command and how to let the network in."""
    lines = join_hints("127.0.0.1", 6667, lan="192.168.1.20")
    assert lines[0] == "others join with: chinwag connect 127.0.0.1"
    assert "./scripts/connect 127.0.0.1" in lines[1]
    assert lines[-1].startswith("only this machine can connect (127.0.0.1 is loopback)")
    assert "--host 0.0.0.0" in lines[-1]
    assert lines[-1].endswith("chinwag connect 192.168.1.20")


def test_every_interface_names_the_lan_address() -> None:
    """On 0.0.0.0 the command names this machine's network address; no loopback warning."""
    lines = join_hints("0.0.0.0", 7000, lan="10.0.0.5")
    assert lines[0] == "others join with: chinwag connect 10.0.0.5:7000"
    assert "irssi -c 10.0.0.5 -p 7000" in lines[1]
    assert not any("only this machine" in line for line in lines)


def test_unknown_lan_address_is_a_placeholder() -> None:
    """Without a known network address, the command says what to put in."""
    lines = join_hints("::", 6667)
    assert lines[0] == "others join with: chinwag connect THIS-MACHINE'S-ADDRESS"


def test_tls_port_gets_its_own_line() -> None:
    """With a TLS listener the hint includes --tls (and the port when not 6697)."""
    assert "chinwag connect chat.lan --tls" in join_hints("chat.lan", 6667, 6697)[1]
    assert "chinwag connect [::1]:7001 --tls" in join_hints("::1", 6667, 7001)[1]


def test_lan_address_is_not_loopback() -> None:
    """lan_address() is None or a real, non-loopback address."""
    address = lan_address()
    assert address is None or not ipaddress.ip_address(address).is_loopback
