"""The link itself: PING, PONG and QUIT, which a client may send before it registers."""

from __future__ import annotations

from chinwag.protocol import Message
from chinwag.protocol.numerics import ERR_NOORIGIN
from chinwag.server.commands.base import CommandSpec, Context
from chinwag.server.errors import IrcError

__all__ = ["COMMANDS"]


def handle_ping(ctx: Context, msg: Message) -> None:
    """PING <token>"""
    if not msg.params or not msg.params[0]:
        raise IrcError(ERR_NOORIGIN, "No origin specified")
    ctx.send("PONG", ctx.network.name, msg.params[0])


def handle_pong(ctx: Context, msg: Message) -> None:
    """PONG <token>: any input already counts as a sign of life, so nothing more to do."""


def handle_quit(ctx: Context, msg: Message) -> None:
    """QUIT [:<reason>]"""
    reason = msg.param(0)
    quit_message = f"Quit: {reason}" if reason else "Client Quit"
    ctx.client.conn.close(quit_message, quit_message=quit_message)


COMMANDS: dict[str, CommandSpec] = {
    "PING": CommandSpec(handle_ping, before_registration=True),
    "PONG": CommandSpec(handle_pong, before_registration=True),
    "QUIT": CommandSpec(handle_quit, before_registration=True),
}
