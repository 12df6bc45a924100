"""Format a line once, send the same bytes to many recipients.

Theory of operation
-------------------
Fan-out is what a chat server exists for, so it is the one place where chinwag is careful about
cost. An `Outgoing` holds one event (source, command, parameters and the tags that go with it).
Each recipient needs one of a few *variants* of the line, decided only by which tag capabilities it
negotiated (server-time, message-tags, account-tag): at most eight variants, usually one or two.
`Outgoing.line_for` builds a variant the first time a recipient needs it and returns the cached
bytes after that, so sending to a thousand members is a thousand dict look-ups and a thousand
non-blocking `enqueue` calls, with no formatting and no ``await`` in the loop.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterable, Mapping

from chinwag.protocol import MAX_BODY_BYTES, Message, fit_utf8, format_server_time, format_tags
from chinwag.protocol.message import format_line
from chinwag.server.state import Cap, Client

__all__ = ["TAG_CAPS", "Outgoing", "new_msgid", "send_to_all"]

TAG_CAPS = Cap.SERVER_TIME | Cap.MESSAGE_TAGS | Cap.ACCOUNT_TAG

# Commands whose last parameter other servers always send in the ``:trailing`` form, with the
# parameter count that includes it. Valid either way per RFC, but naive clients (ii, regex bots)
# look for " :" to find the text, and ii shows a nick change only in the ``NICK :new`` form.
_TRAILING_FORM = {
    "PRIVMSG": 2,
    "NOTICE": 2,
    "TOPIC": 2,
    "KICK": 3,
    "PART": 2,
    "QUIT": 1,
    "AWAY": 1,
    "NICK": 1,
    "WALLOPS": 1,
    "SETNAME": 1,
}
_msgid_prefix = os.urandom(6).hex()
_msgid_counter = itertools.count(1)


def _cut_text(line: bytes) -> bytes:
    """Cut the trailing text of ``line`` (CR LF included) to 512 bytes, on a character boundary.

    The sender's own line fitted in 512 bytes, but the ``nick!user@host`` source added here can
    push full-length text past it, and a longer line is cut or refused by other parsers.
    """
    head, _, text = line[:-2].partition(b" :")
    return head + b" :" + fit_utf8(text, MAX_BODY_BYTES - len(head) - 4) + b"\r\n"


def new_msgid() -> str:
    """A network-unique message id: a per-process random prefix and a counter (cheap, unique)."""
    return f"{_msgid_prefix}{next(_msgid_counter):x}"


class Outgoing:
    """One event to deliver, formatted lazily once per tag variant.

    Args:
        source: the prefix (``nick!user@host`` or the server name).
        command: the IRC command.
        params: its parameters.
        msgid: the message id, sent to message-tags clients (None for none).
        account: the sender's account, sent to account-tag clients.
        client_tags: tags from the sender (``+draft/reply`` ...), relayed to message-tags clients.
        when: the server time of the event (now by default).
    """

    __slots__ = ("_base", "_variants", "account", "client_tags", "msgid", "time")

    def __init__(
        self,
        source: str,
        command: str,
        *params: str,
        msgid: str | None = None,
        account: str | None = None,
        client_tags: Mapping[str, str] | None = None,
        when: float | None = None,
    ) -> None:
        if len(params) == _TRAILING_FORM.get(command):
            # The hot path (PRIVMSG, NOTICE...): the leading parameters are names the server
            # already validated (channels, nicks) and the text came through the decoder, which
            # lets no CR, LF or NUL in, so the line can be put together without re-checking.
            head = "".join([":", source, " ", command, " ", *(p + " " for p in params[:-1])])
            self._base = (head + ":" + params[-1]).encode("utf-8") + b"\r\n"
            if len(self._base) > MAX_BODY_BYTES:
                self._base = _cut_text(self._base)
        else:
            self._base = format_line(Message(command, params, source)).encode("utf-8") + b"\r\n"
        self._variants: dict[int, bytes] = {0: self._base}
        self.msgid = msgid
        self.account = account
        self.client_tags = client_tags or {}
        self.time = time.time() if when is None else when

    @property
    def plain(self) -> bytes:
        """The line without any tags."""
        return self._base

    def tags_for(self, caps: int) -> dict[str, str]:
        """The tags a client with ``caps`` gets on this line."""
        tags: dict[str, str] = {}
        if caps & (Cap.SERVER_TIME | Cap.MESSAGE_TAGS):
            tags["time"] = format_server_time(self.time)
        if caps & Cap.MESSAGE_TAGS:
            if self.msgid:
                tags["msgid"] = self.msgid
            tags.update(self.client_tags)
        if caps & Cap.ACCOUNT_TAG and self.account:
            tags["account"] = self.account
        return tags

    def line_for(self, client: Client) -> bytes:
        """The bytes for ``client``: built once per tag variant, then shared."""
        key = client.caps & TAG_CAPS
        line = self._variants.get(key)
        if line is None:
            tags = self.tags_for(client.caps)
            line = (format_tags(tags) + " ").encode("utf-8") + self._base if tags else self._base
            self._variants[key] = line
        return line


def send_to_all(
    recipients: Iterable[Client], outgoing: Outgoing, exclude: Client | None = None
) -> None:
    """Queue ``outgoing`` for every recipient but ``exclude``: no awaits, no formatting.

    This is the hottest loop in chinwag, hence the local names and the inlined variant look-up.
    A connection that already has output pending this turn gets a plain list append; the first
    line of a turn goes through `Connection.enqueue`, which does the bookkeeping.
    """
    variants = outgoing._variants
    line_for = outgoing.line_for
    for client in recipients:
        if client is exclude:
            continue
        line = variants.get(client.caps & TAG_CAPS)
        if line is None:
            line = line_for(client)
        conn = client.conn
        pending = conn.pending
        if pending:
            pending.append(line)
        else:
            conn.enqueue(line)
