"""What ``chinwag admin`` can ask a running server over its socket (`admin_socket`).

Each command takes the words after ``chinwag admin`` and returns the text to print; a refusal
raises `AdminError` with the reason. They run on the event loop, between two loop turns, and
change the network through the same operations as the IRC verbs that do the same (KILL, KICK,
KLINE, REHASH), so that users see the same thing either way. What the server does on its own
behalf comes from the server's name, the way IRC shows it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from chinwag import __version__
from chinwag.protocol import fold
from chinwag.server.accounts import Accounts
from chinwag.server.fanout import Outgoing, send_to_all
from chinwag.server.history import History
from chinwag.server.klines import (
    KLines,
    duration_text,
    parse_ban_target,
    parse_duration,
    shown,
    time_left,
)
from chinwag.server.network import Network
from chinwag.server.reload import Reloader
from chinwag.server.services import ServiceConnection
from chinwag.server.state import Client
from chinwag.server.stats import LoopMonitor, Stats
from chinwag.store import Store, StoreError

if TYPE_CHECKING:  # needs the cluster extra (redis): only a cluster node has one
    from chinwag.cluster.node import ClusterNode

__all__ = ["AdminCommands", "AdminError"]

ADMIN_NAME = "admin"
"""Who ``ban list`` and the logs say set a ban made over the socket."""
ROSTER_TIMEOUT = 5.0
"""Seconds ``nodes`` waits for Redis."""


class AdminError(Exception):
    """A command that cannot be done; the text says why, for the person at the shell."""


class AdminCommands:
    """The commands, with the parts of the server they act on.

    Args:
        network: the network state.
        stats: the server's counters.
        monitor: the rates and lags.
        klines: server bans.
        reloader: reloads the configuration.
        accounts: logins (``forget`` logs the account out first) and password checks.
        history: its count of stored messages.
        store: where ``forget`` deletes.
        cluster: this node's place in a network (None: a server on its own).
    """

    def __init__(
        self,
        network: Network,
        stats: Stats,
        *,
        monitor: LoopMonitor,
        klines: KLines,
        reloader: Reloader,
        accounts: Accounts,
        history: History,
        store: Store,
        cluster: ClusterNode | None = None,
    ) -> None:
        self.network = network
        self.stats = stats
        self.monitor = monitor
        self.klines = klines
        self.reloader = reloader
        self.accounts = accounts
        self.history = history
        self.store = store
        self.cluster = cluster
        self.commands: dict[str, Callable[[list[str]], Awaitable[str]]] = {
            "status": self.status,
            "who": self.who,
            "kick": self.kick,
            "kill": self.kill,
            "ban": self.ban,
            "reload": self.reload,
            "forget": self.forget,
            "say": self.say,
            "nodes": self.nodes,
        }

    async def run(self, argv: list[str]) -> str:
        """Run ``argv`` (``["kick", "#room", "bob"]``) and return what to print.

        Raises:
            AdminError: an unknown command, missing words, or a refusal.
        """
        command = self.commands.get(argv[0])
        if command is None:
            names = ", ".join(sorted(self.commands))
            raise AdminError(f"unknown command {argv[0]!r}; try: {names}")
        return await command(argv[1:])

    async def status(self, args: list[str]) -> str:
        """Vital signs as ``key: value`` lines."""
        network, stats = self.network, self.stats
        rates = self.monitor.rates()
        uptime = int(time.time() - self.network.created)
        lines = {
            "version": __version__,
            "pid": os.getpid(),
            "uptime_seconds": uptime,
            "connections": len(network.connections),
            "users": network.user_count,
            "operators": network.mode_counts["o"],
            "channels": len(network.channels),
            "lines_received_per_second": f"{rates['lines_received']:.1f}",
            "lines_sent_per_second": f"{rates['lines_sent']:.1f}",
            "bytes_received_per_second": f"{rates['bytes_received']:.0f}",
            "bytes_sent_per_second": f"{rates['bytes_sent']:.0f}",
            "messages_stored": self.history.stored,
            "store_lag_seconds": f"{stats.store_lag:.4f}",
            "bans": len(self.klines.active()),
            "login_failures": self.accounts.passwords.failed_count,
        }
        cluster = self.cluster
        if cluster is not None:
            bus = cluster.bus
            flushes = bus.turns
            lines |= {
                "node": cluster.node,
                "local_users": network.user_count - cluster.replica.remote_count,
                "remote_users": cluster.replica.remote_count,
                "bus_events_sent": bus.events_out,
                "bus_events_received": bus.events_in,
                "bus_flushes": flushes,
                "bus_flush_ms_average": f"{bus.flush_seconds * 1000 / max(flushes, 1):.3f}",
            }
        return "\n".join(f"{key}: {value}" for key, value in lines.items())

    async def nodes(self, args: list[str]) -> str:
        """The nodes of the network, one per line (a cluster node only)."""
        cluster = self.cluster
        if cluster is None:
            raise AdminError("this server is not a node of a network (no --redis)")
        from redis.exceptions import RedisError

        try:
            async with asyncio.timeout(ROSTER_TIMEOUT):
                roster = await cluster.bus.roster()
        except (RedisError, TimeoutError) as exc:
            raise AdminError(f"cannot read the nodes from Redis: {exc or 'timed out'}") from None
        rows = ["node\tepoch\tlease_age\tusers"]
        for node in roster:
            here = " (this node)" if node.name == cluster.node else ""
            age = node.lease_age(cluster.bus.lease)
            rows.append(f"{node.name}{here}\t{node.epoch}\t{age:.1f}s\t{node.users}")
        return "\n".join(rows)

    async def who(self, args: list[str]) -> str:
        """Who is connected, one user per line."""
        rows = ["nick\taccount\taddress\thost\tchannels"]
        for client in sorted(self.network.clients.values(), key=lambda c: c.nick_folded):
            if not client.registered or isinstance(client.conn, ServiceConnection):
                continue
            oper = "*" if client.is_oper else ""
            channels = ",".join(sorted(c.name for c in client.channels.values()))
            rows.append(
                f"{client.nick}{oper}\t{client.account or '-'}\t{client.ip}\t{client.host}\t"
                f"{channels or '-'}"
            )
        return "\n".join(rows)

    async def kick(self, args: list[str]) -> str:
        """``kick #ROOM NICK [REASON]``"""
        _need(args, 2, "kick #ROOM NICK [REASON]")
        network = self.network
        channel = network.find_channel(args[0])
        if channel is None:
            raise AdminError(f"no channel {args[0]}")
        target = network.find(args[1])
        if target is None or target not in channel.members:
            raise AdminError(f"{args[1]} is not in {channel.name}")
        self._refuse_remote(target)
        reason = " ".join(args[2:]) or "Kicked by the server administrator"
        network.kick(None, channel, target, reason)
        return f"kicked {target.nick} from {channel.name}"

    async def kill(self, args: list[str]) -> str:
        """``kill NICK [REASON]``"""
        _need(args, 1, "kill NICK [REASON]")
        target = self.network.find(args[0])
        if target is None:
            raise AdminError(f"nobody is using the nick {args[0]}")
        if isinstance(target.conn, ServiceConnection):
            raise AdminError(f"{target.nick} is a service")
        self._refuse_remote(target)
        reason = " ".join(args[1:]) or "No reason given"
        target.conn.close(f"Killed by {self.network.name} ({reason})")
        return f"disconnected {target.nick}"

    def _refuse_remote(self, target: Client) -> None:
        """A user of another node of the network is that node's to act on (not shared yet)."""
        if self.cluster is None:
            return
        from chinwag.cluster.remote_link import RemoteLink

        if isinstance(target.conn, RemoteLink):
            raise AdminError(
                f"{target.nick} is on node {target.conn.node}: ask that node (chinwag admin "
                "on its data directory)"
            )

    async def ban(self, args: list[str]) -> str:
        """``ban list | add TARGET [DURATION] [REASON] | remove TARGET``"""
        usage = "ban list | ban add MASK|account:NAME [DURATION] [REASON] | ban remove MASK"
        _need(args, 1, usage)
        action, rest = args[0], args[1:]
        if action == "list":
            now = time.time()
            rows = [
                f"{shown(ban.kind, ban.target)}\t{time_left(ban, now)}\t{ban.set_by}\t{ban.reason}"
                for ban in self.klines.active()
            ]
            return "\n".join(rows) if rows else "no bans"
        _need(rest, 1, usage)
        kind, target = parse_ban_target(rest[0])
        if action == "remove":
            if self.klines.remove(kind, target) is None:
                raise AdminError(f"no ban on {shown(kind, target)}")
            return f"removed the ban on {shown(kind, target)}"
        if action != "add":
            raise AdminError(f"usage: chinwag admin {usage}")
        if not target or target in ("*!*@*", "*"):
            raise AdminError(f"refusing to ban everybody ({rest[0]})")
        words = rest[1:]
        seconds = parse_duration(words[0]) if words else None
        if seconds is not None:
            words = words[1:]
        ban = self.klines.add(
            kind, target, reason=" ".join(words), seconds=seconds or 0, set_by=ADMIN_NAME
        )
        duration = f"for {duration_text(seconds)}" if seconds else "permanently"
        return f"banned {shown(kind, target)} {duration}: {ban.reason}"

    async def reload(self, args: list[str]) -> str:
        """Re-read the configuration."""
        report = self.reloader.reload()
        if not report.ok:
            raise AdminError(report.summary())
        return report.summary()

    async def forget(self, args: list[str]) -> str:
        """``forget NAME``: log its sessions out, then drop the account."""
        _need(args, 1, "forget NAME")
        name_folded = fold(args[0])
        logins = self.accounts.logins
        logged_out = logins.logged_in(name_folded)
        for client in logged_out:
            logins.logout(client)
        try:
            dropped, deleted = await self.store.forget(name_folded)
        except (StoreError, ValueError) as exc:
            raise AdminError(str(exc)) from None
        what = f"dropped the account {args[0]}" if dropped else f"no account {args[0]}"
        sessions = f"; logged out {len(logged_out)} session(s)" if logged_out else ""
        return f"{what}; deleted {deleted} private messages{sessions}"

    async def say(self, args: list[str]) -> str:
        """``say #ROOM|* TEXT``: a NOTICE from the server."""
        _need(args, 2, "say #ROOM|* TEXT")
        network = self.network
        text = " ".join(args[1:])
        if args[0] == "*":
            recipients = [c for c in network.clients.values() if c.registered]
            send_to_all(recipients, Outgoing(network.name, "NOTICE", "*", text))
            return f"told {len(recipients)} users"
        channel = network.find_channel(args[0])
        if channel is None:
            raise AdminError(f"no channel {args[0]}")
        send_to_all(list(channel.members), Outgoing(network.name, "NOTICE", channel.name, text))
        return f"told {len(channel.members)} members of {channel.name}"


def _need(args: list[str], count: int, usage: str) -> None:
    if len(args) < count:
        raise AdminError(f"usage: chinwag admin {usage}")
