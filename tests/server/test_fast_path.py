"""The fast path sends exactly what the general dispatch sends, byte for byte, to every client.

Two servers built by `Server` (real parts, a memory store, real `Connection` objects on a
transport that keeps what is written) get the same random session: several clients with random
capabilities, a mix of common lines (which the fast path takes) and odd ones (tags, labels,
several targets, status prefixes, unknown targets, +m, bans, away, services, bad PINGs), which it
must leave to the general path. One server runs the fast path, the other has it off. Message ids,
server times and batch references are made the same in both runs by resetting their sources.
"""

from __future__ import annotations

import asyncio
import itertools
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chinwag.protocol import parse_line
from chinwag.server import fanout, history
from chinwag.server.app import Server
from chinwag.server.commands import labels
from chinwag.server.config import load_config
from chinwag.server.connection import Connection
from chinwag.server.stats import SENT
from chinwag.store import MemoryStore

NICKS = ("Amy", "bob[1]", "Cy", "dee")
CAPS = ("echo-message", "server-time", "message-tags", "labeled-response", "account-tag", "batch")
FIXED_TIME = 1_700_000_000.25


class _Transport:
    """Keeps what the server writes; stands for the socket."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        """Nothing to close."""

    def abort(self) -> None:
        """Nothing to abort."""

    def pause_reading(self) -> None:
        """Never paused here: the memory store commits at once."""

    def resume_reading(self) -> None:
        """See pause_reading."""


_targets = st.sampled_from(
    [
        *NICKS,
        "AMY",
        "BOB{1}",
        "nobody",
        "Eve",
        "NickServ",
        "#room",
        "#ROOM",
        "#other",
        "#nowhere",
        "@#room",
        "+#room",
        "Amy,Cy",
        "#room,dee",
        "Amy,Amy",
    ]
)
_texts = st.sampled_from(
    ["hi", "two words", ":colon", "\x01ACTION waves\x01", "é" * 300, "x" * 490, " lead"]
)
_tags = st.sampled_from(["", "", "", "@+draft/reply=m1 ", "@label=L1 ", "@label=L2;+x=y "])


@st.composite
def _line(draw: st.DrawFn) -> str:
    """One line a registered client might send, common or odd."""
    kind = draw(st.integers(0, 15))
    target, text, tags = draw(_targets), draw(_texts), draw(_tags)
    verb = draw(st.sampled_from(["PRIVMSG", "PRIVMSG", "NOTICE", "privmsg"]))
    if kind <= 6:
        return f"{tags}{verb} {target} :{text}"
    if kind == 7:
        return draw(st.sampled_from([f"{verb} {target}", verb, f"{verb} {target} :", "TAGMSG"]))
    if kind == 8:
        return f"{tags or '@+typing=active '}TAGMSG {target}"
    if kind == 9:
        return draw(
            st.sampled_from(["PING tok", "PING :a b", "PING", "PING :", "PONG x", "PONG", "ping t"])
        )
    if kind == 10:
        return f"{tags}PING :{text}"
    if kind == 11:
        return draw(st.sampled_from(["JOIN #room", "JOIN #other", "PART #room", "JOIN #room"]))
    if kind == 12:
        return draw(
            st.sampled_from(
                [
                    "MODE #room +m",
                    "MODE #room -m",
                    "MODE #room +v Cy",
                    "MODE #room -n",
                    "MODE #room +b dee!*@*",
                    "MODE #room -b dee!*@*",
                ]
            )
        )
    if kind == 13:
        return draw(st.sampled_from(["AWAY :gone", "AWAY", "NICK Amy2", "NICK Cy", "QUIT :bye"]))
    if kind == 14:
        return f"{verb} {target} {text.split(' ')[0] or 'x'}"  # text without the colon
    return f"{tags}{verb} {target} :{text}"


_session = st.lists(st.tuples(st.integers(0, len(NICKS) - 1), _line()), max_size=60)
_caps = st.lists(st.sets(st.sampled_from(CAPS)), min_size=len(NICKS), max_size=len(NICKS))


async def _run(
    caps: list[set[str]], lines: list[tuple[int, str]], *, fast: bool, enabled: bool
) -> list[bytes]:
    """What each client receives in one run of the session."""
    config = load_config(
        None,
        environ={},
        overrides={
            "server": {"name": "t.chinwag", "data_dir": "none", "default_channels": []},
            "limits": {"flood_rate": 0},
            "privacy": {"cloak_hosts": False},  # a cloak secret is drawn per server
            "history": {"enabled": enabled},
        },
    )
    server = Server(config, store=MemoryStore())
    server.network.created = FIXED_TIME
    server.network.clock = lambda: FIXED_TIME
    if not fast:
        server.fast_path = None
    await server.accounts.start()
    transports: list[_Transport] = []
    conns: list[Connection] = []
    for nick, wanted in zip(NICKS, caps, strict=True):
        conn = Connection(server, server.network, config.limits)
        transport = _Transport()
        conn.connection_made(transport)  # type: ignore[arg-type]
        transports.append(transport)
        conns.append(conn)
        hello = [f"CAP REQ :{' '.join(sorted(wanted))}", "CAP END"] if wanted else []
        hello += [f"NICK {nick}", f"USER u 0 * :{nick}", "JOIN #room"]  # Amy, first, is op
        await _feed(server, conn, hello)
    # Eve has a nick but never registers: no message may reach her.
    eve = Connection(server, server.network, config.limits)
    transport = _Transport()
    eve.connection_made(transport)  # type: ignore[arg-type]
    transports.append(transport)
    await _feed(server, eve, ["NICK Eve"])
    for who, line in lines:
        await _feed(server, conns[who], [line])
    for conn in [*conns, eve]:  # in a fixed order (Server.stop goes through a set)
        conn.close("Server shutting down")
    server.outbox.end_turn()
    await server.stop()
    # What the server counts (metrics, STATS) must not depend on the path either.
    counts = f"{SENT.count} sent, received {sorted(server.stats.received.items())}"
    return [bytes(transport.data) for transport in transports] + [counts.encode()]


async def _feed(server: Server, conn: Connection, lines: list[str]) -> None:
    conn.data_received("".join(line + "\r\n" for line in lines).encode())
    for _ in range(3):  # commit callbacks, join replays and the end of the turn
        await asyncio.sleep(0)
    server.outbox.end_turn()


def _both(caps: list[set[str]], lines: list[tuple[int, str]], enabled: bool) -> list[bytes]:
    """Run the session with the fast path on, then off; return what each got, asserting equal."""
    outputs = []
    for fast in (True, False):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(fanout, "_msgid_prefix", "m")
            patch.setattr(fanout, "_msgid_counter", itertools.count(1))
            patch.setattr(fanout, "time", SimpleNamespace(time=lambda: FIXED_TIME))
            patch.setattr(history, "_batch_ids", itertools.count(1))
            patch.setattr(labels, "_batch_ids", itertools.count(1))
            patch.setattr(SENT, "count", 0)
            outputs.append(asyncio.run(_run(caps, lines, fast=fast, enabled=enabled)))
    with_fast, general = outputs
    for nick, got, expected in zip([*NICKS, "Eve", "counts"], with_fast, general, strict=True):
        assert got == expected, nick
    return with_fast


# The cases a random session reaches only now and then, always tried: away, +m and +v, a ban,
# a note to self with and without echo-message, a channel not joined, a nick changed, a bot,
# a silent member of a delayed-join room.
_CASES = [
    (1, "AWAY :gone"),
    (0, "PRIVMSG bob[1] :are you there"),
    (0, "NOTICE bob[1] :no reply to this"),
    (0, "MODE #room +m"),
    (3, "PRIVMSG #room :muted"),
    (0, "MODE #room +v Cy"),
    (2, "PRIVMSG #room :voiced"),
    (0, "MODE #room -m"),
    (0, "MODE #room +b dee!*@*"),
    (3, "PRIVMSG #room :banned"),
    (3, "PART #room"),
    (3, "PRIVMSG #room :outside, +n"),
    (0, "MODE #room -n"),
    (3, "PRIVMSG #room :outside, -n"),
    (2, "PRIVMSG Cy :to myself"),
    (0, "PRIVMSG amy :to myself"),
    (0, "NICK Amy2"),
    (1, "PRIVMSG amy2 :new nick"),
    (2, "PRIVMSG #room :" + "é" * 300),
    (1, "PRIVMSG Eve :not registered yet"),
    (0, "MODE Amy2 +B"),
    (0, "PRIVMSG bob[1] :from a bot"),
    (0, "PRIVMSG #room :from a bot"),
    (0, "MODE #room +D"),
    (1, "PART #room"),
    (1, "JOIN #room"),
    (1, "PRIVMSG #room :silent no more"),
    (1, "PRIVMSG #room :and again"),
]
_ECHO = [{"echo-message"}, {"server-time", "message-tags"}, {"echo-message", "account-tag"}, set()]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(caps=_caps, lines=_session)
@example(caps=_ECHO, lines=_CASES)
@example(caps=[set(), set(), set(), set()], lines=_CASES)
def test_the_fast_path_sends_what_dispatch_sends_history_off(
    caps: list[set[str]], lines: list[tuple[int, str]]
) -> None:
    """History off: every client receives the same bytes with the fast path on and off."""
    _both(caps, lines, enabled=False)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(caps=_caps, lines=_session)
@example(caps=_ECHO, lines=_CASES)
def test_the_fast_path_sends_what_dispatch_sends_durable_history(
    caps: list[set[str]], lines: list[tuple[int, str]]
) -> None:
    """Durable history (output written on commit, join replays): the same bytes either way."""
    _both(caps, lines, enabled=True)


def test_a_plain_session_goes_through_the_fast_path_and_arrives() -> None:
    """Messages to a nick and a channel, PING and PONG are taken by the fast path, and arrive."""
    lines = [
        (0, "PRIVMSG bob[1] :hello"),
        (1, "NOTICE #room :all"),
        (2, "PING tok"),
        (3, "PONG x"),
    ]
    got = _both([set(), {"echo-message"}, set(), set()], lines, enabled=False)
    received = b":Amy!~u@127.0.0.1 PRIVMSG bob[1] :hello\r\n"
    echo = b":bob[1]!~u@127.0.0.1 NOTICE #room :all\r\n"
    assert received + echo in got[1]
    assert b":t.chinwag PONG t.chinwag tok\r\n" in got[2]


async def test_the_fast_path_takes_the_common_lines_and_declines_the_rest() -> None:
    """handle() is True for a plain message, PING and PONG; False for what dispatch must run."""
    config = load_config(None, environ={}, overrides={"server": {"data_dir": "none"}})
    server = Server(config, store=MemoryStore())
    conns = []
    for nick in ("amy", "bob"):
        conn = Connection(server, server.network, config.limits)
        conn.connection_made(_Transport())  # type: ignore[arg-type]
        await _feed(server, conn, [f"NICK {nick}", "USER u 0 * :x", "JOIN #r"])
        conns.append(conn)
    amy = conns[0].client
    assert amy is not None and server.fast_path is not None
    handle = server.fast_path.handle
    for line in ("PRIVMSG bob :hi", "NOTICE #R :hi", "PING t", "PONG"):
        assert handle(amy, parse_line(line)), line
    for line in (
        "@label=1 PRIVMSG bob :hi",  # labeled-response
        "@+draft/reply=x PRIVMSG bob :hi",  # client tags
        "PRIVMSG bob,amy :hi",  # several targets
        "PRIVMSG @#r :hi",  # status prefix
        "PRIVMSG nobody :hi",  # 401 from dispatch
        "PRIVMSG #nowhere :hi",  # 403 from dispatch
        "PRIVMSG NickServ :help",  # a service
        "PRIVMSG bob",  # 412 from dispatch
        "PING",  # 409 from dispatch
        "JOIN #x",
    ):
        assert not handle(amy, parse_line(line)), line
    server.history.health.failing = True  # the general path refuses (and explains) then
    assert not handle(amy, parse_line("PRIVMSG bob :hi"))
    await server.stop()
