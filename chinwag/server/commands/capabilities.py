"""IRCv3 capability negotiation: the capability table and CAP LS, LIST, REQ and END.

While a client negotiates (from ``CAP LS`` or ``CAP REQ`` until ``CAP END``) its registration
waits; `dispatch` completes it after ``CAP END`` when nothing else holds it.
"""

from __future__ import annotations

from chinwag.protocol import Message, parse_count
from chinwag.protocol.numerics import ERR_INVALIDCAPCMD
from chinwag.server.commands.base import CommandSpec, Context
from chinwag.server.logins import MECHANISMS
from chinwag.server.state import Cap

__all__ = ["CAPABILITIES", "COMMANDS"]

# Capability name -> flag. Order is the order of CAP LS.
CAPABILITIES: dict[str, int] = {
    "account-notify": Cap.ACCOUNT_NOTIFY,
    "account-tag": Cap.ACCOUNT_TAG,
    "away-notify": Cap.AWAY_NOTIFY,
    "batch": Cap.BATCH,
    "cap-notify": Cap.CAP_NOTIFY,
    "draft/chathistory": Cap.CHATHISTORY,
    "draft/account-registration": Cap.ACCOUNT_REGISTRATION,
    "draft/no-implicit-names": Cap.NO_IMPLICIT_NAMES,
    "echo-message": Cap.ECHO_MESSAGE,
    "extended-join": Cap.EXTENDED_JOIN,
    "extended-monitor": Cap.EXTENDED_MONITOR,
    "invite-notify": Cap.INVITE_NOTIFY,
    "labeled-response": Cap.LABELED_RESPONSE,
    "message-tags": Cap.MESSAGE_TAGS,
    "multi-prefix": Cap.MULTI_PREFIX,
    "sasl": Cap.SASL,
    "server-time": Cap.SERVER_TIME,
    "setname": Cap.SETNAME,
    "userhost-in-names": Cap.USERHOST_IN_NAMES,
}
_CAP_LS_CHUNK = 400
# Offered only while accounts are enabled; values are shown to CAP LS 302 clients.
_ACCOUNT_CAPS = frozenset({"sasl", "draft/account-registration"})
# draft/account-registration: REGISTER works before the connection is complete (after NICK);
# the account is named after the nick (no custom-account-name) and the email is optional.
_CAP_VALUES = {"sasl": MECHANISMS, "draft/account-registration": "before-connect"}

STS_DURATION = 30 * 86400
"""How long (seconds) a client keeps to TLS once it saw the ``sts`` policy on a TLS connection."""


def _capabilities(ctx: Context) -> dict[str, int]:
    """The capabilities this server offers now (account ones only with accounts enabled; ``sts``
    only with a configured certificate: a self-signed one would lock clients out, as STS
    forbids accepting an unverified certificate)."""
    offered = CAPABILITIES
    if not ctx.accounts.enabled:
        offered = {name: flag for name, flag in offered.items() if name not in _ACCOUNT_CAPS}
    if ctx.config.server.tls_cert:
        offered = {**offered, "sts": Cap.NONE}
    return offered


def _cap_value(ctx: Context, name: str) -> str | None:
    """The value CAP LS 302 shows for capability ``name``, if it has one."""
    if name == "sts":  # on plain text: where to upgrade; over TLS: how long to stay
        if ctx.client.conn.tls:
            return f"duration={STS_DURATION}"
        return f"port={ctx.accounts.passwords.tls_port() or ctx.config.server.tls_port}"
    return _CAP_VALUES.get(name)


def handle_cap(ctx: Context, msg: Message) -> None:
    """CAP <LS [version] | LIST | REQ :caps | END>"""
    client = ctx.client
    sub = msg.params[0].upper()
    if sub == "LS":
        version = msg.param(1)
        if not client.registered:
            client.cap_negotiating = True
        number = parse_count(version)
        if number is not None:
            client.cap_version = max(client.cap_version, number)
        if client.cap_version >= 302:
            client.caps |= Cap.CAP_NOTIFY
        names = list(_capabilities(ctx))
        if client.cap_version >= 302:
            values = {n: _cap_value(ctx, n) for n in names}
            names = [n if values[n] is None else f"{n}={values[n]}" for n in names]
        _send_cap_list(ctx, "LS", names)
    elif sub == "LIST":
        enabled = [name for name, flag in CAPABILITIES.items() if client.caps & flag]
        _send_cap_list(ctx, "LIST", enabled)
    elif sub == "REQ":
        if not client.registered:
            client.cap_negotiating = True
        _cap_req(ctx, msg.param(1))
    elif sub == "END":
        if not client.registered:
            client.cap_negotiating = False  # dispatch then completes registration, if due
    else:
        ctx.reply(ERR_INVALIDCAPCMD, msg.params[0], "Invalid CAP command")


def _send_cap_list(ctx: Context, sub: str, names: list[str]) -> None:
    chunks: list[str] = []
    current = ""
    for name in names:
        if current and len(current) + len(name) + 1 > _CAP_LS_CHUNK:
            chunks.append(current)
            current = ""
        current = f"{current} {name}" if current else name
    chunks.append(current)
    nick = ctx.client.nick
    multiline = ctx.client.cap_version >= 302
    for index, chunk in enumerate(chunks):
        if multiline and index < len(chunks) - 1:
            ctx.send("CAP", nick, sub, "*", chunk)
        else:
            ctx.send("CAP", nick, sub, chunk)


def _cap_req(ctx: Context, requested: str) -> None:
    client = ctx.client
    add = Cap.NONE
    remove = Cap.NONE
    for token in requested.split():
        name = token.lstrip("-")
        flag = _capabilities(ctx).get(name.lower())
        if flag is None or (token.startswith("-") and flag == Cap.CAP_NOTIFY):
            ctx.send("CAP", client.nick, "NAK", requested)
            return
        if token.startswith("-"):
            remove |= flag
        else:
            add |= flag
    client.caps = (client.caps | add) & ~remove
    # Each capability once: the same request, and a reply that cannot outgrow the line.
    ctx.send("CAP", client.nick, "ACK", " ".join(dict.fromkeys(requested.split())))


COMMANDS: dict[str, CommandSpec] = {
    "CAP": CommandSpec(handle_cap, min_params=1, before_registration=True),
}
