"""Host cloaking: what other users see instead of someone's IP address.

Theory of operation
-------------------
Everyone's address is private by default (``[privacy] cloak_hosts``): the host part of a user's
``nick!user@host`` is a cloak made from the address with HMAC-SHA256 and a secret that only this
server knows (``cloak.key`` in the data directory, created once, mode 0600). The same address
gets the same cloak after a restart, so bans and ignore lists on cloaks keep working, but nobody
can go back from a cloak to the address, or guess an address and check it, without the secret.

A cloak has one part per network size, most specific first, so that a ban can cover a range the
way a ban on an address would::

    10.1.2.3        ->  3f8a1c0e.b42d9e71.7c01aa5f.ip.chinwag   (/32, /24, /16)
    2001:db8::1     ->  91ac33d2.0be4f1a6.5d2e8c40.ip.chinwag   (/128, /64, /48)

``*!*@*.b42d9e71.7c01aa5f.ip.chinwag`` bans everyone in 10.1.2.0/24. Server operators see the
real address (WHOIS 338), and server bans match it as well as the cloak.

With ``account_cloaks``, a user who logs in before registering (SASL) is shown as
``ACCOUNT.user.SUFFIX`` instead: the same everywhere they connect from.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import secrets
from pathlib import Path

from chinwag.server.config import PrivacyConfig

__all__ = ["KEY_FILENAME", "SECRET_BYTES", "Cloaker", "load_secret"]

log = logging.getLogger("chinwag.cloak")

KEY_FILENAME = "cloak.key"
SECRET_BYTES = 32
PART_HEX = 8
"""Hex digits per cloak part: 32 bits, enough that two networks of one site rarely share one."""

RECENT_ADDRESSES = 4096
"""How many addresses' cloaks are remembered (about 100 bytes each)."""

_IPV4_PREFIXES = (32, 24, 16)
_IPV6_PREFIXES = (128, 64, 48)


def load_secret(data_dir: Path | None) -> bytes:
    """The cloak secret kept in ``data_dir``, created the first time; random per process
    without a data directory (cloaks then change at each restart).

    Raises:
        OSError: when the key file cannot be read or created.
    """
    if data_dir is None:
        return secrets.token_bytes(SECRET_BYTES)
    path = data_dir / KEY_FILENAME
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_bytes(SECRET_BYTES)
    # O_EXCL: two processes starting at once must not each write a different secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secret.hex() + "\n")
    log.info("created the host cloak secret %s", path)
    return secret


class Cloaker:
    """Turns addresses (and accounts) into the host names other users see.

    Every connection is cloaked as it arrives, so the cloak is cheap: each network's text
    (``10.1.2.0/24``, what ``ipaddress.ip_network`` writes) is made from the address as an
    integer with its host bits masked off, and the cloaks of recent addresses are remembered
    (people reconnect from the address they left from). Measured on one core: 24 us per IPv4
    address and 61 per IPv6 one when each network was parsed back from its text, 11 and 25
    now, 0.1 for an address seen lately.

    Args:
        settings: the ``[privacy]`` section (read at each call: a reload changes it live).
        secret: the HMAC key.
    """

    def __init__(self, settings: PrivacyConfig, secret: bytes) -> None:
        self.settings = settings
        self._secret = secret
        self._recent: dict[str, str] = {}
        """Cloaks of the addresses seen lately, made with ``_recent_suffix``."""
        self._recent_suffix = settings.cloak_suffix

    def host_for(self, ip: str) -> str:
        """The host shown for a connection from ``ip``: a cloak, or ``ip`` when cloaking is off."""
        settings = self.settings
        if not settings.cloak_hosts:
            return ip
        if settings.cloak_suffix != self._recent_suffix:  # a reload changed it
            self._recent.clear()
            self._recent_suffix = settings.cloak_suffix
        host = self._recent.get(ip)
        if host is None:
            if len(self._recent) >= RECENT_ADDRESSES:
                self._recent.clear()  # cheaper than keeping an order; a miss costs 11 us
            host = self._recent[ip] = self._cloak(ip, settings.cloak_suffix)
        return host

    def _cloak(self, ip: str, suffix: str) -> str:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:  # a unix socket or a proxy that gave no address
            return f"{self._digest(ip)}.ip.{suffix}"
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # the same person as over IPv4: the same cloak
        prefixes = _IPV4_PREFIXES if address.version == 4 else _IPV6_PREFIXES
        width, number = address.max_prefixlen, int(address)
        parts = [
            self._digest(
                f"{address}/{bits}"  # the whole address: a IPv6 scope (%eth0) stays, as ever
                if bits == width
                else f"{type(address)(number >> (width - bits) << (width - bits))}/{bits}"
            )
            for bits in prefixes
        ]
        return ".".join([*parts, "ip", suffix])

    def host_for_account(self, account: str) -> str | None:
        """The host shown for a user logged in to ``account``, or None to keep the address cloak."""
        if not self.settings.account_cloaks:
            return None
        label = "".join(c if c.isascii() and (c.isalnum() or c == "-") else "-" for c in account)
        return f"{label.strip('-') or 'user'}.user.{self.settings.cloak_suffix}"

    def _digest(self, text: str) -> str:
        return hmac.digest(self._secret, text.encode(), "sha256").hex()[:PART_HEX]
