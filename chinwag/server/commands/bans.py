"""Server bans (K-lines) and what operators see: KLINE, UNKLINE and STATS.

A ban matches a ``nick!user@host`` glob mask (``KLINE *!*@10.0.0.*``) or an account
(``KLINE account:amy``), has a reason and optionally a duration in minutes. It is persisted in
the store, takes effect at once (every matching client is disconnected with 465 and ERROR) and
is checked again at each registration and login.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

from chinwag.protocol import Message, fold, normalize_mask, parse_count
from chinwag.protocol.numerics import (
    RPL_ENDOFSTATS,
    RPL_STATSDEBUG,
    RPL_STATSKLINE,
    RPL_STATSUPTIME,
)
from chinwag.server.commands.base import CommandSpec, Context
from chinwag.store import BanKind, ServerBan

__all__ = ["COMMANDS", "parse_ban_target"]

_ACCOUNT_PREFIX = "account:"
_MAX_MINUTES = 60 * 24 * 366 * 10


async def _unstoppable(write: Awaitable[object]) -> None:
    """Await a store write that the cancellation of tasks at shutdown must not undo: the
    write stays queued and the store commits it when it closes."""
    await asyncio.shield(write)


def parse_ban_target(target: str) -> tuple[BanKind, str]:
    """``account:NAME`` is an account ban (folded name); anything else a completed glob mask."""
    if target.lower().startswith(_ACCOUNT_PREFIX):
        return BanKind.ACCOUNT, fold(target[len(_ACCOUNT_PREFIX) :])
    return BanKind.MASK, normalize_mask(target)


def _shown(kind: BanKind, target: str) -> str:
    return _ACCOUNT_PREFIX + target if kind is BanKind.ACCOUNT else target


def handle_kline(ctx: Context, msg: Message) -> None:
    """KLINE [<minutes>] <nick!user@host | account:NAME> [:<reason>]"""
    ctx.require_oper()
    params = list(msg.params)
    minutes = 0
    given = parse_count(params[0])
    if given is not None and len(params) > 1:
        params.pop(0)
        minutes = min(given, _MAX_MINUTES)
    kind, target = parse_ban_target(params[0])
    if not target or target in ("*!*@*", "*"):
        ctx.network.notice(ctx.client, f"Refusing to ban everybody ({params[0]})")
        return
    reason = (params[1] if len(params) > 1 else "") or "No reason given"
    now = time.time()
    ban = ServerBan(
        kind=kind,
        target=target,
        reason=reason[:200],
        set_by=ctx.client.oper_name or ctx.client.nick,
        set_at=now,
        expires_at=now + minutes * 60 if minutes else None,
    )
    accounts = ctx.accounts
    accounts.bans[kind, target] = ban
    ctx.spawn(_unstoppable(ctx.store.bans.add(ban)))
    duration = f"for {minutes} minutes" if minutes else "permanently"
    ctx.network.notice(ctx.client, f"Banned {_shown(kind, target)} {duration}: {ban.reason}")
    for client in list(ctx.network.connections):
        if client is not ctx.client and client.registered:
            accounts.bans.refuse_banned(client)


def handle_unkline(ctx: Context, msg: Message) -> None:
    """UNKLINE <nick!user@host | account:NAME>"""
    ctx.require_oper()
    kind, target = parse_ban_target(msg.params[0])
    ban = ctx.accounts.bans.pop((kind, target), None)
    ctx.spawn(_unstoppable(ctx.store.bans.remove(kind, target)))
    if ban is None:
        ctx.network.notice(ctx.client, f"No ban on {_shown(kind, target)}")
    else:
        ctx.network.notice(ctx.client, f"Removed the ban on {_shown(kind, target)}")


def handle_stats(ctx: Context, msg: Message) -> None:
    """STATS <k | c | u>: server bans, connections per address, uptime (operators only)."""
    letter = msg.param(0)[:1]
    ctx.require_oper()
    if letter.lower() == "k":
        now = time.time()
        for (kind, target), ban in sorted(ctx.accounts.bans.items(), key=lambda i: i[1].set_at):
            if ban.expired(now):
                continue
            left = f"{int(ban.expires_at - now) // 60 + 1}m" if ban.expires_at else "permanent"
            ctx.reply(RPL_STATSKLINE, "K", _shown(kind, target), left, ban.set_by, ban.reason)
    elif letter.lower() == "c":
        network = ctx.network
        total, registered = len(network.connections), network.user_count
        ctx.reply(
            RPL_STATSDEBUG,
            f"{total} connections, {registered} registered, {total - registered} registering, "
            f"{len(network.channels)} channels",
        )
        for ip, count in network.per_ip.most_common(20):
            ctx.reply(RPL_STATSDEBUG, f"{ip}: {count} connection(s)")
    elif letter.lower() == "u":
        up = int(time.time() - ctx.network.created)
        days, rest = divmod(up, 86400)
        ctx.reply(
            RPL_STATSUPTIME,
            f"Server Up {days} days {rest // 3600}:{rest % 3600 // 60:02d}:{rest % 60:02d}",
        )
    ctx.reply(RPL_ENDOFSTATS, letter or "*", "End of /STATS report")


COMMANDS: dict[str, CommandSpec] = {
    "KLINE": CommandSpec(handle_kline, min_params=1),
    "UNKLINE": CommandSpec(handle_unkline, min_params=1),
    "STATS": CommandSpec(handle_stats),
}
