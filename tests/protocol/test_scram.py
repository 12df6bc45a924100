"""SCRAM-SHA-256, server side: the RFC 7677 exchange byte for byte, a client written from the RFC
against it for any password, and every malformed message refused with its ``e=`` value."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chinwag.protocol.scram import ScramCredentials, ScramError, ServerExchange, credentials

# RFC 7677 section 3.
USER, PASSWORD = "user", b"pencil"
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO"
SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
CLIENT_FIRST = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_FIRST = (
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
CLIENT_FINAL = (
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def _rfc_credentials() -> ScramCredentials:
    return credentials(PASSWORD, SALT, 4096)


def test_rfc7677_exchange() -> None:
    """The server answers the RFC 7677 example exactly."""
    exchange = ServerExchange(nonce=SERVER_NONCE)
    assert exchange.parse_first(CLIENT_FIRST) == USER
    assert exchange.first(_rfc_credentials()) == SERVER_FIRST
    assert exchange.final(CLIENT_FINAL, _rfc_credentials()) == SERVER_FINAL


def test_a_wrong_proof_is_invalid_proof() -> None:
    """The same exchange with another password's credentials: e=invalid-proof."""
    exchange = ServerExchange(nonce=SERVER_NONCE)
    exchange.parse_first(CLIENT_FIRST)
    other = credentials(b"pencils", SALT, 4096)
    exchange.first(other)
    with pytest.raises(ScramError, match="invalid-proof"):
        exchange.final(CLIENT_FINAL, other)


def test_credentials_survive_their_text_form() -> None:
    """encode/decode is lossless (one column in the store)."""
    creds = credentials(b"secret words")
    assert ScramCredentials.decode(creds.encode()) == creds


def _client_final(password: bytes, client_first_bare: str, server_first: str) -> str:
    """What an RFC 5802 client sends, computed from the RFC's formulas (not the server's code)."""
    attrs = dict(part.split("=", 1) for part in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password, base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = f"c=biws,r={attrs['r']}"
    auth = f"{client_first_bare},{server_first},{without_proof}".encode()
    signature = hmac.digest(stored_key, auth, "sha256")
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    return f"{without_proof},p={base64.b64encode(proof).decode()}"


@settings(max_examples=25, deadline=None)
@given(password=st.binary(min_size=1, max_size=64), wrong=st.binary(min_size=1, max_size=64))
def test_any_password_logs_in_and_only_it(password: bytes, wrong: bytes) -> None:
    """For any password, an RFC client with it is accepted; with another one it is refused."""
    creds = credentials(password, iterations=16)
    for attempt, accepted in ((password, True), (wrong, wrong == password)):
        exchange = ServerExchange()
        exchange.parse_first("n,,n=amy,r=abc")
        server_first = exchange.first(creds)
        final = _client_final(attempt, "n=amy,r=abc", server_first)
        if accepted:
            assert exchange.final(final, creds).startswith("v=")
        else:
            with pytest.raises(ScramError, match="invalid-proof"):
                exchange.final(final, creds)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("p=tls-unique,,n=user,r=abc", "channel-bindings-not-supported"),
        ("x,,n=user,r=abc", "invalid-encoding"),
        ("n,,r=abc", "invalid-encoding"),
        ("n,,m=ext,n=user,r=abc", "extensions-not-supported"),
        ("n,,n=us=er,r=abc", "invalid-username-encoding"),
        ("n,,n=user,r=", "invalid-encoding"),
        ("garbage", "invalid-encoding"),
    ],
)
def test_bad_client_first(message: str, error: str) -> None:
    """Malformed client-first messages are refused with the RFC's error names."""
    with pytest.raises(ScramError, match=error):
        ServerExchange().parse_first(message)


def test_escaped_user_and_authzid() -> None:
    """=2C and =3D in names are a comma and an equals sign; a= gives the authzid."""
    exchange = ServerExchange()
    assert exchange.parse_first("n,a=b=3Dc,n=a=2Cb,r=abc") == "a,b"
    assert exchange.authzid == "b=c"


@pytest.mark.parametrize(
    "final",
    [
        "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
        "c=biws,r=wrong,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=!!",
    ],
)
def test_bad_client_final(final: str) -> None:
    """A wrong binding, nonce, missing or undecodable proof is refused."""
    exchange = ServerExchange(nonce=SERVER_NONCE)
    exchange.parse_first(CLIENT_FIRST)
    exchange.first(_rfc_credentials())
    with pytest.raises(ScramError):
        exchange.final(final, _rfc_credentials())
