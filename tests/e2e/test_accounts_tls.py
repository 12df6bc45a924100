"""``require_tls_for_auth``: passwords are refused on plain connections, accepted over a real
TLS connection to the server's TLS listener (self-signed certificate in the data directory)."""

from __future__ import annotations

import re
from pathlib import Path

from chinwag.server.tls import ensure_self_signed

from .accounts_support import ServeAccounts, fast_hashing, finish_burst, plain, serve_accounts
from .harness import ANY

__all__ = ["fast_hashing", "serve_accounts"]


async def test_passwords_only_over_tls(serve_accounts: ServeAccounts, tmp_path: Path) -> None:
    """On plain text REGISTER, NickServ and SASL are refused with a clear reason; over TLS
    the same commands work."""
    h = await serve_accounts(
        data_dir=tmp_path,
        server={"tls": True, "tls_port": 0},
        accounts={"require_tls_for_auth": True},
    )
    clear = await h.connect("amy")
    await clear.send("REGISTER * * secret")
    await clear.expect("FAIL", ["REGISTER", "TLS_REQUIRED", "amy", re.compile(".*only over TLS.*")])
    await clear.send("PRIVMSG NickServ :REGISTER secret")
    await clear.expect("NOTICE", ["amy", re.compile(".*only over TLS.*")], source="NickServ")
    await clear.send("PRIVMSG NickServ :IDENTIFY secret")
    await clear.expect("NOTICE", ["amy", re.compile("Login refused: .*TLS.*")], source="NickServ")
    raw = await h.open("raw")
    await raw.send("CAP REQ sasl", "AUTHENTICATE PLAIN")
    await raw.expect("904", ["*", re.compile(".*only over TLS.*")])
    await clear.send("QUIT")
    await clear.expect_closed()

    secure = await h.open_tls("amy")
    await secure.send("NICK amy", "USER amy 0 * :Amy")
    await finish_burst(secure)
    await secure.send("REGISTER * * secret")
    await secure.expect("REGISTER", ["SUCCESS", "amy", ANY])
    await secure.send("WHOIS amy")
    await secure.expect("671")
    await secure.send("QUIT")
    await secure.expect_closed()

    again = await h.open_tls("again")
    await again.send("CAP REQ sasl", "NICK amy", "USER amy 0 * :Amy", "AUTHENTICATE PLAIN")
    await again.expect("AUTHENTICATE", ["+"])
    await again.send(f"AUTHENTICATE {plain('amy', 'secret')}", "CAP END")
    await again.expect("903")
    await finish_burst(again)


async def test_sts_is_offered_with_a_configured_certificate(
    serve_accounts: ServeAccounts, tmp_path: Path
) -> None:
    """sts: port= of the TLS listener on plain text, duration= over TLS; none with only a
    generated self-signed certificate (clients could not verify it)."""
    cert, key = ensure_self_signed(tmp_path / "certs", "test.chinwag")
    h = await serve_accounts(
        data_dir=tmp_path,
        server={"tls_cert": str(cert), "tls_key": str(key), "tls_port": 0},
    )
    clear = await h.open("clear")
    await clear.send("CAP LS 302")
    offered = (await clear.expect("CAP", [ANY, "LS", ANY])).params[-1].split()
    assert f"sts=port={h.server.tls_port}" in offered
    secure = await h.open_tls("secure")
    await secure.send("CAP LS 302")
    offered = (await secure.expect("CAP", [ANY, "LS", ANY])).params[-1].split()
    assert any(cap.startswith("sts=duration=") for cap in offered)
    generated = await serve_accounts(
        data_dir=tmp_path / "other", server={"tls": True, "tls_port": 0}
    )
    plain_client = await generated.open("plain")
    await plain_client.send("CAP LS 302")
    offered = (await plain_client.expect("CAP", [ANY, "LS", ANY])).params[-1].split()
    assert not [cap for cap in offered if cap.startswith("sts")]
