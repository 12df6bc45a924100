"""Logging in and registering from the protocol: AUTHENTICATE (IRCv3 SASL PLAIN, and
SCRAM-SHA-256 in ``sasl_scram.py``) and
REGISTER / VERIFY (IRCv3 ``draft/account-registration``).

SASL: ``AUTHENTICATE PLAIN`` opens an exchange and the server answers ``AUTHENTICATE +``; the
client sends base64 of ``authzid NUL authcid NUL password`` in 400-byte chunks (a chunk of
exactly 400 bytes is followed by more, or by ``AUTHENTICATE +``). The password check runs off
the event loop; while it runs, connection registration waits (``CAP END`` does not complete it
until the answer, 903 or 904, has been sent). An exchange left half-way when registration
completes is aborted with 906, as the specification asks.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from chinwag.protocol import Message, fold
from chinwag.protocol.numerics import (
    ERR_SASLABORTED,
    ERR_SASLALREADY,
    ERR_SASLFAIL,
    ERR_SASLTOOLONG,
    RPL_SASLMECHS,
    RPL_SASLSUCCESS,
)
from chinwag.server.commands.base import CommandSpec, Context
from chinwag.server.commands.labels import LateReply, defer_reply
from chinwag.server.commands.registration import try_register
from chinwag.server.commands.sasl_scram import scram_step
from chinwag.server.errors import IrcError
from chinwag.server.logins import MECHANISMS, SCRAM, SaslSession
from chinwag.server.state import Cap, RegState
from chinwag.store import InvalidPasswordError, check_password

__all__ = ["COMMANDS"]

_MECHANISMS = frozenset(MECHANISMS.split(","))
_CHUNK = 400
# Base64 of the longest sensible PLAIN response: two 200-byte names and a 1024-byte password
# (store.MAX_PASSWORD_BYTES), so five AUTHENTICATE chunks at most.
_MAX_RESPONSE = 2000


def _fail(ctx: Context, reason: str) -> IrcError:
    ctx.accounts.logins.sasl.pop(ctx.client, None)
    return IrcError(ERR_SASLFAIL, f"SASL authentication failed: {reason}")


def handle_authenticate(ctx: Context, msg: Message) -> None:
    """AUTHENTICATE <mechanism> | AUTHENTICATE <base64 chunk> | AUTHENTICATE + | AUTHENTICATE *"""
    client = ctx.client
    accounts = ctx.accounts
    data = msg.params[0]
    if not accounts.enabled or not client.caps & Cap.SASL:
        raise IrcError(ERR_SASLFAIL, "SASL authentication failed: enable the sasl capability first")
    if client.account is not None:
        raise IrcError(ERR_SASLALREADY, "You have already authenticated")
    session = accounts.logins.sasl.get(client)
    if data == "*":
        accounts.logins.sasl.pop(client, None)
        raise IrcError(ERR_SASLABORTED, "SASL authentication aborted")
    if session is None:
        mechanism = data.upper()
        if mechanism not in _MECHANISMS:
            ctx.reply(RPL_SASLMECHS, MECHANISMS, "are available SASL mechanisms")
            raise _fail(ctx, f"mechanism {data[:20]} is not supported")
        refusal = accounts.passwords.tls_refusal(client)
        if refusal is not None:
            raise _fail(ctx, refusal)
        accounts.logins.sasl[client] = SaslSession(mechanism)
        ctx.send("AUTHENTICATE", "+")
        return
    if session.verifying:
        return  # the answer to the response already sent is on its way
    if len(data) > _CHUNK:
        accounts.logins.sasl.pop(client, None)
        raise IrcError(ERR_SASLTOOLONG, "SASL message too long")
    if data != "+":
        session.buffer += data
    if len(session.buffer) > _MAX_RESPONSE:
        accounts.logins.sasl.pop(client, None)
        raise IrcError(ERR_SASLTOOLONG, "SASL message too long")
    if len(data) == _CHUNK:
        return  # more chunks follow, or "+"
    if session.mechanism == SCRAM:
        _next_scram_message(ctx, session)
        return
    _finish_plain(ctx, session)


def _next_scram_message(ctx: Context, session: SaslSession) -> None:
    """Decode one complete SCRAM message and take the exchange's next step."""
    encoded, session.buffer = session.buffer, ""
    try:
        message = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise _fail(ctx, "the response is not valid base64 of UTF-8") from None
    scram_step(ctx, session, message)


def _finish_plain(ctx: Context, session: SaslSession) -> None:
    """Check a complete PLAIN response (RFC 4616) and start the password check."""
    try:
        raw = base64.b64decode(session.buffer, validate=True)
    except (binascii.Error, ValueError):
        raise _fail(ctx, "the response is not valid base64") from None
    parts = raw.split(b"\x00")
    if len(parts) != 3:
        raise _fail(ctx, "a PLAIN response is authzid NUL authcid NUL password")
    try:
        authzid, authcid = parts[0].decode("utf-8"), parts[1].decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(ctx, "the account name is not valid UTF-8") from None
    if not authcid:
        raise _fail(ctx, "no account name given")
    if authzid and fold(authzid) != fold(authcid):
        raise _fail(ctx, "you may only log in as yourself (authzid must be empty or the account)")
    password = parts[2]
    try:
        check_password(password)
    except InvalidPasswordError as exc:
        raise _fail(ctx, f"password refused ({exc.problem.value})") from None
    session.verifying = True
    late = defer_reply(ctx) if ctx.label else None
    ctx.wait_for(_verify(ctx, session, authcid, password, late))


def _answer(ctx: Context, late: LateReply | None, answer: Callable[[], object]) -> None:
    """Run ``answer``; what it sends the client is the command's late (labeled) reply."""
    if late is None:
        answer()
        return
    conn = ctx.client.conn
    conn.capture()
    try:
        answer()
    finally:
        late.finish(conn.release())


async def _verify(
    ctx: Context, session: SaslSession, name: str, password: bytes, late: LateReply | None
) -> None:
    client = ctx.client
    accounts = ctx.accounts
    try:
        result = await accounts.passwords.check_password(client, name, password)
    finally:
        aborted = accounts.logins.sasl.get(client) is not session  # AUTHENTICATE * meanwhile
        if not aborted:
            del accounts.logins.sasl[client]
        if late is not None and (aborted or client.state is RegState.CLOSED):
            late.finish()
    if client.state is RegState.CLOSED:
        return
    account = None if aborted else result.account

    def answer() -> None:
        if aborted:
            return
        if account is None:
            ctx.reply(ERR_SASLFAIL, f"SASL authentication failed: {result.error}")
        elif client.account is None and accounts.logins.login(client, account):
            ctx.reply(RPL_SASLSUCCESS, "SASL authentication successful")

    _answer(ctx, late, answer)
    if not client.registered and not client.conn.closing:
        try_register(ctx)


# -- draft/account-registration --------------------------------------------------------------------


def _register_fail(ctx: Context, code: str, account: str, text: str) -> None:
    ctx.send("FAIL", "REGISTER", code, account, text)


def handle_register(ctx: Context, msg: Message) -> None:
    """REGISTER <account> {<email> | *} <password>"""
    client = ctx.client
    if client.nick == "*":  # before-connect: the account is named after the nick, so NICK first
        ctx.send("FAIL", "REGISTER", "COMPLETE_CONNECTION_REQUIRED", "Send NICK first")
        return
    name, email_param, password = msg.params[0], msg.params[1], msg.params[2]
    if name != "*" and fold(name) != client.nick_folded:
        _register_fail(
            ctx, "ACCOUNT_NAME_MUST_BE_NICK", name, "The account name must be your current nick"
        )
        return
    nick = client.nick
    email = None if email_param == "*" else email_param
    accounts = ctx.accounts
    refusal = accounts.logins.registration_refusal(client, nick, email, password)
    if refusal is not None:
        _register_fail(ctx, refusal[0], nick, refusal[1])
        return

    late = defer_reply(ctx) if ctx.label else None

    async def run() -> None:
        try:
            created = await accounts.logins.register(client, nick, email, password)
        except BaseException:
            if late is not None:
                late.finish()
            raise

        def answer() -> None:
            if isinstance(created, tuple):
                _register_fail(ctx, created[0], nick, created[1])
            elif accounts.logins.login(client, created):
                ctx.send("REGISTER", "SUCCESS", nick, "Account created; you are logged in")

        _answer(ctx, late, answer)

    ctx.wait_for(run())


def handle_verify(ctx: Context, msg: Message) -> None:
    """VERIFY <account> <code>: accounts here need no verification, so no code is valid."""
    client = ctx.client
    if not client.registered:
        ctx.send("FAIL", "VERIFY", "COMPLETE_CONNECTION_REQUIRED", "Verify after connecting")
    elif client.account is not None:
        ctx.send("FAIL", "VERIFY", "ALREADY_AUTHENTICATED", client.account, "You are logged in")
    else:
        ctx.send(
            "FAIL", "VERIFY", "INVALID_CODE", msg.params[0], "Accounts here need no verification"
        )


COMMANDS: dict[str, CommandSpec] = {
    "AUTHENTICATE": CommandSpec(handle_authenticate, min_params=1, before_registration=True),
    "REGISTER": CommandSpec(handle_register, min_params=3, before_registration=True),
    "VERIFY": CommandSpec(handle_verify, min_params=2, before_registration=True),
}
