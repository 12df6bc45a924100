"""The lean path: the few commands that are most of all traffic, handled without the general
dispatch, with exactly the bytes and numerics the general path would send.

Theory of operation
-------------------
Nearly every line a busy server reads is a PRIVMSG or NOTICE from a registered user to one nick
or one channel, with no tags; the rest of the traffic is PING and PONG. The general path
(`commands.dispatch`, then `messaging._handle` and `_send_message`) handles every case IRC
allows, and for a plain private message it pays for all of them: a `Context` built per line, the
table look-up and the checks of `dispatch`, the label and tag handling, the target list, the
status prefixes, the bot tag, an ``except`` per target. Profiled with history off and the
compiled core, that was 5.9 us of server CPU per private message
(bench/results/compiled-core/profile-privmsg-compiled.md), against ngircd's 1.3.

`FastPath.handle` takes a line only when it is sure of the outcome and otherwise declines
(returns False), and the general path runs as before. It declines anything with tags (a label,
client tags), a bot's message (user mode +B: it carries a tag), an unregistered sender, several
targets, status prefixes (``@#chan``), an unknown target or a channel the sender may not speak
in (the general path sends the numeric), a silent member of a delayed-join room (its JOIN is
shown first), a message to a service, and every message while the history store is failing.
What it does run, it runs through the same functions the general path uses (`fit_relayed`,
`Outgoing` or its plain-message case `Outgoing.message`, `new_msgid`, `send_to_channel`,
`Channel.can_speak`, ``History.record``, ``Network.send_from_server``), so there is one
formatting and one set of rules; only the routing is shorter. On a node of a network the line
goes through ``Network.observer.relay`` as on the general path (delivered here when the network
hands it back, or at once when it has nowhere else to go). The general path stays the reference:
``tests/server/test_fast_path.py`` feeds the same random sessions to a server with the fast path
and to one without it, and compares every byte every client receives.
"""

from __future__ import annotations

from functools import partial

from chinwag.protocol import DecodeError, Message, fold
from chinwag.protocol.numerics import RPL_AWAY
from chinwag.server.commands.messaging import fit_relayed
from chinwag.server.commands.who import BOT_MODE
from chinwag.server.fanout import Outgoing, new_msgid, send_to_channel
from chinwag.server.history import History
from chinwag.server.network import Network
from chinwag.server.services import ServiceConnection
from chinwag.server.state import Cap, Channel, Client

__all__ = ["FastPath"]

_MESSAGES = frozenset({"PRIVMSG", "NOTICE"})


def _deliver(
    sender: Client, channel: Channel | None, recipient: Client | None, outgoing: Outgoing
) -> None:
    """Send ``outgoing`` where `messaging._send_message` would, for the cases this path takes
    (one target, no status prefix, no TAGMSG, no label)."""
    echo = sender.caps & Cap.ECHO_MESSAGE
    if channel is not None:
        if send_to_channel(channel, outgoing, sender, echo=bool(echo)):
            return
    elif recipient is not None and not (echo and recipient is sender):
        recipient.send(outgoing.line_for(recipient))  # a note to self comes once, as the echo
    if echo:
        sender.send(outgoing.line_for(sender))


class FastPath:
    """Runs the common lines without the general dispatch (see the module header).

    Args:
        network: who is connected and where.
        history: stores messages (and, when durable, delivers them after the commit).
    """

    __slots__ = ("_channels", "_clients", "history", "network")

    def __init__(self, network: Network, history: History) -> None:
        self.network = network
        self.history = history
        # The registries themselves (never replaced, only changed): one attribute look-up less
        # per message than going through the network each time.
        self._clients = network.clients
        self._channels = network.channels

    def handle(self, client: Client, item: Message | DecodeError) -> bool:
        """Run ``item`` from ``client`` if it is a common case; False to leave it to dispatch."""
        # `type(...) is` and a plain bool: the cheapest tests that rule out a DecodeError, a
        # tagged line and an unregistered client (whose lines may complete registration).
        if type(item) is not Message or item.tags or not client.registered:
            return False
        command = item.command
        if command in _MESSAGES:
            return self._message(client, command, item.params)
        if command == "PING":
            params = item.params
            if not params or not params[0]:
                return False  # 409, from the general path
            network = self.network
            network.send_from_server(client, "PONG", network.name, params[0])
            return True
        # Any input is already a sign of life (`Connection.data_received`): nothing to do.
        return command == "PONG"

    def _message(self, client: Client, command: str, params: tuple[str, ...]) -> bool:
        if len(params) != 2:
            return False
        target, text = params
        if not target or not text or "," in target or BOT_MODE in client.modes:
            return False  # (a bot's messages carry the bot tag)
        channel: Channel | None = None
        recipient: Client | None = None
        if target[0] == "#":
            # A key of the registries is a folded name, so a hit on the name as typed is the
            # right entry (fold is idempotent): no fold for the usual lower-case target, where
            # fold was 0.08 us per message in the profile.
            channels = self._channels
            channel = channels.get(target) or channels.get(fold(target))
            if channel is None or not channel.can_speak(client):
                return False
            if channel.hidden and client in channel.hidden:
                return False  # a silent member of a delayed-join room: its JOIN comes first
            shown = channel.name
        elif target[0] in "@+":
            return False
        else:
            clients = self._clients
            recipient = clients.get(target) or clients.get(fold(target))  # as for channels
            if (
                recipient is None
                or not recipient.registered
                or isinstance(recipient.conn, ServiceConnection)
            ):
                return False
            shown = recipient.nick
        history = self.history
        if history.health.failing:
            return False  # the store is failing: the general path refuses the message
        relayed = fit_relayed(client, command, shown, text)
        outgoing = Outgoing.message(
            client.prefix, command, shown, relayed, msgid=new_msgid(), account=client.account
        )
        # The general path reads the clock for this too: once is enough.
        client.last_active = outgoing.time
        # Stored before it is delivered: one that cannot be stored is not delivered (the
        # sender is told). Profiled with history off: calling `History.record` only for it to
        # return cost 0.11 us per message.
        if history.enabled and not history.record(
            client, channel, recipient, outgoing, shown, command, relayed
        ):
            return True
        observer = self.network.observer
        if observer is None or not observer.relay(
            client,
            channel,
            recipient,
            outgoing,
            partial(_deliver, client, channel, recipient, outgoing),
            target_name=shown,
            command=command,
            text=relayed,
        ):
            _deliver(client, channel, recipient, outgoing)  # now: nothing to route
        if recipient is not None and recipient.away is not None and command == "PRIVMSG":
            self.network.numeric(client, RPL_AWAY, recipient.nick, recipient.away)
        return True
