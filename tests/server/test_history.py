"""The history glue in process: parties of private conversations, how stored lines are shown,
late (labeled) replies, and retention on a memory store with an injected clock."""

from __future__ import annotations

import asyncio
import calendar
import time
from typing import Any, cast

import pytest

from chinwag.protocol import parse_line
from chinwag.server import Server, load_config
from chinwag.server.commands.labels import LateReply, defer_reply, send_labeled
from chinwag.server.connection import Connection
from chinwag.server.fanout import Outgoing
from chinwag.server.history import history_lines
from chinwag.server.state import Cap, Client
from chinwag.store import ChannelTarget, DirectTarget, HistoryEntry, OnCommit, StoreClosedError


class _Conn:
    """Just enough of a Connection to collect what is sent."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closing = False

    def enqueue(self, data: bytes) -> None:
        self.sent.append(data)


def _client(nick: str, caps: int = 0, account: str | None = None) -> Client:
    client = Client(conn=cast(Connection, _Conn()), host="h", ip="127.0.0.1", nick=nick)
    client.user, client.caps, client.account = "~" + nick, caps, account
    return client


def _server(**history: Any) -> Server:
    overrides: dict[str, dict[str, Any]] = {
        "server": {"port": 0, "name": "t.chinwag", "data_dir": "none"},
        "history": history,
    }
    return Server(load_config(None, environ={}, overrides=overrides))


def _entry(text: str, when: float, command: str = "PRIVMSG") -> HistoryEntry:
    return HistoryEntry(
        msgid=f"id{when}",
        time=when,
        target=ChannelTarget("#c"),
        target_name="#c",
        sender="amy!~amy@h",
        account=None,
        command=command,
        text=text,
    )


def test_parties_keep_guests_apart_and_accounts_stable() -> None:
    """A guest's party is a token of that connection; an account's is its folded name."""
    server = _server()
    history = server.history
    a, b = _client("amy"), _client("amy")
    token = history.party(a)
    assert token.startswith("~") and token == history.party(a)
    assert history.party(b) != token
    assert history.guest(token) is a
    history.client_gone(a)
    assert history.guest(token) is None
    assert history.party(a) != token  # a new token: the old conversations stay out of reach
    assert history.party(_client("x", account="Bob")) == "bob"


async def test_record_keys_private_messages_by_the_parties_of_the_moment() -> None:
    """A private message is stored under the parties `party` gives when it is sent: a guest's
    token drawn by the message itself, then the account's identity once the guest logs in."""
    server = _server()
    await server.start()
    try:
        history = server.history
        amy, bob = _client("amy"), _client("bob")

        def record(msgid: str) -> None:
            outgoing = Outgoing("amy!~amy@h", "PRIVMSG", "bob", msgid, msgid=msgid)
            history.record(amy, None, bob, outgoing, target_name="bob", command="PRIVMSG", text="")

        record("as-guests")  # neither party looked up before
        guest_bob = history.party(bob)
        bob.account, bob.account_party = "Bob", "bob!0123abcd"
        record("logged-in")
        await server.store.history.flush()
        amy_party = history.party(amy)
        for other, expected in ((guest_bob, ["as-guests"]), ("bob!0123abcd", ["logged-in"])):
            found = await server.store.history.latest(DirectTarget(amy_party, other), None, 10)
            assert [entry.msgid for entry in found] == expected
    finally:
        await server.stop()


def test_history_lines_for_plain_and_modern_clients() -> None:
    """Plain clients get [HH:MM] in the text (inside ACTION); batch clients a tagged batch."""
    when = float(calendar.timegm((2026, 1, 2, 3, 4, 5, 0, 0, 0)))
    entries = [
        _entry("hello", when),
        _entry("\x01ACTION waves\x01", when),
        _entry("", when, "TAGMSG"),
    ]
    plain = history_lines(_client("p"), entries, "srv", "#c")
    assert [parse_line(line.decode().rstrip()).params[1] for line in plain] == [
        "[03:04] hello",
        "\x01ACTION [03:04] waves\x01",
    ]
    modern = _client("m", Cap.BATCH | Cap.SERVER_TIME | Cap.MESSAGE_TAGS)
    lines = [
        parse_line(line.decode().rstrip()) for line in history_lines(modern, entries, "srv", "#c")
    ]
    assert lines[0].command == "BATCH" and lines[0].params[1:] == ("chathistory", "#c")
    ref = lines[0].params[0][1:]
    assert [m.params[1] for m in lines[1:-1]] == ["hello", "\x01ACTION waves\x01"]
    assert all(
        m.tags["batch"] == ref and m.tags["time"].startswith("2026-01-02T03:04:05")
        for m in lines[1:-1]
    )
    assert lines[1].tags["msgid"] == f"id{when}"
    assert lines[-1].params == (f"-{ref}",)


def test_late_reply_is_labeled_whichever_part_comes_first() -> None:
    """A late reply waits for the handler's early lines and labels the whole reply once."""
    server = _server()
    client = _client("amy", Cap.BATCH | Cap.LABELED_RESPONSE)
    conn = cast(_Conn, client.conn)
    ctx = server.context(client)
    ctx.label = "L1"
    late = defer_reply(ctx)
    assert defer_reply(ctx) is late
    late.finish([b":srv NOTICE amy :late\r\n"])
    assert conn.sent == []
    late.handler_done([])
    assert conn.sent == [b"@label=L1 :srv NOTICE amy :late\r\n"]
    unlabeled = LateReply(server.context(client))
    unlabeled.finish([b"x\r\n"])
    assert conn.sent[-1] == b"x\r\n"


def test_a_reply_that_is_one_batch_is_labeled_on_its_start() -> None:
    """labeled-response: a reply that is a single batch carries the label on BATCH +."""
    server = _server()
    client = _client("amy", Cap.BATCH | Cap.LABELED_RESPONSE)
    lines = [
        b":srv BATCH +H1 chathistory #c\r\n",
        b"@batch=H1 :a PRIVMSG #c :x\r\n",
        b":srv BATCH -H1\r\n",
    ]
    send_labeled(server.context(client), "q", lines)
    sent = cast(_Conn, client.conn).sent
    assert sent[0] == b"@label=q :srv BATCH +H1 chathistory #c\r\n"
    assert sent[1:] == lines[1:]


async def test_retention_with_an_injected_clock() -> None:
    """prune() applies max_age_days against the given time and max_lines_per_target."""
    server = _server(max_age_days=2.0, max_lines_per_target=2)
    await server.start()
    server.history.stop()  # the test runs retention itself
    for task in list(server.tasks):
        await task  # the run at start, on an empty store
    try:
        store = server.store.history
        now = time.time()
        for i, age in enumerate((5, 3, 1, 0.5, 0.1)):
            store.append(_entry(f"c{i}", now - age * 86400))
        direct = DirectTarget("~a", "~b")
        store.append(HistoryEntry("d1", now, direct, "b", "a!~a@h", None, "PRIVMSG", "private"))
        await store.flush()
        assert await server.history.prune(now=now) == 3
        kept = await store.latest(ChannelTarget("#c"), None, 10)
        assert [e.text for e in kept] == ["c3", "c4"]
        assert await server.history.prune(now=now + 10 * 86400) == 3
        assert await store.latest(direct, None, 10) == []
    finally:
        await server.stop()


async def test_record_stores_and_gates_only_what_the_store_took(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each stored message counts in the outbox's gate (durable delivery); one the store
    refuses is not counted, and the others are stored all the same."""
    server = _server()
    await server.start()
    try:
        history = server.history
        amy, bob = _client("amy"), _client("bob")

        def record(i: int) -> None:
            outgoing = Outgoing("amy!~amy@h", "PRIVMSG", "bob", f"m{i}", msgid=f"id{i}")
            history.record(amy, None, bob, outgoing, target_name="bob", command="PRIVMSG", text="")

        for i in range(3):
            record(i)
        assert server.outbox.waiting == 3

        def refuse(entry: HistoryEntry, then: OnCommit | None = None) -> None:
            raise StoreClosedError("closed")

        with monkeypatch.context() as patch:
            patch.setattr(server.store.history, "append", refuse)
            record(3)
        assert server.outbox.waiting == 3
        server.outbox.end_turn()
        await server.store.history.flush()
        await asyncio.sleep(0)  # the barrier's callback runs on the next loop iteration
        assert server.outbox.waiting == 0
        stored = await server.store.history.latest(
            DirectTarget(history.party(amy), history.party(bob)), None, 10
        )
        assert [entry.msgid for entry in stored] == ["id0", "id1", "id2"]
    finally:
        await server.stop()
