"""bench.loadgen: a receiver counts the scenario's messages, and only those, however the stream
is cut into chunks; a tracker acks a sender's messages, not its JOIN."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.loadgen import COUNT, DRAIN, IDLE, Conn, Generator, Sender

MESSAGE_LINE = b":amy!~amy@127.0.0.1 PRIVMSG #g0 :xxxxxxxxxxxxxxxx\r\n"
PROBE_LINE = b":amy!~amy@127.0.0.1 PRIVMSG #g0 :~P123456 xxxx\r\n"
PRIVATE_LINE = b":bob!~bob@127.0.0.1 PRIVMSG c7 :xxxxxxxx\r\n"
OTHER_LINES = [
    b":amy!~amy@127.0.0.1 JOIN #g0\r\n",  # a sender shown when it first speaks (+D)
    b":slow!~slow@127.0.0.1 QUIT :Closing Link: 127.0.0.1 (SendQ exceeded)\r\n",
    b":test.chinwag MODE #g0 +D\r\n",
    b":test.chinwag NOTICE c1 :PRIVMSG is a word, not a message here\r\n",
]
LINES = st.lists(st.sampled_from([MESSAGE_LINE, PROBE_LINE, PRIVATE_LINE, *OTHER_LINES]))


def _conn(mode: int = COUNT) -> Conn:
    conn = Conn(Generator({"port": 0, "server_pid": 0}), "c1")
    conn.mode = mode
    return conn


def _cut(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(stream)) for c in cuts})
    return [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]


def _messages(lines: list[bytes]) -> int:
    return sum(line in (MESSAGE_LINE, PROBE_LINE, PRIVATE_LINE) for line in lines)


@settings(max_examples=300, deadline=None)
@given(lines=LINES, cuts=st.lists(st.integers(0, 2000), max_size=40))
def test_count_is_the_messages_whatever_the_chunks(lines: list[bytes], cuts: list[int]) -> None:
    """In COUNT mode every PRIVMSG counts once, JOIN/QUIT/MODE/NOTICE lines never, with the
    stream cut anywhere (one byte at a time included)."""
    conn = _conn()
    for chunk in _cut(b"".join(lines), cuts):
        conn.data_received(chunk)
    assert conn.count == _messages(lines)


def test_count_one_byte_at_a_time() -> None:
    """A message cut into one-byte chunks still counts once."""
    conn = _conn()
    for byte in MESSAGE_LINE * 3 + OTHER_LINES[0]:
        conn.data_received(bytes([byte]))
    assert conn.count == 3


@settings(max_examples=200, deadline=None)
@given(before=LINES, after=LINES, counted=LINES, cuts=st.lists(st.integers(0, 2000), max_size=20))
def test_drain_counts_up_to_the_pong(
    counted: list[bytes], before: list[bytes], after: list[bytes], cuts: list[int]
) -> None:
    """The end barrier: messages before the PONG count, those after it (IDLE) do not."""
    conn = _conn()
    for line in counted:
        conn.data_received(line)
    # What `Conn.expect` sets up (without its future, which needs a running loop).
    conn.token, conn.mode, conn.then = b"zzendzz", DRAIN, IDLE
    pong = b":test.chinwag PONG test.chinwag :zzendzz\r\n"
    for chunk in _cut(b"".join(before) + pong + b"".join(after), cuts):
        conn.data_received(chunk)
    assert conn.mode == IDLE
    assert conn.count == _messages(counted) + _messages(before)


def test_a_tracker_acks_messages_not_the_senders_join() -> None:
    """The JOIN a large room shows when a sender first speaks is no ack of its lines."""
    tracker, sending = _conn(), _conn()
    sender = Sender(sending, "#g0", window=64, probe_every=16)
    tracker.track.append((b":amy!", sender))
    tracker.data_received(OTHER_LINES[0] + MESSAGE_LINE + PRIVATE_LINE + MESSAGE_LINE[:10])
    assert sender.acked == 1
    tracker.data_received(MESSAGE_LINE[10:] + OTHER_LINES[0])
    assert sender.acked == 2
