"""Bad input and abuse: odd bytes, timeouts, floods, slow readers, connection limits."""

from __future__ import annotations

import asyncio
import time

import pytest

from chinwag.protocol import Message
from chinwag.server.commands import COMMANDS, CommandSpec, Context

from .conftest import Serve
from .harness import ANY, Harness


async def test_invalid_utf8_is_relayed_as_latin1(h: Harness) -> None:
    """A line that is not UTF-8 is read as Latin-1 and relayed as valid UTF-8."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send(b"PRIVMSG #lobby :caf\xe9 cr\xe8me\r\n")
    await bob.expect("PRIVMSG", ["#lobby", "café crème"], source="amy")
    assert any(raw.endswith("café crème\r\n".encode()) for raw in bob.raw)
    await amy.alive()


async def test_invalid_utf8_nick_is_refused(h: Harness) -> None:
    """A nick made of non-UTF-8 bytes gets 432 and nothing breaks."""
    amy = await h.connect("amy")
    await amy.send(b"NICK \xff\xfe\r\n")
    await amy.expect_numeric("432")
    await amy.alive()


async def test_nul_bytes_are_dropped(h: Harness) -> None:
    """NUL can never be relayed: it is removed from the line."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send(b"PRIVMSG #lobby :a\x00b\r\n")
    await bob.expect("PRIVMSG", ["#lobby", "ab"])


async def test_bare_cr_and_bare_lf_end_lines(h: Harness) -> None:
    """A bare CR or a bare LF ends a line, as old clients send them."""
    amy = await h.connect("amy")
    await amy.send(b"PING one\rPING two\nPING three\r\n")
    for token in ("one", "two", "three"):
        await amy.expect("PONG", [ANY, token])


async def test_line_split_across_packets(h: Harness) -> None:
    """A line arriving a few bytes at a time is assembled before it is handled."""
    amy = await h.connect("amy")
    for piece in (b"PI", b"NG sl", b"ow\r", b"\n"):
        await amy.send(piece)
        await asyncio.sleep(0.01)
    await amy.expect("PONG", [ANY, "slow"])


async def test_blank_lines_and_lone_prefix(h: Harness) -> None:
    """Blank lines are ignored; a line with only a source or only tags gets no crash."""
    amy = await h.connect("amy")
    await amy.send(b"\r\n\r\n   \r\n:amy\r\n@a=b\r\n:amy @x\r\n")
    await amy.alive()


async def test_registration_timeout(h: Harness) -> None:
    """A connection that does not register in time gets ERROR and is closed; others stay."""
    amy = await h.connect("amy")
    raw = await h.open()
    await raw.send("NICK late")
    await raw.alive()
    timeout = h.server.config.limits.registration_timeout
    h.server.check_timeouts(time.monotonic() + timeout / 2)
    await raw.alive()
    h.server.check_timeouts(time.monotonic() + timeout + 1)
    await raw.expect_error("Registration timed out")
    await amy.alive()
    again = await h.connect("late")
    await again.alive()


async def test_ping_timeout(h: Harness) -> None:
    """An idle client is PINGed after ping_interval and dropped after ping_timeout more."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    limits = h.server.config.limits
    start = time.monotonic()
    h.server.check_timeouts(start + limits.ping_interval + 1)
    await amy.expect("PING", ["test.chinwag"])
    await bob.expect("PING", ["test.chinwag"])
    await bob.send("PONG :test.chinwag")
    await bob.alive()
    h.server.check_timeouts(start + limits.ping_interval + limits.ping_timeout + 2)
    error = await amy.expect_error("Ping timeout")
    assert "seconds" in error.params[0]
    quit_ = await bob.expect("QUIT", source="amy")
    assert "Ping timeout" in quit_.params[0]
    await bob.alive()


async def test_any_input_counts_as_a_sign_of_life(h: Harness) -> None:
    """A client that talks (without PONG) after a server PING is not dropped."""
    amy = await h.connect("amy")
    limits = h.server.config.limits
    start = time.monotonic()
    h.server.check_timeouts(start + limits.ping_interval + 1)
    await amy.expect("PING")
    await amy.send("PRIVMSG #lobby :still here")
    await amy.alive()
    h.server.check_timeouts(time.monotonic() + limits.ping_timeout / 2)
    await amy.alive()


async def test_flood_burst_is_paced_and_all_processed(serve: Serve) -> None:
    """A burst past flood_burst (but within flood_queue) is paced, in order, with nothing lost."""
    h = await serve(limits={"flood_burst": 5, "flood_rate": 40, "flood_queue": 50})
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await asyncio.sleep(0.3)  # let amy's bucket refill after registering
    started = time.monotonic()
    await amy.send(*[f"PRIVMSG bob :line {n}" for n in range(30)])
    for n in range(30):
        await bob.expect("PRIVMSG", ["bob", f"line {n}"])
    elapsed = time.monotonic() - started
    # 25 lines past the burst at 40 a second take about 0.6 s: paced, not refused.
    assert elapsed > 0.4
    await amy.alive()


async def test_default_limits_allow_a_normal_paste(serve: Serve) -> None:
    """With the default flood limits a 15-line paste after registering goes through at once."""
    h = await serve(limits={"flood_rate": 5.0})
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await asyncio.sleep(1.0)
    await amy.send(*[f"PRIVMSG #lobby :paste {n}" for n in range(15)])
    for n in range(15):
        await bob.expect("PRIVMSG", ["#lobby", f"paste {n}"], timeout=1.0)


async def test_pong_costs_flood_budget(serve: Serve) -> None:
    """PONG spends the flood budget like any line: a PONG flood ends in Excess Flood."""
    h = await serve(limits={"flood_burst": 3, "flood_rate": 0.5, "flood_queue": 5})
    amy = await h.connect("amy")
    await amy.send(b"PONG :x\r\n" * 40)
    await amy.expect_error("Excess Flood")


async def test_a_few_pongs_are_fine(serve: Serve) -> None:
    """A PONG now and then (what clients send) is served as before."""
    # NICK, USER, PONG and the PING of alive() fit the burst: nothing waits for a refill.
    h = await serve(limits={"flood_burst": 4, "flood_rate": 0.5, "flood_queue": 5})
    amy = await h.connect("amy")
    await amy.send("PONG :x")
    await amy.alive()


async def test_blank_lines_cost_flood_budget(serve: Serve) -> None:
    """Blank lines are ignored but not free: a stream of newlines ends in Excess Flood."""
    h = await serve(limits={"flood_burst": 3, "flood_rate": 0.5, "flood_queue": 5})
    amy = await h.connect("amy")
    await amy.send(b"\r\n" * 2000)
    await amy.expect_error("Excess Flood")


async def test_blank_lines_delay_the_next_line(serve: Serve) -> None:
    """Blank lines within the queue are paced like others: the line after them still runs."""
    h = await serve(limits={"flood_burst": 3, "flood_rate": 20, "flood_queue": 5})
    amy = await h.connect("amy")
    await amy.send(b"\r\n\r\n\r\n\r\nPING :after\r\n")
    await amy.expect("PONG", [ANY, "after"])


async def test_excess_flood(serve: Serve) -> None:
    """Past flood_queue lines waiting, the flooder gets ERROR Excess Flood; peers see QUIT."""
    h = await serve(limits={"flood_burst": 5, "flood_rate": 1, "flood_queue": 10})
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send(*[f"PRIVMSG #lobby :spam {n}" for n in range(40)])
    await amy.expect_error("Excess Flood")
    quit_ = await bob.expect("QUIT", source="amy")
    assert "Excess Flood" in quit_.params[0]
    assert len([m for m in bob.history if m.command == "PRIVMSG"]) < 40
    await bob.alive()


async def test_sendq_exceeded_cuts_only_the_slow_reader(serve: Serve) -> None:
    """A client that stops reading is cut with SendQ exceeded; the others keep being served."""
    h = await serve(limits={"sendq_bytes": 16384})
    slow = await h.connect("slow", rcvbuf=4096)
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await slow.sync()
    slow.may_be_cut = True
    slow.stop_reading()
    text = "x" * 400
    quit_seen = False
    for batch in range(400):
        await amy.send(*[f"PRIVMSG #lobby :{batch} {text}" for _ in range(50)])
        await bob.expect("PRIVMSG", [ANY, f"{batch} {text}"])
        quit_seen = any(m.command == "QUIT" and m.source_nick == "slow" for m in bob.history)
        if quit_seen:
            break
        await asyncio.sleep(0)
    assert quit_seen, "the slow reader was never cut"
    quit_ = next(m for m in bob.history if m.command == "QUIT")
    assert quit_.params[0] == "SendQ exceeded"
    await amy.send("PRIVMSG #lobby :after")
    await bob.expect("PRIVMSG", ["#lobby", "after"])
    await amy.alive()
    await bob.alive()
    slow.resume_reading()
    await slow.expect_closed(timeout=5.0)


async def test_max_clients_per_ip(serve: Serve) -> None:
    """With exempt_loopback off, connections past max_clients_per_ip get ERROR and close."""
    h = await serve(limits={"max_clients_per_ip": 2, "exempt_loopback": False})
    amy = await h.connect("amy")
    await h.connect("bob")
    third = await h.open()
    error = await third.expect_error("Too many connections from your IP")
    assert error.params[0].startswith("Closing Link")
    await amy.send("QUIT")
    await amy.expect_closed()
    await asyncio.sleep(0.05)
    again = await h.connect("cid")
    await again.alive()


async def test_loopback_exempt_from_per_ip_limit(serve: Serve) -> None:
    """By default loopback is exempt from max_clients_per_ip."""
    h = await serve(limits={"max_clients_per_ip": 1})
    await h.connect("amy")
    bob = await h.connect("bob")
    await bob.alive()


async def test_max_clients(serve: Serve) -> None:
    """Connections past max_clients get ERROR and close, registered or not."""
    h = await serve(limits={"max_clients": 2})
    await h.connect("amy")
    await h.open()
    third = await h.open()
    await third.expect_error("Too many connections")


async def test_http_request_is_refused(h: Harness) -> None:
    """An HTTP request line before registration gets ERROR and the socket closes."""
    raw = await h.open()
    await raw.send("GET / HTTP/1.1", "Host: localhost", "")
    await raw.expect_error("not a web server")


async def test_too_many_lines_before_registration(serve: Serve) -> None:
    """More than max_registration_lines lines before registering ends the connection."""
    h = await serve(limits={"max_registration_lines": 5})
    raw = await h.open()
    await raw.send(*[f"PING {n}" for n in range(10)])
    await raw.expect_error("Too many lines before registration")


async def test_unregistered_quit_is_silent_to_others(h: Harness) -> None:
    """An unregistered connection that quits produces no QUIT for registered users."""
    amy = await h.connect("amy")
    raw = await h.open()
    await raw.send("NICK ghost", "QUIT :bye")
    await raw.expect_closed()
    await amy.assert_nothing()


async def test_kill_and_quit_leave_the_state_clean(h: Harness) -> None:
    """After users leave in every way, LUSERS counts only who is left."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    cid = await h.connect("cid")
    await bob.send("QUIT")
    await cid.close()
    await amy.expect("QUIT", source="bob")
    await amy.expect("QUIT", source="cid")
    await amy.send("LUSERS")
    lines = await amy.collect_until("255")
    by = {m.command: m for m in lines}
    assert "There are 1 users" in by["251"].params[-1]
    assert by["253"].params[1] == "0"
    assert not h.server.network.per_ip or h.server.network.per_ip["127.0.0.1"] == 1


async def test_stop_is_bounded_when_a_client_stopped_reading(serve: Serve) -> None:
    """Server.stop() finishes within 2 s even when a client's socket buffers are full."""
    h = await serve(limits={"sendq_bytes": 64 << 20})
    slow = await h.connect("slow", rcvbuf=4096)
    amy = await h.connect("amy")
    slow.may_be_cut = True
    slow.stop_reading()
    slow_conn = next(c.conn for c in h.server.network.connections if c.nick == "slow")
    assert slow_conn.transport is not None
    for batch in range(100):
        await amy.send(*[f"PRIVMSG slow :{batch} {'y' * 400}" for _ in range(500)])
        await amy.sync()
        if slow_conn.transport.get_write_buffer_size() > 0:
            break
    assert slow_conn.transport.get_write_buffer_size() > 0, "the slow reader's queue is empty"
    started = time.monotonic()
    await h.server.stop()
    assert time.monotonic() - started < 2.0
    await amy.expect_error("Server shutting down")


async def test_handler_crash_drops_only_that_client(
    h: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in a handler logs the error and ends that one connection; others are unaffected."""

    def explode(ctx: Context, msg: Message) -> None:
        raise RuntimeError("handler bug")

    monkeypatch.setitem(COMMANDS, "BOOM", CommandSpec(explode))
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send("BOOM")
    await amy.expect_error("Internal error")
    await bob.expect("QUIT", source="amy")
    await bob.alive()
    assert any("error handling a line" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("query", ["WHO *", "LIST"])
async def test_long_answers_cost_flood_budget(serve: Serve, query: str) -> None:
    """WHO * and LIST are charged by the size of their answer (a token per 10 lines): after
    one, the client's next lines wait, and a burst of them overflows the queue."""
    h = await serve(limits={"flood_burst": 5, "flood_rate": 0.1, "flood_queue": 5})
    others = [await h.connect(f"user{i}") for i in range(30)]
    for i, other in enumerate(others):
        await other.send(f"JOIN #room{i}")
    for other in others:
        await other.sync()
    amy = await h.connect("amy")
    await amy.send((f"{query}\r\n" + "PING :x\r\n" * 6).encode())
    await amy.expect_error("Excess Flood")
