"""The welcome burst comes from a template built once per configuration: what it sends must be,
byte for byte, what formatting every line afresh sends, whatever changed since it was built.

The reference here is the definition: each line formatted on its own by `numeric_line`, with
the ISUPPORT tokens and the MOTD read at that moment.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from chinwag import __version__
from chinwag.protocol import DecodeError, Message, isupport_lines, parse_line
from chinwag.protocol.numerics import (
    ERR_NOMOTD,
    RPL_CREATED,
    RPL_ENDOFMOTD,
    RPL_ISUPPORT,
    RPL_MOTD,
    RPL_MOTDSTART,
    RPL_MYINFO,
    RPL_WELCOME,
    RPL_YOURHOST,
)
from chinwag.server.accounts import Accounts
from chinwag.server.commands import dispatch
from chinwag.server.commands.base import Context
from chinwag.server.commands.welcome import (
    CHANNEL_MODES,
    CHANNEL_MODES_WITH_PARAM,
    USER_MODES,
    isupport_tokens,
    lusers_counts,
    lusers_lines,
)
from chinwag.server.config import SECTIONS, Config, ConfigError, load_config
from chinwag.server.connection import Connection
from chinwag.server.history import History
from chinwag.server.motd import Motd
from chinwag.server.network import Network
from chinwag.server.reload import Reloader
from chinwag.server.replies import numeric_line
from chinwag.server.state import Client
from chinwag.server.tasks import Tasks
from chinwag.store import MemoryStore


class _Owner:
    """Stands where the server does for a connection: output stays in its pending list."""

    def admission_refusal(self, ip: str) -> str | None:
        return None

    def dispatch(self, client: Client, item: Message | DecodeError) -> None:
        raise AssertionError("these tests dispatch themselves")

    def mark_dirty(self, conn: Connection) -> None:
        """Nothing to do: the tests read the pending output."""

    def mark_lazy(self, conn: Connection) -> None:
        """Nothing to do: the tests read the pending output."""

    def finish(self, conn: Connection, data: bytes) -> None:
        """Nothing to do: no test here closes a connection."""

    def client_gone(self, client: Client, reason: str) -> None:
        """Nothing to do: no test here closes a connection."""


class _Server:
    """The parts a registration uses, built as ``app.py`` builds them, and a reloader."""

    def __init__(self, **server: object) -> None:
        self.settings: dict[str, dict[str, object]] = {
            "server": {"name": "t.chinwag", "data_dir": "none", "default_channels": [], **server},
            "privacy": {"cloak_hosts": False},
        }
        self.config = self._read()
        self.network = Network(self.config)
        self.store = MemoryStore()
        self.tasks = Tasks()
        self.history = History(
            self.config.history, self.store.history, self.network, self.tasks.spawn
        )
        self.accounts = Accounts(
            self.config, self.network, self.store, self.tasks.spawn, lambda: None
        )
        self.motd = Motd(self.config.server)
        self.reloader = Reloader(
            self.config,
            self._read,
            network=self.network,
            accounts=self.accounts,
            history=self.history,
            motd=self.motd,
            spawn=self.tasks.spawn,
        )
        self.owner = _Owner()
        self.arrivals = 0

    def _read(self) -> Config:
        return load_config(None, environ={}, overrides=self.settings)

    def context(self, client: Client) -> Context:
        return Context(
            self.network,
            self.history,
            self.accounts,
            self.store,
            self.config,
            self.motd,
            self.tasks.spawn,
            client,
        )

    def connect(self) -> Client:
        """A new connection, not registered yet."""
        conn = Connection(self.owner, self.network, self.config.limits)
        client = Client(conn=conn, host="127.0.0.1", ip="127.0.0.1")
        conn.client = client
        self.network.add_connection(client)
        return client

    def run(self, client: Client, line: str) -> bytes:
        """Dispatch ``line`` from ``client``; return what it was sent."""
        message = parse_line(line)
        assert message is not None
        dispatch(self.context(client), message)
        return _take(client)

    def register(self, nick: str | None = None) -> tuple[Client, bytes]:
        """A new user registered with NICK and USER; what it was sent for the USER."""
        self.arrivals += 1
        client = self.connect()
        self.run(client, f"NICK {nick or f'u{self.arrivals}'}")
        return client, self.run(client, "USER u 0 * :U")


def _take(client: Client) -> bytes:
    conn = client.conn
    assert isinstance(conn, Connection)
    sent = b"".join(item for item in conn.pending if isinstance(item, bytes))
    conn.pending.clear()
    return sent


def _reference(server: _Server, client: Client) -> bytes:
    """The welcome burst to ``client``, every line formatted on its own, now."""
    network, nick, ctx = server.network, client.nick, server.context(client)
    created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(network.created))
    version = f"chinwag-{__version__}"
    lines = [
        numeric_line(
            network.name,
            nick,
            RPL_WELCOME,
            f"Welcome to the {server.config.server.network} IRC Network {client.prefix}",
        ),
        numeric_line(
            network.name,
            nick,
            RPL_YOURHOST,
            f"Your host is {network.name}, running version {version}",
        ),
        numeric_line(network.name, nick, RPL_CREATED, f"This server was created {created}"),
        numeric_line(
            network.name,
            nick,
            RPL_MYINFO,
            network.name,
            version,
            USER_MODES,
            CHANNEL_MODES,
            CHANNEL_MODES_WITH_PARAM,
        ),
    ]
    for tokens in isupport_lines(isupport_tokens(ctx)):
        lines.append(
            numeric_line(network.name, nick, RPL_ISUPPORT, *tokens, "are supported by this server")
        )
    lines += _reference_lusers(network, nick)
    text = server.motd.text
    if not text:
        lines.append(numeric_line(network.name, nick, ERR_NOMOTD, "MOTD File is missing"))
        return b"".join(lines)
    lines.append(
        numeric_line(network.name, nick, RPL_MOTDSTART, f"- {network.name} Message of the day - ")
    )
    lines += [
        numeric_line(network.name, nick, RPL_MOTD, f"- {line}")
        for line in text.splitlines() or [""]
    ]
    lines.append(numeric_line(network.name, nick, RPL_ENDOFMOTD, "End of /MOTD command."))
    return b"".join(lines)


def _reference_lusers(network: Network, nick: str) -> list[bytes]:
    counts = {name.decode(): str(value) for name, value in lusers_counts(network).items()}
    return lusers_lines(network, nick, counts)


async def test_the_burst_is_the_reference_and_counts_follow_arrivals() -> None:
    """Each arrival gets the reference burst with the LUSERS counts of its moment."""
    server = _Server()
    for _ in range(3):
        client, sent = server.register()
        assert sent == _reference(server, client)
    assert b" 265 u3 3 3 :Current local users 3, max 3\r\n" in sent


async def test_lusers_and_motd_commands_equal_their_reference() -> None:
    """LUSERS after users went invisible, opered and left; MOTD: what the reference says."""
    server = _Server()
    amy, _ = server.register("amy")
    bob, _ = server.register("bob")
    server.register("cat")
    server.network.set_user_mode(bob, "i", True)
    server.network.set_user_mode(amy, "o", True)
    server.connect()  # one unknown connection
    server.network.remove(bob, "bye")
    lusers = server.run(amy, "LUSERS")
    assert lusers == b"".join(_reference_lusers(server.network, "amy"))
    assert b" 252 amy 1 :operator(s) online\r\n" in lusers
    assert b" 253 amy 1 :unknown connection(s)\r\n" in lusers
    motd = server.run(amy, "MOTD")
    assert motd.startswith(b":t.chinwag 375 amy :- t.chinwag Message of the day - \r\n")
    assert _reference(server, amy).endswith(motd)


async def test_after_a_reload_of_every_setting_the_burst_is_rebuilt() -> None:
    """Each setting of every section changed by a reload (REHASH): the next arrival gets the
    burst formatted afresh, so no setting ISUPPORT or the MOTD shows can be left out of the
    template's key. (A value the configuration refuses is skipped.)"""
    server = _Server()
    server.register()
    changed = 0
    for section in SECTIONS:
        for item in dataclasses.fields(getattr(server.config, section)):
            value = _another(getattr(getattr(server.config, section), item.name))
            if value is None or item.name in ("motd_file", "data_dir"):
                continue
            wanted = server.settings.setdefault(section, {})
            before = wanted.get(item.name)
            wanted[item.name] = value
            try:
                new = server._read()
            except ConfigError:
                wanted.pop(item.name) if before is None else wanted.update({item.name: before})
                continue
            assert server.reloader.apply(new).ok
            client, sent = server.register()
            assert sent == _reference(server, client), f"{section}.{item.name}"
            changed += 1
    assert changed > 40


def _another(value: object) -> object | None:
    """A different value of the same type (None: left alone)."""
    if isinstance(value, bool):
        return None  # switches: features on and off, not what the burst says
    if isinstance(value, int | float):
        return value + 3
    if isinstance(value, str):
        return value + "x" if value else "changed"
    return None


async def test_a_new_motd_and_a_direct_change_are_seen_at_once() -> None:
    """The MOTD text changing (a reloaded file) and a limit set in place (not through a
    reload) each give the next arrival the reference burst."""
    server = _Server(motd="first")
    server.register()
    server.motd.text = "second\n100% sure, \x02bold\x02 %(users)d {nick}"
    client, sent = server.register()
    assert sent == _reference(server, client)
    assert b" 372 u2 :- 100% sure, \x02bold\x02 %(users)d {nick}\r\n" in sent
    server.config.limits.nick_length = 9
    server.config.server.network = "Other Net"
    client, sent = server.register()
    assert sent == _reference(server, client)
    assert b"NETWORK=Other\\x20Net" in sent and b"NICKLEN=9" in sent
    server.motd.text = ""
    client, sent = server.register()
    assert sent == _reference(server, client)
    assert sent.endswith(b" 422 u4 :MOTD File is missing\r\n")


async def test_a_nick_longer_than_nicklen_after_a_reload_gets_its_lines_whole() -> None:
    """A user who took a long nick before NICKLEN was lowered: MOTD lines of nearly 512 bytes
    are cut for its nick, as the reference cuts them, not sent too long."""
    server = _Server(motd="m" * 480)
    amy, _ = server.register("a" * 30)
    server.config.limits.nick_length = 5
    motd = server.run(amy, "MOTD")
    assert motd == _reference(server, amy)[-len(motd) :]
    assert all(len(line) <= 512 for line in motd.splitlines(keepends=True))


async def test_a_motd_line_cut_to_fit_keeps_as_much_for_a_short_nick_as_the_reference() -> None:
    """A MOTD line of 500 bytes (or 300 two-byte characters) is cut to fit 512 bytes for the
    nick it goes to: a short nick gets the longer line the reference gives it, not the line
    cut for the longest nick, in the burst and in a MOTD reply."""
    for text in ("m" * 500, "\u00e9" * 300, "short\n" + "m" * 500 + "\nend"):
        server = _Server(motd=text)
        client, sent = server.register("u1")
        assert sent == _reference(server, client)
        assert max(map(len, sent.splitlines(keepends=True))) >= 510
        motd = server.run(client, "MOTD")
        assert motd == _reference(server, client)[-len(motd) :]


_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85"
"""The characters ``str.splitlines`` breaks a MOTD at (the others it knows are past U+2FF)."""
_MOTD_CHARACTERS = st.characters(
    min_codepoint=0x01, max_codepoint=0x2FF, exclude_characters=_LINE_BREAKS
)
_MOTD_LINE = st.text(_MOTD_CHARACTERS, max_size=40) | st.text(
    _MOTD_CHARACTERS, min_size=200, max_size=600
)
"""A MOTD line: short, or long enough (200 characters of one or two bytes and more) to be cut
to fit 512 bytes for some nicks and not for others."""


_NAME_CHARACTERS = st.characters(
    min_codepoint=0x21, max_codepoint=0x2FF, exclude_categories=("C", "Z")
)
"""What a server name may hold (`config.MAX_SERVER_NAME`: 63 bytes, printable, no spaces); 31
characters of these are at most 62 bytes."""


@settings(max_examples=40, deadline=None)
@given(
    name=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=63)
    | st.text(_NAME_CHARACTERS, min_size=1, max_size=31),
    network=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FF), max_size=40),
    motd=st.lists(_MOTD_LINE | st.sampled_from(_LINE_BREAKS), max_size=4).map("\n".join),
)
def test_any_names_and_motd_give_the_reference_burst(name: str, network: str, motd: str) -> None:
    """Any server name a config allows (up to 63 bytes), any network name and any MOTD, ``%``,
    controls and lines long enough to be cut to fit 512 bytes included: the burst is the
    reference."""
    motd = motd.replace("\r", "")

    async def check() -> None:
        server = _Server(name=name, network=network, motd=motd)
        for _ in range(2):
            client, sent = server.register()
            assert sent == _reference(server, client)
            assert all(len(line) <= 512 for line in sent.split(b"\n")[:-1])

    asyncio.run(check())


async def test_a_labeled_registration_tags_every_line_of_the_burst() -> None:
    """With labeled-response and batch, the welcome that a labeled CAP END completes is one
    labeled batch in which every line carries the batch tag, although it was queued as one
    chunk."""
    server = _Server()
    client = server.connect()
    server.run(client, "CAP REQ :labeled-response batch")
    server.run(client, "NICK amy")
    server.run(client, "USER u 0 * :U")
    sent = server.run(client, "@label=r1 CAP END")
    lines = sent.split(b"\r\n")[:-1]
    assert lines[0].startswith(b"@label=r1 :t.chinwag BATCH +")
    ref = lines[0].split(b"+", 1)[1].split(b" ")[0]
    assert lines[-1] == b":t.chinwag BATCH -" + ref
    assert all(line.startswith(b"@batch=" + ref + b" ") for line in lines[1:-1])
    assert lines[1].split(b" ", 2)[2].startswith(b"001 amy ")
