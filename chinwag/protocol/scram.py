"""SCRAM-SHA-256 (RFC 5802, RFC 7677), the server side, sans I/O.

Theory of operation
-------------------
The server never sees the password. It keeps, per account, a salt, an iteration count and two
keys derived from the password (`credentials`): ``StoredKey = H(HMAC(SaltedPassword, "Client
Key"))`` and ``ServerKey = HMAC(SaltedPassword, "Server Key")``. A login is two round trips:

1. client-first ``n,,n=<user>,r=<client nonce>``: `ServerExchange.first` answers with
   server-first ``r=<client nonce + server nonce>,s=<salt>,i=<iterations>``;
2. client-final ``c=biws,r=<nonce>,p=<proof>``: `ServerExchange.final` checks that the proof
   XOR ``HMAC(StoredKey, AuthMessage)`` hashes to StoredKey, and answers ``v=<server
   signature>``, which proves to the client that the server knew the password too.

Channel binding (``-PLUS``, ``p=``) is not offered: a client that asks for it is refused.
Everything that fails raises `ScramError` with the RFC's ``e=`` value as its message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

__all__ = ["DEFAULT_ITERATIONS", "ScramCredentials", "ScramError", "ServerExchange", "credentials"]

DEFAULT_ITERATIONS = 4096
"""PBKDF2 rounds for new credentials (RFC 7677's minimum, what clients expect to compute)."""


class ScramError(ValueError):
    """A SCRAM message was malformed or the proof was wrong; ``str()`` is the ``e=`` value."""


@dataclass(frozen=True, slots=True)
class ScramCredentials:
    """What the server keeps to check SCRAM-SHA-256 logins without the password."""

    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes

    def encode(self) -> str:
        """As one text field: ``iterations$salt$stored_key$server_key`` (base64 parts)."""
        parts = [self.salt, self.stored_key, self.server_key]
        return "$".join([str(self.iterations), *(base64.b64encode(p).decode() for p in parts)])

    @classmethod
    def decode(cls, text: str) -> ScramCredentials:
        """The inverse of `encode`.

        Raises:
            ValueError: when ``text`` is not such a field.
        """
        iterations, salt, stored, server = text.split("$")
        decoded = [base64.b64decode(part, validate=True) for part in (salt, stored, server)]
        return cls(decoded[0], int(iterations), decoded[1], decoded[2])


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.digest(key, message, "sha256")


def credentials(
    password: bytes, salt: bytes | None = None, iterations: int = DEFAULT_ITERATIONS
) -> ScramCredentials:
    """Derive the stored credentials from a password (UTF-8 bytes, already validated).

    SASLprep is not applied: chinwag passwords are any UTF-8 without NUL, CR or LF, and the
    client sends the same bytes over PLAIN.
    """
    salt = secrets.token_bytes(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password, salt, iterations)
    client_key = _hmac(salted, b"Client Key")
    return ScramCredentials(
        salt, iterations, hashlib.sha256(client_key).digest(), _hmac(salted, b"Server Key")
    )


def _attributes(message: str) -> list[tuple[str, str]]:
    """``a=x,b=y`` as pairs; the value may hold ``=``."""
    pairs: list[tuple[str, str]] = []
    for part in message.split(","):
        if len(part) < 2 or part[1] != "=":
            raise ScramError("invalid-encoding")
        pairs.append((part[0], part[2:]))
    return pairs


def _unescape_name(name: str) -> str:
    """RFC 5802 saslname: ``=2C`` is ``,`` and ``=3D`` is ``=``; any other ``=`` is invalid."""
    if "=" in name.replace("=2C", "").replace("=3D", ""):
        raise ScramError("invalid-username-encoding")
    return name.replace("=2C", ",").replace("=3D", "=")


class ServerExchange:
    """One SCRAM-SHA-256 login, seen from the server.

    Args:
        nonce: the server's part of the nonce (tests inject RFC 7677's); random by default.
    """

    def __init__(self, nonce: str | None = None) -> None:
        self._server_nonce = nonce if nonce is not None else secrets.token_urlsafe(18)
        self.username = ""
        """The ``n=`` name of client-first (unescaped), once `parse_first` has run."""
        self.authzid = ""
        """The ``a=`` identity of the GS2 header, if any."""
        self.credentials: ScramCredentials | None = None
        """The credentials `first` was given (the exchange is checked against them)."""
        self.done = False
        """True once `final` accepted the proof."""
        self._gs2_header = ""
        self._client_first_bare = ""
        self._nonce = ""
        self._server_first = ""

    def parse_first(self, message: str) -> str:
        """Read client-first; return the user name whose credentials `first` needs.

        Raises:
            ScramError: malformed, or channel binding asked for.
        """
        flag, comma, rest = message.partition(",")
        authzid, comma2, bare = rest.partition(",")
        if not comma or not comma2:
            raise ScramError("invalid-encoding")
        if flag.startswith("p="):
            raise ScramError("channel-bindings-not-supported")
        if flag not in ("n", "y"):
            raise ScramError("invalid-encoding")
        if authzid:
            if not authzid.startswith("a="):
                raise ScramError("invalid-encoding")
            self.authzid = _unescape_name(authzid[2:])
        attributes = _attributes(bare)
        if attributes and attributes[0][0] == "m":
            raise ScramError("extensions-not-supported")
        if len(attributes) < 2 or attributes[0][0] != "n" or attributes[1][0] != "r":
            raise ScramError("invalid-encoding")
        self.username = _unescape_name(attributes[0][1])
        client_nonce = attributes[1][1]
        if not client_nonce or not self.username:
            raise ScramError("invalid-encoding")
        self._gs2_header = f"{flag},{authzid},"
        self._client_first_bare = bare
        self._nonce = client_nonce + self._server_nonce
        return self.username

    def first(self, creds: ScramCredentials) -> str:
        """server-first, for the credentials of `username`."""
        self.credentials = creds
        salt = base64.b64encode(creds.salt).decode()
        self._server_first = f"r={self._nonce},s={salt},i={creds.iterations}"
        return self._server_first

    def final(self, message: str, creds: ScramCredentials) -> str:
        """Check client-final; return server-final (``v=...``).

        Raises:
            ScramError: ``invalid-proof`` for a wrong password, else what is malformed.
        """
        attributes = _attributes(message)
        if len(attributes) < 3 or [a[0] for a in attributes[:2]] != ["c", "r"]:
            raise ScramError("invalid-encoding")
        if attributes[-1][0] != "p":
            raise ScramError("invalid-encoding")
        binding, nonce, proof_text = attributes[0][1], attributes[1][1], attributes[-1][1]
        try:
            expected = base64.b64decode(binding, validate=True).decode()
            proof = base64.b64decode(proof_text, validate=True)
        except (ValueError, UnicodeDecodeError):
            raise ScramError("invalid-encoding") from None
        if expected != self._gs2_header:
            raise ScramError("channel-bindings-dont-match")
        if nonce != self._nonce:
            raise ScramError("invalid-encoding")
        without_proof = message[: message.rindex(",p=")]
        auth_message = ",".join([self._client_first_bare, self._server_first, without_proof])
        signature = _hmac(creds.stored_key, auth_message.encode())
        if len(proof) != len(signature):
            raise ScramError("invalid-proof")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.sha256(client_key).digest(), creds.stored_key):
            raise ScramError("invalid-proof")
        verifier = _hmac(creds.server_key, auth_message.encode())
        self.done = True
        return "v=" + base64.b64encode(verifier).decode()
