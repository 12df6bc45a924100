"""SASL SCRAM-SHA-256 over AUTHENTICATE: the password never crosses the wire.

The exchange (``protocol/scram.py``) takes three client messages, each base64 in 400-byte
chunks like PLAIN's response:

1. client-first: the account's stored credentials are looked up (off the loop; the client's
   later lines wait, `Context.wait_for`) and the server answers server-first. An unknown account,
   or one whose credentials do not exist yet (its password predates them, until its next PLAIN
   login), gets made-up credentials, so that the answer does not tell which accounts exist; it
   then fails at the proof like a wrong password.
2. client-final: the proof is checked within the failed-login budget (as PLAIN's password);
   the server answers server-final, which proves it knew the password too.
3. ``AUTHENTICATE +``: the client accepted the server's proof; 900 and 903 follow.
"""

from __future__ import annotations

import base64
import secrets

from chinwag.protocol import fold
from chinwag.protocol.numerics import ERR_SASLFAIL, RPL_SASLSUCCESS
from chinwag.protocol.scram import (
    DEFAULT_ITERATIONS,
    ScramCredentials,
    ScramError,
    ServerExchange,
)
from chinwag.server.commands.base import Context
from chinwag.server.logins import SaslSession
from chinwag.server.state import RegState
from chinwag.store import StoreError

__all__ = ["SCRAM", "scram_step"]

SCRAM = "SCRAM-SHA-256"


def _send(ctx: Context, message: str) -> None:
    ctx.send("AUTHENTICATE", base64.b64encode(message.encode()).decode())


def _fail(ctx: Context, reason: str) -> None:
    ctx.accounts.logins.sasl.pop(ctx.client, None)
    ctx.reply(ERR_SASLFAIL, f"SASL authentication failed: {reason}")


def scram_step(ctx: Context, session: SaslSession, message: str) -> None:
    """Take the next client message of a SCRAM-SHA-256 exchange (decoded from base64)."""
    exchange = session.scram
    if exchange is None:
        exchange = session.scram = ServerExchange()
        try:
            name = exchange.parse_first(message)
        except ScramError as exc:
            _fail(ctx, f"malformed SCRAM message ({exc})")
            return
        if exchange.authzid and fold(exchange.authzid) != fold(name):
            _fail(ctx, "you may only log in as yourself (authzid must be empty or the account)")
            return
        session.verifying = True
        ctx.wait_for(_server_first(ctx, session, exchange, name))
    elif not exchange.done:
        session.verifying = True
        ctx.wait_for(_server_final(ctx, session, exchange, message))
    elif message:
        _fail(ctx, "the last SCRAM message is AUTHENTICATE +")
    else:
        _log_in(ctx, session)


async def _server_first(
    ctx: Context, session: SaslSession, exchange: ServerExchange, name: str
) -> None:
    accounts = ctx.accounts
    try:
        account = await ctx.store.accounts.get(fold(name)) if len(name) <= 200 else None
    except StoreError:
        account = None
    session.verifying = False
    if accounts.logins.sasl.get(ctx.client) is not session or ctx.client.state is RegState.CLOSED:
        return  # aborted meanwhile
    creds: ScramCredentials
    if account is not None and account.scram:
        session.account = account
        creds = ScramCredentials.decode(account.scram)
    else:  # made up: the answer must look the same whether the account exists or not
        creds = ScramCredentials(
            secrets.token_bytes(16), DEFAULT_ITERATIONS, secrets.token_bytes(32), b""
        )
    _send(ctx, exchange.first(creds))


async def _server_final(
    ctx: Context, session: SaslSession, exchange: ServerExchange, message: str
) -> None:
    accounts = ctx.accounts
    client = ctx.client
    creds = exchange.credentials
    assert creds is not None

    async def attempt() -> str | None:
        try:
            answer = exchange.final(message, creds)
        except ScramError:
            return None
        return answer if session.account is not None else None

    answer, refusal = await accounts.passwords.throttled(
        client, f"account:{fold(exchange.username)}", attempt
    )
    session.verifying = False
    if accounts.logins.sasl.get(client) is not session or client.state is RegState.CLOSED:
        return
    if answer is None:
        _fail(ctx, refusal or "invalid account name or password")
        return
    _send(ctx, answer)


def _log_in(ctx: Context, session: SaslSession) -> None:
    from chinwag.server.commands.registration import try_register

    accounts = ctx.accounts
    client = ctx.client
    del accounts.logins.sasl[client]
    account = session.account
    assert account is not None
    if client.account is None and accounts.logins.login(client, account):
        ctx.reply(RPL_SASLSUCCESS, "SASL authentication successful")
    if not client.registered and not client.conn.closing:
        try_register(ctx)
