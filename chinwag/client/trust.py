"""Trust on first use for TLS servers whose certificate no CA vouches for (like SSH known_hosts).

Theory of operation
-------------------
``chinwag connect --tls`` first verifies the server against the system CA store. When that fails
(a self-signed certificate, an unknown issuer, a name that does not match) the user is shown the
SHA-256 fingerprint of the certificate the server presented and asked whether to trust it; a yes
is remembered in ``known_hosts`` as one ``host:port sha256:HEX`` line. From then on that host and
port is accepted only with exactly that certificate, whatever the CA store says: a different one
is refused with a warning naming both fingerprints, and nothing overrides it silently (the user
runs ``--forget-host`` or edits the file). ``--insecure`` stays the explicit opt-out of all checks.

This module is only the file and the fingerprints; `chinwag.client.net` does the connecting.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "KnownHosts",
    "config_dir",
    "fingerprint",
    "host_key",
    "mismatch_warning",
]


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/chinwag``, or ``~/.config/chinwag`` when XDG_CONFIG_HOME is unset."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME", "")
    if base and os.path.isabs(base):
        return Path(base) / "chinwag"
    home = env.get("HOME") or str(Path.home())
    return Path(home) / ".config" / "chinwag"


def fingerprint(der: bytes) -> str:
    """The fingerprint of a DER certificate as stored and shown: ``sha256:`` and 64 hex digits."""
    return "sha256:" + hashlib.sha256(der).hexdigest().upper()


def host_key(host: str, port: int) -> str:
    """``host:port``, with brackets around an IPv6 address (``[::1]:6697``)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def mismatch_warning(key: str, remembered: str, presented: str, path: Path) -> str:
    """The loud refusal for a certificate that is not the one remembered for ``key``."""
    return (
        f"WARNING: THE TLS CERTIFICATE OF {key} HAS CHANGED!\n"
        f"  remembered: {remembered}\n"
        f"  presented:  {presented}\n"
        "Someone may be intercepting this connection, or the server has a new certificate. "
        "Not connecting.\n"
        f"If you know the change is expected, run again with --forget-host "
        f"(or delete the {key} line from {path})."
    )


class KnownHosts:
    """The remembered fingerprints, one ``host:port sha256:HEX`` line each (``#`` comments).

    Args:
        path: the file; it need not exist yet.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> list[str]:
        try:
            return self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []

    def get(self, key: str) -> str | None:
        """The fingerprint remembered for ``host:port``, or None."""
        for line in self._read():
            fields = line.split()
            if len(fields) >= 2 and not line.startswith("#") and fields[0] == key:
                return fields[1]
        return None

    def remember(self, key: str, print_: str) -> None:
        """Trust ``print_`` for ``host:port`` from now on (replacing what was there)."""
        lines = [line for line in self._read() if line.split()[:1] != [key]]
        lines.append(f"{key} {print_}")
        self._write(lines)

    def forget(self, key: str) -> bool:
        """Forget ``host:port``; True when it was there."""
        lines = self._read()
        kept = [line for line in lines if line.split()[:1] != [key]]
        if len(kept) == len(lines):
            return False
        self._write(kept)
        return True

    def _write(self, lines: list[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        os.replace(temporary, self.path)
