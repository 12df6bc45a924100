"""The command table and the dispatcher: the checks every command shares, in one place.

`dispatch` looks the verb up in `COMMANDS`, answers what is wrong before any handler runs
(421 unknown command, 451 not registered, 461 not enough parameters, 417 line too long), runs the
handler, turns an `IrcError` into its numeric, and labels the replies for ``labeled-response``.
A handler is ``(ctx, msg) -> None``; it changes state through `Network` and sends through it.
"""

from __future__ import annotations

from chinwag.protocol import DecodeError, DecodeErrorKind, Message
from chinwag.protocol.numerics import (
    ERR_INPUTTOOLONG,
    ERR_NEEDMOREPARAMS,
    ERR_NOTREGISTERED,
    ERR_UNKNOWNCOMMAND,
)
from chinwag.server.commands import (
    authentication,
    bans,
    capabilities,
    channels,
    help,
    history,
    knock,
    link,
    messaging,
    modes,
    monitor,
    operators,
    queries,
    registration,
    server_info,
    users,
    who,
)
from chinwag.server.commands.base import CommandSpec, Context
from chinwag.server.commands.labels import send_labeled
from chinwag.server.commands.registration import try_register
from chinwag.server.errors import IrcError
from chinwag.server.state import Cap

__all__ = ["COMMANDS", "CommandSpec", "Context", "dispatch"]

COMMANDS: dict[str, CommandSpec] = {
    **capabilities.COMMANDS,
    **registration.COMMANDS,
    **link.COMMANDS,
    **channels.COMMANDS,
    **messaging.COMMANDS,
    **queries.COMMANDS,
    **modes.COMMANDS,
    **operators.COMMANDS,
    **users.COMMANDS,
    **history.COMMANDS,
    **authentication.COMMANDS,
    **bans.COMMANDS,
    **who.COMMANDS,
    **server_info.COMMANDS,
    **help.COMMANDS,
    **knock.COMMANDS,
    **monitor.COMMANDS,
}
help.serve_from(COMMANDS)


def dispatch(ctx: Context, item: Message | DecodeError) -> None:
    """Handle one received line from ``ctx.client``.

    Args:
        ctx: the parts of the server and the client who sent it.
        item: the parsed message, or why the line could not be parsed.
    """
    client = ctx.client
    if isinstance(item, DecodeError):
        if item.kind is DecodeErrorKind.TOO_LONG:
            ctx.reply(ERR_INPUTTOOLONG, "Input line was too long")
        return
    label = item.tags.get("label") if client.caps & Cap.LABELED_RESPONSE else None
    if label:  # every labeled command gets a labeled answer, an error (421, 461...) too
        ctx.label = label
        client.conn.capture()
    try:
        spec = COMMANDS.get(item.command)
        if spec is None:
            raise IrcError(ERR_UNKNOWNCOMMAND, item.command, "Unknown command")
        if not client.registered and not spec.before_registration:
            raise IrcError(ERR_NOTREGISTERED, "You have not registered")
        if len(item.params) < spec.min_params:
            raise IrcError(ERR_NEEDMOREPARAMS, item.command, "Not enough parameters")
        spec.handler(ctx, item)
        if not client.registered:
            try_register(ctx)  # NICK, USER, CAP END...: whichever comes last completes it
    except IrcError as err:
        ctx.reply(err.numeric, *err.params)
    finally:
        if label:
            lines = client.conn.release()
            if ctx.late is None:
                send_labeled(ctx, label, lines)
            else:  # the handler answers later (a store query)
                ctx.late.handler_done(lines)
