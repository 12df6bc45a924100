"""Sending a stream of input lines no faster than the server takes them, and knowing what went out.

``seq 1 10000 | chinwag connect --nick bot`` must neither flood the server (which holds a client's
excess lines, paces them, and cuts it off past a queue of them: ``Excess Flood``) nor exit while
lines are still on their way. Servers do not say their limits, but every server answers ``PING``
after it has handled the lines sent before it, in order. So the client keeps a *window*: at most
`WINDOW` messages not yet acknowledged, with a ``PING :chinwag-sent-N`` barrier after every
`BARRIER_EVERY` of them (and whenever the input pauses). The matching ``PONG`` acknowledges every
message before its barrier. A server that paces us holds back its ``PONG``, so the window fills and
we wait: we never have more than ``WINDOW + WINDOW / BARRIER_EVERY`` lines waiting in any server's
queue (18, against chinwag's default ``flood_queue`` of 50 and burst of 20).

A ``PONG`` says the server has *taken* the lines before it, not that it delivered them: a message
the server refuses (``404 Cannot send to channel``) is acknowledged too, and chinwag delivers a
message (and its echo) only once it is stored, which may come after the ``PONG``. So with
``echo-message`` each PRIVMSG and NOTICE also waits for its echo, the server's word that it went
out. Echoes come in the order the messages were sent, so an echo matching a later message than
the oldest one waiting means the ones before it were refused. `SendWindow.unconfirmed` counts the
messages without an echo; at the end of input the client waits for them (a little while: a refused
message never gets one). Echoes do not open the window: refused messages would then keep it shut.
Anything else the client says by itself (a CTCP answer, a NickServ query) is not expected, and its
echo matches nothing.

`SendWindow` is sans-I/O bookkeeping: the connection writes what it returns and feeds it the
``PONG`` tokens it reads.
"""

from __future__ import annotations

from collections import deque

from chinwag.protocol import Message, fold

__all__ = ["BARRIER_EVERY", "BARRIER_PREFIX", "WINDOW", "SendWindow"]

WINDOW = 16
"""Messages sent and not yet acknowledged, at most (one input line may go past it, alone)."""
BARRIER_EVERY = 8
"""Messages between two PING barriers."""
BARRIER_PREFIX = "chinwag-sent-"
"""Start of our barrier tokens; a PONG with another token is not ours."""


class SendWindow:
    """Which input lines were sent and which of them the server acknowledged.

    Attributes:
        lines: input lines handed to `send` (with or without messages).
        acknowledged: input lines the server acknowledged (or that had nothing to send).
        lost: input lines in flight when a connection was lost (sent or not, nobody knows).
        refused: messages that never got their echo although a later one did.
    """

    def __init__(self, size: int = WINDOW, barrier_every: int = BARRIER_EVERY) -> None:
        self.size = size
        self.barrier_every = barrier_every
        self.lines = 0
        self.acknowledged = 0
        self.lost = 0
        self.refused = 0
        self._echo_due: deque[tuple[str, str, str]] = deque()  # (command, target, text)
        self._sent = 0  # messages written, barriers not counted
        self._unbarriered = 0  # messages written since the last barrier
        self._acked = 0  # messages acknowledged
        # Input lines in flight, by the number of the last message each sent.
        self._waiting: deque[int] = deque()
        # Barriers in flight: (token, number of messages written before it).
        self._barriers: deque[tuple[str, int]] = deque()
        self._next_token = 0

    @property
    def unacknowledged(self) -> int:
        """Messages written that the server has not acknowledged yet."""
        return self._sent - self._acked

    @property
    def pending(self) -> int:
        """Input lines in flight: sent on this connection, not acknowledged yet."""
        return self.lines - self.acknowledged - self.lost

    @property
    def awaiting_echo(self) -> int:
        """Messages whose echo may still come (none after theirs has come yet)."""
        return len(self._echo_due)

    @property
    def unconfirmed(self) -> int:
        """Messages sent that should have been echoed and were not (yet, or ever: refused)."""
        return len(self._echo_due) + self.refused

    @property
    def full(self) -> bool:
        """True when the next line must wait for an acknowledgement."""
        return self.unacknowledged >= self.size

    def send(self, messages: list[Message], *, echoed: bool = False) -> list[Message]:
        """Account for one input line's messages; return them to write, with a barrier if due.

        Args:
            echoed: the server echoes PRIVMSG and NOTICE (``echo-message``): expect an echo each.
        """
        self.lines += 1
        if echoed:
            for m in messages:
                if m.command in ("PRIVMSG", "NOTICE") and len(m.params) == 2:
                    self._echo_due.append((m.command, fold(m.params[0]), m.params[1]))
        if not messages:
            self.acknowledged += 1
            return []
        self._sent += len(messages)
        self._unbarriered += len(messages)
        self._waiting.append(self._sent)
        if self._unbarriered >= self.barrier_every or self.full:
            return [*messages, self._barrier()]
        return list(messages)

    def barrier(self) -> Message | None:
        """A barrier for the messages written since the last one (None when there are none)."""
        return self._barrier() if self._unbarriered else None

    def _barrier(self) -> Message:
        token = f"{BARRIER_PREFIX}{self._next_token}"
        self._next_token += 1
        self._barriers.append((token, self._sent))
        self._unbarriered = 0
        return Message.of("PING", token)

    def echo(self, msg: Message) -> bool:
        """The server echoed a PRIVMSG or NOTICE of ours; True when it was one we wait for."""
        if len(msg.params) != 2:
            return False
        key = (msg.command, fold(msg.params[0]), msg.params[1])
        if key not in self._echo_due:
            return False
        while self._echo_due.popleft() != key:
            self.refused += 1
        return True

    def pong(self, token: str) -> bool:
        """The server answered a PING with ``token``; True when it was one of our barriers."""
        if not token.startswith(BARRIER_PREFIX):
            return False
        if all(sent_token != token for sent_token, _ in self._barriers):
            return True  # from before a reconnect: what it covered is already counted as lost
        while self._barriers:
            sent_token, upto = self._barriers.popleft()
            self._acked = max(self._acked, upto)
            if sent_token == token:
                break
        while self._waiting and self._waiting[0] <= self._acked:
            self._waiting.popleft()
            self.acknowledged += 1
        return True

    def forget(self) -> int:
        """The connection is gone: count what was in flight as lost; return how many lines."""
        lost = len(self._waiting)
        self.lost += lost
        self._waiting.clear()
        self._barriers.clear()
        self._acked = self._sent
        self._unbarriered = 0
        self._echo_due.clear()  # the next connection echoes only its own messages
        return lost
