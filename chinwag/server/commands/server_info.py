"""What a client may ask about the server itself: INFO, ADMIN, LINKS, and USERS (refused).

chinwag is one server (no links to others), so LINKS lists itself; USERS, which on old servers
listed the accounts logged in to the host machine, is refused with 446 as modern servers do
(LUSERS gives the counts, WHO the people).
"""

from __future__ import annotations

import platform
import time

from chinwag import __version__
from chinwag.protocol import Message
from chinwag.protocol.numerics import (
    ERR_USERSDISABLED,
    RPL_ADMINEMAIL,
    RPL_ADMINLOC1,
    RPL_ADMINLOC2,
    RPL_ADMINME,
    RPL_ENDOFINFO,
    RPL_ENDOFLINKS,
    RPL_INFO,
    RPL_LINKS,
)
from chinwag.server.commands.base import CommandSpec, Context

__all__ = ["COMMANDS"]


def handle_info(ctx: Context, msg: Message) -> None:
    """INFO: what this server is (371 lines, then 374)."""
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ctx.network.created))
    for line in (
        f"chinwag {__version__}: a console chat that speaks IRC",
        f"Python {platform.python_version()} on {platform.system()}",
        f"Running since {started}",
        "HELP lists the commands; HELP <command> explains one",
    ):
        ctx.reply(RPL_INFO, line)
    ctx.reply(RPL_ENDOFINFO, "End of /INFO list")


def handle_admin(ctx: Context, msg: Message) -> None:
    """ADMIN: who runs this server (256-259, from ``[server] admin``)."""
    settings = ctx.config.server
    ctx.reply(RPL_ADMINME, ctx.network.name, "Administrative info")
    ctx.reply(RPL_ADMINLOC1, f"{settings.network} network")
    ctx.reply(RPL_ADMINLOC2, f"chinwag {__version__}")
    ctx.reply(RPL_ADMINEMAIL, settings.admin or "No administrator contact is configured")


def handle_links(ctx: Context, msg: Message) -> None:
    """LINKS: the servers of the network (this one only)."""
    name = ctx.network.name
    ctx.reply(RPL_LINKS, "*", name, f"0 chinwag {__version__}")
    ctx.reply(RPL_ENDOFLINKS, "*", "End of /LINKS list")


def handle_users(ctx: Context, msg: Message) -> None:
    """USERS: refused (446); LUSERS counts the users and WHO lists them."""
    ctx.reply(ERR_USERSDISABLED, "USERS has been disabled (use LUSERS or WHO)")


COMMANDS: dict[str, CommandSpec] = {
    "INFO": CommandSpec(handle_info),
    "ADMIN": CommandSpec(handle_admin),
    "LINKS": CommandSpec(handle_links),
    "USERS": CommandSpec(handle_users),
}
