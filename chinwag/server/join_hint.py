"""What the server's start-up log tells the person running it: how the others get in.

A server nobody can reach is the commonest first failure: it listens on 127.0.0.1 (the safe
default), a colleague on the same network types the machine's address, and nothing answers. So
after "listening on ..." the log says, for each way in, the exact command to give the others,
and when the server listens on loopback only, how to open it to the local network.
"""

from __future__ import annotations

import ipaddress
import socket

__all__ = ["DEFAULT_PORT", "DEFAULT_TLS_PORT", "join_hints", "lan_address"]

DEFAULT_PORT = 6667
DEFAULT_TLS_PORT = 6697
# A documentation address (RFC 5737): "connecting" a UDP socket to it sends nothing, and only
# asks the kernel which local address it would use to reach the outside.
_PROBE_ADDRESS = ("192.0.2.1", 9)


def lan_address() -> str | None:
    """This machine's address on its network (no packet is sent), or None when there is none."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(_PROBE_ADDRESS)
            address = str(probe.getsockname()[0])
    except OSError:
        return None
    return None if ipaddress.ip_address(address).is_loopback else address


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: reachable as far as we know


def _target(host: str, port: int, default: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port == default else f"{shown}:{port}"


def join_hints(
    host: str, port: int, tls_port: int | None = None, lan: str | None = None
) -> list[str]:
    """Log lines telling how others connect to a server listening on ``host``.

    Args:
        host: the address listened on (``0.0.0.0`` or ``::`` for every interface).
        port: the plain-text port listened on.
        tls_port: the TLS port, when there is a TLS listener.
        lan: this machine's network address (`lan_address`), when known.
    """
    everywhere = host in ("0.0.0.0", "::", "")
    loopback = not everywhere and _is_loopback(host)
    reach = lan or "THIS-MACHINE'S-ADDRESS" if everywhere else host
    lines = [f"others join with: chinwag connect {_target(reach, port, DEFAULT_PORT)}"]
    if tls_port is not None:
        tls_target = _target(reach, tls_port, DEFAULT_TLS_PORT)
        lines.append(f"  or with TLS:     chinwag connect {tls_target} --tls")
    lines.append(
        f"  (from this checkout: ./scripts/connect {_target(reach, port, DEFAULT_PORT)}; "
        f"any IRC client works too: irssi -c {reach} -p {port})"
    )
    if loopback:
        example = lan or "THIS-MACHINE'S-ADDRESS"
        lines.append(
            f"only this machine can connect ({host} is loopback). To let others on your network "
            f"in, start with --host 0.0.0.0 and give them: chinwag connect "
            f"{_target(example, port, DEFAULT_PORT)}"
        )
    return lines
