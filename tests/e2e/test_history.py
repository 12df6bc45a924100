"""History over real sockets with a real SQLite file: join replay, CHATHISTORY, privacy, retention,
restarts, and durable delivery (a message is on disk before anybody sees it)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from chinwag.protocol import Message, format_server_time, parse_server_time
from chinwag.server import Server, load_config
from chinwag.store import DB_FILENAME
from chinwag.store.journal import JOURNAL_DIRNAME

from .harness import Client, Harness, journal_texts

HistServe = Callable[..., Awaitable[Harness]]
CH = ["draft/chathistory", "batch", "server-time", "message-tags"]
STAMP = re.compile(r"\[\d\d:\d\d\] ")


def _server(data_dir: Path | str, **history: Any) -> Server:
    overrides: dict[str, dict[str, Any]] = {
        "server": {"port": 0, "name": "test.chinwag", "data_dir": str(data_dir)},
        "limits": {"flood_rate": 0},
        "history": history,
    }
    return Server(load_config(None, environ={}, overrides=overrides))


@pytest.fixture
async def hserve(tmp_path: Path) -> AsyncIterator[HistServe]:
    """Start servers on ``tmp_path/data`` (SQLite) with ``[history]`` overrides; stop them after."""
    started: list[Harness] = []

    async def start(data_dir: Path | str | None = None, **history: Any) -> Harness:
        server = _server(data_dir or tmp_path / "data", **history)
        await server.start()
        harness = Harness(server)
        started.append(harness)
        return harness

    yield start
    for harness in started:
        await harness.close()
        await harness.server.stop()
    for harness in started:
        assert not harness.violations(), harness.violations()


async def _say(sender: Client, target: str, *texts: str) -> None:
    for text in texts:
        await sender.send(f"PRIVMSG {target} :{text}")
    await sender.sync()


async def _batch(client: Client, command: str) -> tuple[Message, list[Message]]:
    """Send a CHATHISTORY command; return its BATCH + line and the lines inside the batch."""
    await client.send(command)
    start = await client.expect("BATCH")
    assert len(start.params) >= 2 and start.params[0].startswith("+"), start
    ref = start.params[0][1:]
    inside: list[Message] = []
    while True:
        msg = await client.next()
        if msg.command == "BATCH" and msg.params == (f"-{ref}",):
            return start, inside
        assert msg.tags.get("batch") == ref, msg
        inside.append(msg)


async def _history(client: Client, command: str) -> list[str]:
    """The texts of a CHATHISTORY reply."""
    _, inside = await _batch(client, command)
    return [m.params[-1] for m in inside]


async def _fail(client: Client, command: str) -> Message:
    await client.send(command)
    msg = await client.expect("FAIL")
    assert msg.params[0] == "CHATHISTORY", msg
    return msg


# -- join replay -------------------------------------------------------------------------------


async def test_replay_on_join_plain_and_batched(hserve: HistServe) -> None:
    """Joiners get the last lines: stamped plain lines, or a chathistory batch with server-time;
    clients with draft/chathistory get none (they ask)."""
    h = await hserve(replay_on_join=3)
    amy = await h.connect("amy")
    await _say(amy, "#lobby", "one", "two", "three", "four")
    await h.server.store.flush()  # delivered, so replayed (not still on their way)
    plain = await h.connect("plain")
    lines = [await plain.expect("PRIVMSG") for _ in range(3)]
    assert [STAMP.sub("", m.params[1]) for m in lines] == ["two", "three", "four"]
    assert all(STAMP.match(m.params[1]) for m in lines)
    assert all(m.source and m.source.startswith("amy!") for m in lines)

    modern = await h.connect("modern", caps=["batch", "server-time"])
    start = await modern.expect("BATCH")
    assert start.params[1:] == ("chathistory", "#lobby")
    inside = [await modern.next() for _ in range(3)]
    assert [m.params[1] for m in inside] == ["two", "three", "four"]
    assert all("time" in m.tags and m.tags["batch"] == start.params[0][1:] for m in inside)
    await modern.expect("BATCH", [f"-{start.params[0][1:]}"])

    asker = await h.connect("asker", caps=CH)
    await asker.sync()
    await asker.assert_nothing()


async def test_replay_holds_nothing_said_after_the_join(hserve: HistServe) -> None:
    """A message sent right after the join arrives live once, not again in the replay."""
    h = await hserve(replay_on_join=10)
    amy = await h.connect("amy")
    await _say(amy, "#lobby", "before")
    await h.server.store.flush()
    bob = await h.connect("bob", caps=["batch", "server-time"])
    await _say(amy, "#lobby", "after")
    seen = [await bob.expect("PRIVMSG") for _ in range(2)]
    assert sorted(m.params[1] for m in seen) == ["after", "before"]
    await h.server.store.flush()  # "before" came in the replay: it is over
    assert not [m for m in await bob.sync() if m.command == "PRIVMSG"]


# -- CHATHISTORY -------------------------------------------------------------------------------


async def _ten(h: Harness) -> tuple[Client, list[Message]]:
    """A chathistory client that said ten numbered lines in #lobby, and their echoes."""
    amy = await h.connect("amy", caps=[*CH, "echo-message"])
    echoes = []
    for i in range(10):
        await amy.send(f"PRIVMSG #lobby :m{i}")
        echoes.append(await amy.expect("PRIVMSG", ["#lobby", f"m{i}"]))
    return amy, echoes


async def test_chathistory_latest(hserve: HistServe) -> None:
    """LATEST * gives the newest lines; msgid= and timestamp= keep only those after."""
    h = await hserve()
    amy, echoes = await _ten(h)
    start, inside = await _batch(amy, "CHATHISTORY LATEST #lobby * 100")
    assert start.params[1:] == ("chathistory", "#lobby")
    assert [m.params[1] for m in inside] == [f"m{i}" for i in range(10)]
    assert [m.tags["msgid"] for m in inside] == [e.tags["msgid"] for e in echoes]
    assert [m.tags["time"] for m in inside] == [e.tags["time"] for e in echoes]
    assert await _history(amy, "CHATHISTORY LATEST #lobby * 3") == ["m7", "m8", "m9"]
    msgid = echoes[6].tags["msgid"]
    assert await _history(amy, f"CHATHISTORY LATEST #lobby msgid={msgid} 100") == [
        "m7",
        "m8",
        "m9",
    ]
    stamp = echoes[6].tags["time"]
    later = [e.params[1] for e in echoes if e.tags["time"] > stamp]
    assert await _history(amy, f"CHATHISTORY LATEST #LOBBY timestamp={stamp} 100") == later


async def test_chathistory_before_after_around_between(hserve: HistServe) -> None:
    """BEFORE, AFTER, AROUND and BETWEEN (both ways) by msgid and timestamp, with limits."""
    h = await hserve()
    amy, echoes = await _ten(h)
    ids = [e.tags["msgid"] for e in echoes]
    texts = [f"m{i}" for i in range(10)]
    assert await _history(amy, f"CHATHISTORY BEFORE #lobby msgid={ids[6]} 100") == texts[:6]
    assert await _history(amy, f"CHATHISTORY BEFORE #lobby msgid={ids[6]} 2") == texts[4:6]
    assert await _history(amy, f"CHATHISTORY AFTER #lobby msgid={ids[3]} 100") == texts[4:]
    assert await _history(amy, f"CHATHISTORY AFTER #lobby msgid={ids[3]} 3") == texts[4:7]
    assert await _history(amy, f"CHATHISTORY AROUND #lobby msgid={ids[7]} 1") == ["m7"]
    assert await _history(amy, f"CHATHISTORY AROUND #lobby msgid={ids[7]} 3") == texts[6:9]
    between = f"CHATHISTORY BETWEEN #lobby msgid={ids[0]} msgid={ids[-1]}"
    assert await _history(amy, between + " 100") == texts[1:-1]
    assert await _history(amy, between + " 3") == texts[1:4]
    backwards = f"CHATHISTORY BETWEEN #lobby msgid={ids[-1]} msgid={ids[0]}"
    assert await _history(amy, backwards + " 3") == texts[-4:-1]
    # Timestamps: a bound at a message's own millisecond, as the client saw it.
    t0, t9 = echoes[0].tags["time"], echoes[9].tags["time"]
    inner = [e.params[1] for e in echoes if t0 < e.tags["time"] < t9]
    got = await _history(amy, f"CHATHISTORY BETWEEN #lobby timestamp={t0} timestamp={t9} 100")
    assert got == inner
    got = await _history(amy, f"CHATHISTORY BETWEEN #lobby timestamp={t9} timestamp={t0} 100")
    assert got == inner
    late = format_server_time(parse_server_time(t9) + 1)
    assert await _history(amy, f"CHATHISTORY BEFORE #lobby timestamp={late} 4") == texts[6:]
    assert await _history(amy, f"CHATHISTORY AFTER #lobby timestamp={late} 4") == []
    # An unknown msgid selects nothing: an empty batch, not an error.
    assert await _history(amy, "CHATHISTORY BEFORE #lobby msgid=nope 10") == []


async def test_chathistory_limit_is_capped(hserve: HistServe) -> None:
    """A limit above chathistory_max gets chathistory_max lines, as ISUPPORT says."""
    h = await hserve(chathistory_max=4)
    amy, _ = await _ten(h)
    assert await _history(amy, "CHATHISTORY LATEST #lobby * 1000") == ["m6", "m7", "m8", "m9"]
    isupport = [m for m in amy.history if m.command == "005"]
    tokens = {p for m in isupport for p in m.params[1:-1]}
    assert {"CHATHISTORY=4", "MSGREFTYPES=msgid,timestamp"} <= tokens


async def test_chathistory_targets(hserve: HistServe) -> None:
    """TARGETS lists the channels and private conversations with a message in the window."""
    h = await hserve()
    amy = await h.connect("amy", caps=CH)
    bob = await h.connect("bob")
    carol = await h.connect("carol")
    await _say(bob, "#lobby", "hi all")
    await _say(bob, "amy", "psst amy")
    await _say(carol, "bob", "not for amy")
    await amy.expect("PRIVMSG", ["amy", "psst amy"])
    await bob.expect("PRIVMSG", ["bob", "not for amy"])
    start = format_server_time(0)
    end = format_server_time(4e9)
    await amy.send(f"CHATHISTORY TARGETS timestamp={start} timestamp={end} 50")
    opening = await amy.expect("BATCH")
    assert opening.params[1:] == ("draft/chathistory-targets",)
    ref = opening.params[0][1:]
    found = []
    while True:
        msg = await amy.next()
        if msg.command == "BATCH":
            assert msg.params == (f"-{ref}",)
            break
        assert msg.command == "CHATHISTORY" and msg.params[0] == "TARGETS", msg
        parse_server_time(msg.params[2])
        found.append(msg.params[1])
    assert sorted(found) == ["#lobby", "bob"]


async def test_chathistory_private_conversation(hserve: HistServe) -> None:
    """Both parties read their conversation, self messages included, by the other's nick."""
    h = await hserve()
    amy = await h.connect("amy", caps=CH)
    bob = await h.connect("bob", caps=CH)
    await _say(amy, "bob", "hello bob")
    await _say(bob, "amy", "hello amy")
    await amy.expect("PRIVMSG", ["amy", "hello amy"])
    start, inside = await _batch(amy, "CHATHISTORY LATEST bob * 10")
    assert start.params[1:] == ("chathistory", "bob")
    assert [(m.source or "").split("!")[0] for m in inside] == ["amy", "bob"]
    assert [m.params for m in inside] == [("bob", "hello bob"), ("amy", "hello amy")]
    assert await _history(bob, "CHATHISTORY LATEST AMY * 10") == ["hello bob", "hello amy"]


async def test_private_history_never_leaks(hserve: HistServe) -> None:
    """A third user, or whoever takes a nick later, never reads another pair's messages."""
    h = await hserve()
    amy = await h.connect("amy", caps=CH)
    bob = await h.connect("bob", caps=CH)
    await _say(amy, "bob", "secret for bob")
    await bob.expect("PRIVMSG", ["bob", "secret for bob"])
    assert await _history(bob, "CHATHISTORY LATEST amy * 100") == ["secret for bob"]
    eve = await h.connect("eve", caps=CH)
    assert await _history(eve, "CHATHISTORY LATEST amy * 100") == []
    assert await _history(eve, "CHATHISTORY LATEST bob * 100") == []
    assert await _history(eve, "CHATHISTORY LATEST eve * 100") == []
    await bob.send("QUIT")
    await bob.expect_closed()
    await eve.send("NICK bob")
    await eve.expect("NICK", ["bob"])
    assert await _history(eve, "CHATHISTORY LATEST amy * 100") == []
    now = format_server_time(4e9)
    await eve.send(f"CHATHISTORY TARGETS timestamp={format_server_time(0)} timestamp={now} 50")
    opening = await eve.expect("BATCH")
    close = await eve.next()
    assert close.params == (f"-{opening.params[0][1:]}",), close
    # To amy, "bob" is now eve: their conversation, which is empty.
    assert await _history(amy, "CHATHISTORY LATEST bob * 100") == []


async def test_chathistory_bad_input(hserve: HistServe) -> None:
    """Unknown subcommands, missing or malformed parameters and unreadable targets get FAIL;
    the connection lives on."""
    h = await hserve()
    amy = await h.connect("amy", caps=CH)
    bob = await h.connect("bob")
    await bob.send("JOIN #secret")
    await bob.expect("366")
    await _say(bob, "#secret", "ops only")
    cases = {
        "CHATHISTORY": "INVALID_PARAMS",
        "CHATHISTORY FROB #lobby * 10": "UNKNOWN_COMMAND",
        "CHATHISTORY LATEST #lobby *": "INVALID_PARAMS",
        "CHATHISTORY LATEST #lobby * 10 extra": "INVALID_PARAMS",
        "CHATHISTORY LATEST #lobby * 0": "INVALID_PARAMS",
        "CHATHISTORY LATEST #lobby * -5": "INVALID_PARAMS",
        "CHATHISTORY LATEST #lobby * ten": "INVALID_PARAMS",
        "CHATHISTORY LATEST #lobby * 99999999999999999999": "INVALID_PARAMS",
        "CHATHISTORY BEFORE #lobby * 10": "INVALID_PARAMS",
        "CHATHISTORY BEFORE #lobby msgid= 10": "INVALID_PARAMS",
        "CHATHISTORY BEFORE #lobby timestamp=yesterday 10": "INVALID_PARAMS",
        "CHATHISTORY BEFORE #lobby timestamp=2026-13-45T99:00:00.000Z 10": "INVALID_PARAMS",
        "CHATHISTORY BEFORE #lobby when=now 10": "INVALID_PARAMS",
        "CHATHISTORY BETWEEN #lobby msgid=a 10": "INVALID_PARAMS",
        "CHATHISTORY TARGETS msgid=a msgid=b 10": "INVALID_PARAMS",
        "CHATHISTORY LATEST #secret * 10": "INVALID_TARGET",
        "CHATHISTORY LATEST #nowhere * 10": "INVALID_TARGET",
        "CHATHISTORY LATEST bad,nick * 10": "INVALID_TARGET",
    }
    for command, code in cases.items():
        fail = await _fail(amy, command)
        assert fail.params[1] == code, (command, fail)
    assert "ops only" not in {m.params[-1] for m in amy.history}
    await amy.alive()


async def test_labeled_chathistory_and_echo(hserve: HistServe) -> None:
    """A labeled CHATHISTORY has the label on its batch; a labeled PRIVMSG's echo (sent on
    commit) carries the label, with no separate ACK."""
    h = await hserve()
    amy = await h.connect("amy", caps=[*CH, "labeled-response", "echo-message"])
    await amy.send("@label=e1 PRIVMSG #lobby :labeled hello")
    echo = await amy.expect("PRIVMSG", ["#lobby", "labeled hello"])
    assert echo.tags.get("label") == "e1"
    await amy.send("@label=h1 CHATHISTORY LATEST #lobby * 5")
    start = await amy.expect("BATCH")
    assert start.tags.get("label") == "h1" and start.params[1] == "chathistory"
    inside = await amy.next()
    assert inside.params == ("#lobby", "labeled hello") and "label" not in inside.tags
    await amy.expect("BATCH", [f"-{start.params[0][1:]}"])
    await amy.send("@label=f1 CHATHISTORY LATEST #nowhere * 5")
    fail = await amy.expect("FAIL")
    assert fail.tags.get("label") == "f1"
    await amy.sync()
    assert not [m for m in amy.history if m.command == "ACK"]


# -- durability, retention, restarts -----------------------------------------------------------


def _stored(data_dir: Path) -> dict[str, str]:
    """msgid -> text of every message on disk: in the journal's files, or (read after them, as
    a segment is deleted only once indexed) in the database."""
    found = journal_texts(data_dir / JOURNAL_DIRNAME)
    conn = sqlite3.connect(f"file:{data_dir / DB_FILENAME}?mode=ro", uri=True)
    try:
        found.update(
            (str(r[0]), str(r[1])) for r in conn.execute("SELECT msgid, text FROM history")
        )
    finally:
        conn.close()
    return found


async def test_delivered_messages_are_already_on_disk(hserve: HistServe, tmp_path: Path) -> None:
    """With durable delivery, every message a client receives is on disk when it arrives."""
    h = await hserve()
    amy = await h.connect("amy", caps=["echo-message", "message-tags"])
    bob = await h.connect("bob", caps=["message-tags"])
    for i in range(20):
        await amy.send(f"PRIVMSG #lobby :d{i}", f"PRIVMSG bob :p{i}")
    for _ in range(40):
        msg = await bob.expect("PRIVMSG")
        stored = _stored(tmp_path / "data")
        assert stored.get(msg.tags["msgid"]) == msg.params[1]
    echo = await amy.expect("PRIVMSG", ["#lobby", "d0"])
    assert echo.tags["msgid"] in _stored(tmp_path / "data")


async def test_fast_delivery_mode_still_stores(hserve: HistServe, tmp_path: Path) -> None:
    """With durable_delivery off, messages are delivered first and stored all the same."""
    h = await hserve(durable_delivery=False)
    amy = await h.connect("amy", caps=CH)
    bob = await h.connect("bob")
    await _say(bob, "#lobby", "quick")
    await amy.expect("PRIVMSG", ["#lobby", "quick"])
    await h.server.store.flush()
    assert "quick" in _stored(tmp_path / "data").values()
    assert await _history(amy, "CHATHISTORY LATEST #lobby * 5") == ["quick"]


async def test_history_disabled(hserve: HistServe, tmp_path: Path) -> None:
    """With [history] enabled = false nothing is kept and CHATHISTORY says so."""
    h = await hserve(enabled=False)
    amy = await h.connect("amy", caps=CH)
    bob = await h.connect("bob")
    await _say(bob, "#lobby", "gone")
    await amy.expect("PRIVMSG", ["#lobby", "gone"])
    fail = await _fail(amy, "CHATHISTORY LATEST #lobby * 5")
    assert fail.params[1] == "MESSAGE_ERROR"
    await h.server.store.flush()
    assert _stored(tmp_path / "data") == {}


async def test_retention_by_age_and_count(hserve: HistServe) -> None:
    """Retention deletes lines older than max_age_days and beyond max_lines_per_target."""
    h = await hserve(max_age_days=1.0, max_lines_per_target=3)
    amy, echoes = await _ten(h)
    bob = await h.connect("bob")
    await _say(bob, "amy", "private one")
    await amy.expect("PRIVMSG", ["amy", "private one"])
    assert await h.server.history.prune() == 7
    assert await _history(amy, "CHATHISTORY LATEST #lobby * 100") == ["m7", "m8", "m9"]
    assert await _history(amy, "CHATHISTORY LATEST bob * 100") == ["private one"]
    two_days_later = parse_server_time(echoes[-1].tags["time"]) + 2 * 86400
    assert await h.server.history.prune(now=two_days_later) == 4
    assert await _history(amy, "CHATHISTORY LATEST #lobby * 100") == []
    assert await _history(amy, "CHATHISTORY LATEST bob * 100") == []


async def test_history_survives_a_restart(hserve: HistServe, tmp_path: Path) -> None:
    """Stop the server, start a new one on the same data directory: the history is there."""
    first = await hserve()
    amy = await first.connect("amy")
    await _say(amy, "#lobby", "before restart", "still here")
    await first.server.store.flush()
    await first.close()
    await first.server.stop()
    second = await hserve()
    bob = await second.connect("bob", caps=CH)
    assert await _history(bob, "CHATHISTORY LATEST #lobby * 10") == [
        "before restart",
        "still here",
    ]
    plain = await second.connect("plain")
    replayed = [await plain.expect("PRIVMSG") for _ in range(2)]
    assert [STAMP.sub("", m.params[1]) for m in replayed] == ["before restart", "still here"]


@pytest.mark.parametrize(("data_dir", "pauses"), [("none", True), (None, False)])
async def test_backpressure_when_too_many_wait_for_the_disk(
    hserve: HistServe, monkeypatch: pytest.MonkeyPatch, data_dir: str | None, pauses: bool
) -> None:
    """Past max_waiting messages waiting for their commit the sender is paused, then resumed,
    and everything arrives in order; on the journal nothing waits past its turn: no pause."""
    h = await hserve(data_dir)  # "none": a store that commits after the turn (memory)
    monkeypatch.setattr(h.server.outbox, "max_waiting", 8)
    held: list[str] = []
    hold = h.server.outbox._hold

    def spy(sender: Any) -> None:
        held.append(sender.nick)
        hold(sender)

    monkeypatch.setattr(h.server.outbox, "_hold", spy)
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send(*[f"PRIVMSG #lobby :flood {i}" for i in range(300)])
    for i in range(300):
        await bob.expect("PRIVMSG", ["#lobby", f"flood {i}"])
    assert set(held) == ({"amy"} if pauses else set())
    await amy.alive()
    assert not h.server.outbox._held


async def test_last_words_come_before_the_departure(hserve: HistServe) -> None:
    """With durable delivery, messages sent before a NICK, PART or QUIT reach the others first.

    The messages wait for their commit; the departure is routed behind them, so nobody sees a
    line from a nick that has already changed or a user who has already left.
    """
    h = await hserve()
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.expect("JOIN", ["#lobby"], source="bob")
    await amy.send("PRIVMSG #lobby :one", "NICK amy2", "PRIVMSG #lobby :two", "QUIT :bye")
    seen = [(m.command, m.source_nick) for m in await bob.collect_until("QUIT")]
    assert seen == [
        ("PRIVMSG", "amy"),
        ("NICK", "amy"),
        ("PRIVMSG", "amy2"),
        ("QUIT", "amy2"),
    ], seen
