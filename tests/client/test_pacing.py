"""The send window: at most WINDOW messages unacknowledged, PING barriers, lines counted."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chinwag.client.pacing import BARRIER_EVERY, BARRIER_PREFIX, WINDOW, SendWindow
from chinwag.protocol import Message

# Properties, not timings: a loaded CI machine must not fail them for being slow.
PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def say(n: int) -> list[Message]:
    """The messages of one input line that sends ``n`` PRIVMSGs."""
    return [Message.of("PRIVMSG", "#lobby", f"line {i}") for i in range(n)]


def barriers(messages: list[Message]) -> list[str]:
    """The tokens of the barriers among ``messages``."""
    return [m.params[0] for m in messages if m.command == "PING"]


def test_barrier_after_every_few_messages() -> None:
    """A PING barrier follows every BARRIER_EVERY messages."""
    window = SendWindow()
    written = [m for _ in range(BARRIER_EVERY * 2) for m in window.send(say(1))]
    assert barriers(written) == [f"{BARRIER_PREFIX}0", f"{BARRIER_PREFIX}1"]
    assert written[BARRIER_EVERY].command == "PING"


def test_window_fills_and_a_pong_opens_it() -> None:
    """After WINDOW unacknowledged messages it is full; the PONG of a barrier acknowledges."""
    window = SendWindow()
    written = [m for _ in range(WINDOW) for m in window.send(say(1))]
    assert window.full and window.pending == WINDOW
    first = barriers(written)[0]
    assert window.pong(first)
    assert not window.full
    assert (window.acknowledged, window.pending) == (BARRIER_EVERY, WINDOW - BARRIER_EVERY)


def test_later_pong_acknowledges_earlier_barriers_too() -> None:
    """A PONG for the second barrier acknowledges the lines of the first as well."""
    window = SendWindow()
    written = [m for _ in range(WINDOW) for m in window.send(say(1))]
    window.pong(barriers(written)[1])
    assert window.pending == 0


def test_settle_puts_a_barrier_only_after_unbarriered_messages() -> None:
    """When input pauses, a barrier covers what was sent; none when nothing was."""
    window = SendWindow()
    assert window.barrier() is None
    window.send(say(2))
    barrier = window.barrier()
    assert barrier is not None and window.barrier() is None
    window.pong(barrier.params[0])
    assert window.pending == 0


def test_a_line_with_nothing_to_send_is_done_at_once() -> None:
    """/help or a blank line counts as a line, acknowledged without a round trip."""
    window = SendWindow()
    assert window.send([]) == []
    assert (window.lines, window.acknowledged, window.pending) == (1, 1, 0)


def test_foreign_and_stale_pongs() -> None:
    """A PONG with someone else's token is not ours; one from before a loss changes nothing."""
    window = SendWindow()
    window.send(say(1))
    old = window.barrier()
    assert old is not None
    assert not window.pong("chinwag")
    assert window.forget() == 1
    window.send(say(1))
    assert window.pong(old.params[0])
    assert (window.lost, window.pending) == (1, 1)


def test_one_long_line_is_never_stuck() -> None:
    """A line of more messages than the window goes out whole (with its barrier)."""
    window = SendWindow()
    written = window.send(say(WINDOW + 3))
    assert len(written) == WINDOW + 4 and written[-1].command == "PING"
    assert window.full


@PROPERTY
@given(st.lists(st.integers(0, 5), max_size=60), st.data())
def test_every_line_is_accounted_for(sizes: list[int], data: st.DataObject) -> None:
    """Sending as the connection does (waiting while full): never stuck, never over the window.

    A full window always has a barrier in flight (else nothing could ever open it); lines are
    acknowledged or pending, never both; the last barrier acknowledges everything.
    """
    window = SendWindow()
    tokens: list[str] = []
    for size in sizes:
        while window.full:
            assert tokens, "a full window with no barrier in flight would wait forever"
            window.pong(tokens.pop(0))
        tokens += barriers(window.send(say(size)))
        answered: bool = data.draw(st.booleans())
        if tokens and answered:
            window.pong(tokens.pop(0))
        assert window.acknowledged + window.pending == window.lines
        assert window.unacknowledged < WINDOW + 5
    last = window.barrier()
    for token in [*tokens, *([last.params[0]] if last else [])]:
        window.pong(token)
    assert window.pending == 0 and window.acknowledged == len(sizes)


def echo_of(message: Message) -> Message:
    """The server's echo of ``message`` (echo-message)."""
    return Message(message.command, message.params, source="me!u@h")


def test_echoes_confirm_and_a_skipped_one_was_refused() -> None:
    """With echo-message each message waits for its echo; one passed over was refused."""
    window = SendWindow()
    first, second, third = say(3)
    window.send([first], echoed=True)
    window.send([second], echoed=True)
    window.send([third], echoed=True)
    assert window.unconfirmed == 3
    assert window.echo(echo_of(first))
    assert window.echo(echo_of(third))  # no echo for the second: the server refused it
    assert (window.unconfirmed, window.refused, window.awaiting_echo) == (1, 1, 0)


def test_echoes_of_what_we_did_not_wait_for_are_ignored() -> None:
    """A CTCP answer's or a NickServ query's echo matches nothing and confirms nothing."""
    window = SendWindow()
    window.send(say(1), echoed=True)
    assert not window.echo(Message.of("NOTICE", "bob", "\x01VERSION chinwag\x01"))
    assert not window.echo(Message.of("PRIVMSG", "#lobby", "something else"))
    assert window.unconfirmed == 1


def test_without_echo_message_nothing_waits_for_an_echo() -> None:
    """Servers without echo-message: the PONG is the only acknowledgement."""
    window = SendWindow()
    window.send(say(2))
    assert window.unconfirmed == 0
