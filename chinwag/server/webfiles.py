"""The HTTP side of the WebSocket listener: the web client's files, and who may connect.

The built-in web client is a handful of static files shipped in the ``chinwag.web`` package. They
are read once when the listener starts and served from memory by exact path, so no request can
name a file outside the set. Every response forbids framing, sniffing and any script or connection
that does not come from this listener (a strict Content-Security-Policy), so even a bug in the
client's rendering could not load code from elsewhere.

Origins: a browser sends ``Origin`` with every WebSocket handshake, and a page on another site
could otherwise open a chat connection in the name of whoever visits it. By default only the
listener's own pages (Origin equal to the Host the browser asked for) and programs that send no
Origin at all (IRC libraries, bots) are let in; ``allowed_origins`` names more, or ``*`` for any.
"""

from __future__ import annotations

import email.utils
import http
from dataclasses import dataclass
from importlib import resources
from urllib.parse import urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

__all__ = ["StaticSite", "origin_allowed"]

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-cache"),
)
_PACKAGE = "chinwag.web"


@dataclass(frozen=True, slots=True)
class _File:
    content_type: str
    body: bytes


class StaticSite:
    """The web client's files, served by exact path from memory."""

    def __init__(self) -> None:
        self._files: dict[str, _File] = {}
        for entry in resources.files(_PACKAGE).iterdir():
            suffix = entry.name[entry.name.rfind(".") :]
            if entry.is_file() and suffix in _CONTENT_TYPES:
                self._files["/" + entry.name] = _File(_CONTENT_TYPES[suffix], entry.read_bytes())
        if "/index.html" in self._files:
            self._files["/"] = self._files["/index.html"]

    @property
    def paths(self) -> list[str]:
        """Every path served."""
        return sorted(self._files)

    def response(self, request: Request) -> Response:
        """The file at the request's path, or 404 Not Found."""
        found = self._files.get(request.path.partition("?")[0])
        if found is None:
            return plain_response(http.HTTPStatus.NOT_FOUND, "Not found.\n")
        return _response(http.HTTPStatus.OK, found.content_type, found.body)


def plain_response(status: http.HTTPStatus, text: str) -> Response:
    """A short plain-text response (errors, refusals)."""
    return _response(status, "text/plain; charset=utf-8", text.encode())


def _response(status: http.HTTPStatus, content_type: str, body: bytes) -> Response:
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),  # one request per connection: the listener is no web server
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            *_SECURITY_HEADERS,
        ]
    )
    return Response(status.value, status.phrase, headers, body)


def origin_allowed(request: Request, allowed: list[str]) -> bool:
    """Whether the handshake's ``Origin`` may open a connection.

    Args:
        request: the handshake request.
        allowed: extra origins (``https://chat.example.org``), or ``*`` for any.
    """
    origin = request.headers.get("Origin")
    if origin is None or "*" in allowed:
        return True  # not a browser, or every site is welcome
    if origin.rstrip("/") in (item.rstrip("/") for item in allowed):
        return True
    host = request.headers.get("Host")
    return host is not None and urlsplit(origin).netloc.lower() == host.lower()
