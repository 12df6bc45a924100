"""What I say: cut to fit IRC lines, and held while disconnected until it can go out.

A line typed while the connection is down (or before the client is back in the room after a
reconnect) is neither lost nor refused: it is held in `Session.pending` under its conversation,
shown there as pending, and said as soon as the session can say it there again: when I am back in
that room (my JOIN), or registered again for a private conversation (the end of the MOTD).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chinwag.client.lines import Posted, SystemLine
from chinwag.protocol import Message

if TYPE_CHECKING:
    from chinwag.client.session import Session

__all__ = ["LINE_BYTES", "can_say", "give_up", "release", "say", "say_or_hold", "split_text"]

LINE_BYTES = 512
# Room for ":nick!user@host PRIVMSG target :" + CR LF, with the longest user and host we may get.
_PREFIX_RESERVE = 1 + 10 + 1 + 63 + len(" PRIVMSG  :\r\n")
_ACTION_RESERVE = len("\x01ACTION \x01")
_MIN_PIECE = 16


def split_text(text: str, budget: int) -> list[str]:
    """Split ``text`` into pieces of at most ``budget`` UTF-8 bytes, at spaces when possible."""
    pieces: list[str] = []
    rest = text
    while len(rest.encode("utf-8")) > budget:
        cut = len(rest.encode("utf-8")[:budget].decode("utf-8", "ignore"))
        space = rest.rfind(" ", 0, cut + 1)
        if space > 0:
            cut = space
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip(" ")
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def say(session: Session, target: str, text: str, *, action: bool = False) -> list[Posted]:
    """Queue PRIVMSGs saying ``text`` to ``target`` (cut to fit); show them unless echoed."""
    reserve = _PREFIX_RESERVE + len(session.nick) + len(target.encode("utf-8"))
    budget = LINE_BYTES - reserve - (_ACTION_RESERVE if action else 0)
    posted: list[Posted] = []
    for piece in split_text(text, max(budget, _MIN_PIECE)):
        body = f"\x01ACTION {piece}\x01" if action else piece
        session.send(Message.of("PRIVMSG", target, body))
        posted.extend(session.own_message(target, piece, action=action))
    return posted


def can_say(session: Session, target: str) -> bool:
    """True when a line to ``target`` can go out now.

    Not before registration, nor to a room I should be in but am not back in yet. A room I never
    joined is said to at once: the server decides (some rooms take lines from outside).
    """
    if not session.registered:
        return False
    key = session.key_of(target)
    conv = session.conversations.get(key)
    return not (key in session.rooms and conv is not None and conv.is_channel and not conv.joined)


def say_or_hold(session: Session, target: str, text: str, *, action: bool = False) -> list[Posted]:
    """Say ``text`` now, or hold it (shown as pending) until `release` can say it."""
    if can_say(session, target):
        return say(session, target, text, action=action)
    session.conversation(target)
    key = session.key_of(target)
    session.pending.setdefault(key, []).append((text, action))
    shown = f"* {session.nick} {text}" if action else f"<{session.nick}> {text}"
    note = SystemLine(session.clock(), f"pending, sent once connected again: {shown}")
    session.changed = True
    return [session.post(key, note)]


def release(session: Session, key: str) -> list[Posted]:
    """Say every line held for conversation ``key``, oldest first (when it can be said now)."""
    conv = session.conversations.get(key)
    held = session.pending.get(key)
    if conv is None or not held or not can_say(session, conv.name):
        return []
    del session.pending[key]
    session.changed = True
    posted = [
        session.post(key, SystemLine(session.clock(), f"sending {len(held)} pending line(s)"))
    ]
    for text, action in held:
        posted += say(session, conv.name, text, action=action)
    return posted


def give_up(session: Session, key: str) -> list[Posted]:
    """The room ``key`` cannot be joined again: forget it, and say which held lines are lost."""
    session.rooms.pop(key, None)
    held = session.pending.pop(key, None)
    if not held or key not in session.conversations:
        return []
    session.changed = True
    text = f"Not sent ({len(held)} pending line(s)): " + " / ".join(text for text, _ in held)
    return [session.error(text, key)]
