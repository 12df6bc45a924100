"""What the server's NickServ says about my nick, turned into offers the user can act on.

Theory of operation
-------------------
Two situations deserve a readable line of their own:

* The nick is registered and I am not logged in (NickServ's nick-protection notice: "The nick amy
  is registered. Log in with /msg NickServ IDENTIFY ..."): the notice is shown, followed by a
  system line offering ``/identify PASSWORD`` (and how to log in at connect next time) or
  ``/nick`` for another nick.
* The nick is free: no server tells that by itself, so once registered (and only when the server
  offers ``draft/account-registration``, which chinwag does exactly when accounts are enabled) the
  session asks ``NickServ INFO <nick>`` quietly. The answer is swallowed: "<nick> is not a
  registered account." becomes a one-time hint that ``/register PASSWORD`` protects the nick;
  "Account <nick>, registered ..." and the "Logged in now: ..." line after it are dropped (the
  protection notice says what matters).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from chinwag.client.lines import ChatLine, Posted, SystemKind, SystemLine
from chinwag.protocol import Message

if TYPE_CHECKING:
    from chinwag.client.session import Session

__all__ = ["NICKSERV_FOLDED", "NickProbe", "handle_nickserv_notice", "probe_nick"]

NICKSERV_FOLDED = "nickserv"


class NickProbe(enum.Enum):
    """Where the quiet ``NickServ INFO <my nick>`` is."""

    IDLE = "idle"
    ASKED = "asked"
    REGISTERED = "registered"


def probe_nick(s: Session) -> None:
    """Once registered: ask NickServ quietly whether my nick is registered (once a session)."""
    if s.logged_in_as or s.nick_hinted or not s.offers("draft/account-registration"):
        return
    s.nick_probe = NickProbe.ASKED
    s.send(Message.of("PRIVMSG", "NickServ", f"INFO {s.nick}"))


def handle_nickserv_notice(s: Session, key: str, line: ChatLine) -> list[Posted]:
    """A NOTICE from NickServ: show it, with an offer when it is about my nick; or swallow it."""
    text = line.text
    nick = s.nick
    if s.nick_probe is NickProbe.ASKED:
        if s.fold(text) == s.fold(f"{nick} is not a registered account."):
            s.nick_probe = NickProbe.IDLE
            s.nick_hinted = True
            hint = (
                f"Tip: nobody has registered the nick {nick}. Type /register PASSWORD to make "
                "it yours: then only you can use it."
            )
            return [s.post(key, SystemLine(line.time, hint, SystemKind.INFO))]
        if s.fold(text).startswith(s.fold(f"Account {nick},")):
            s.nick_probe = NickProbe.REGISTERED
            return []
    if s.nick_probe is NickProbe.REGISTERED and text.startswith("Logged in now:"):
        s.nick_probe = NickProbe.IDLE
        return []
    out = [s.post(key, line)]
    if (
        not s.logged_in_as
        and s.fold(f"The nick {nick} is registered") in s.fold(text)
        and "IDENTIFY" in text
    ):
        offer = (
            f"{nick} is a registered nick. If it is yours, type /identify PASSWORD "
            f"(next time log in as you connect: --account {nick} --password ... "
            "--save-password). If not, choose another nick with /nick NEWNICK."
        )
        out.append(s.post(key, SystemLine(line.time, offer, SystemKind.INFO)))
    return out
