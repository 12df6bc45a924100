"""Server bans (K-lines) and what operators see: KLINE, UNKLINE and STATS.

A ban matches a ``nick!user@host`` glob mask (``KLINE *!*@10.0.0.*``; the real address as well as
the cloak) or an account (``KLINE account:amy``), has a reason and optionally a duration (``90``
minutes, or ``30m``, ``12h``, ``7d``). It is persisted in the store, takes effect at once (every
matching client is disconnected with 465 and ERROR) and is checked again at each registration
and login. The operations themselves are in `server/klines.py`, shared with ``chinwag admin``.
"""

from __future__ import annotations

import time

from chinwag.protocol import Message
from chinwag.protocol.numerics import (
    RPL_ENDOFSTATS,
    RPL_STATSCOMMANDS,
    RPL_STATSDEBUG,
    RPL_STATSKLINE,
    RPL_STATSUPTIME,
)
from chinwag.server.commands.base import CommandSpec, Context
from chinwag.server.klines import (
    KLines,
    duration_text,
    parse_ban_target,
    parse_duration,
    shown,
    time_left,
)

__all__ = ["COMMANDS"]


def _klines(ctx: Context) -> KLines:
    return KLines(ctx.accounts.bans, ctx.store.bans, ctx.network, ctx.spawn)


def handle_kline(ctx: Context, msg: Message) -> None:
    """KLINE [<duration>] <nick!user@host | account:NAME> [:<reason>]"""
    ctx.require_oper()
    params = list(msg.params)
    seconds = 0
    given = parse_duration(params[0])
    if given is not None and len(params) > 1:
        params.pop(0)
        seconds = given
    kind, target = parse_ban_target(params[0])
    if not target or target in ("*!*@*", "*"):
        ctx.network.notice(ctx.client, f"Refusing to ban everybody ({params[0]})")
        return
    reason = params[1] if len(params) > 1 else ""
    set_by = ctx.client.oper_name or ctx.client.nick
    ban = _klines(ctx).add(
        kind, target, reason=reason, seconds=seconds, set_by=set_by, spare=ctx.client
    )
    duration = f"for {duration_text(seconds)}" if seconds else "permanently"
    ctx.network.notice(ctx.client, f"Banned {shown(kind, target)} {duration}: {ban.reason}")


def handle_unkline(ctx: Context, msg: Message) -> None:
    """UNKLINE <nick!user@host | account:NAME>"""
    ctx.require_oper()
    kind, target = parse_ban_target(msg.params[0])
    if _klines(ctx).remove(kind, target) is None:
        ctx.network.notice(ctx.client, f"No ban on {shown(kind, target)}")
    else:
        ctx.network.notice(ctx.client, f"Removed the ban on {shown(kind, target)}")


def handle_stats(ctx: Context, msg: Message) -> None:
    """STATS <k | c | u | m | l>: bans, connections per address, uptime, command counts,
    traffic (operators only)."""
    letter = msg.param(0)[:1]
    ctx.require_oper()
    stats = ctx.stats
    if letter.lower() == "k":
        now = time.time()
        for ban in _klines(ctx).active():
            left = time_left(ban, now)
            ctx.reply(
                RPL_STATSKLINE, "K", shown(ban.kind, ban.target), left, ban.set_by, ban.reason
            )
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
    elif letter == "m":
        for verb, count in sorted(stats.received.items(), key=lambda item: -item[1]):
            ctx.reply(RPL_STATSCOMMANDS, verb, str(count))
    elif letter.lower() == "l":
        ctx.reply(
            RPL_STATSDEBUG,
            f"received {stats.lines_received} lines, {stats.bytes_received} bytes; "
            f"sent {stats.lines_sent} lines, {stats.bytes_sent} bytes; "
            f"store lag {stats.store_lag * 1000:.1f} ms",
        )
        for reason, count in stats.disconnects.most_common():
            ctx.reply(RPL_STATSDEBUG, f"disconnected ({reason}): {count}")
    ctx.reply(RPL_ENDOFSTATS, letter or "*", "End of /STATS report")


COMMANDS: dict[str, CommandSpec] = {
    "KLINE": CommandSpec(handle_kline, min_params=1),
    "UNKLINE": CommandSpec(handle_unkline, min_params=1),
    "STATS": CommandSpec(handle_stats),
}
