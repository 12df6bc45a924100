"""TLS for the server: a modern-only `ssl.SSLContext`, and a self-signed certificate on demand.

``chinwag serve --tls`` with no certificate generates one (ECDSA P-256, ten years, the server name
and loopback as subject alternative names) into the data directory the first time, and reuses it
after, so that clients that pinned its fingerprint keep trusting it. TLS 1.2 is the floor, and
only AEAD cipher suites with forward secrecy are offered for TLS 1.2 (TLS 1.3 suites are all
modern).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import logging
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["certificate_fingerprint", "ensure_self_signed", "server_context"]

log = logging.getLogger("chinwag.tls")

_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A server-side context for ``cert_file`` and ``key_file``: TLS 1.2+, modern ciphers only.

    Raises:
        ssl.SSLError, OSError: when the files are missing or do not match.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(_TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.load_cert_chain(cert_file, key_file)
    return context


def ensure_self_signed(directory: Path, server_name: str) -> tuple[Path, Path]:
    """Return (certificate, key) under ``directory``, generating them the first time.

    Args:
        directory: where ``tls-cert.pem`` and ``tls-key.pem`` live (created if missing).
        server_name: the DNS name to put in the certificate.
    """
    cert_file = directory / "tls-cert.pem"
    key_file = directory / "tls-key.pem"
    if cert_file.exists() and key_file.exists():
        return cert_file, key_file
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_name)])
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [
        x509.DNSName(server_name),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    log.info(
        "generated a self-signed certificate %s (SHA-256 %s)",
        cert_file,
        certificate_fingerprint(cert_file.read_bytes()),
    )
    return cert_file, key_file


def certificate_fingerprint(pem_or_der: bytes) -> str:
    """The SHA-256 fingerprint of a certificate, as colon-separated upper-case hex."""
    der = (
        ssl.PEM_cert_to_DER_cert(pem_or_der.decode("ascii"))
        if pem_or_der.lstrip().startswith(b"-----")
        else pem_or_der
    )
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
