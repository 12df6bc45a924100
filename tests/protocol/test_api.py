"""Guards on the shape of chinwag.protocol: the exported names, and no I/O imports."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import chinwag.protocol
from chinwag.protocol import numerics

PACKAGE_DIR = Path(chinwag.protocol.__file__).parent

# The server and the client are built on these names: removing one breaks them.
EXPORTED = {
    "CASEMAPPING",
    "MAX_BODY_BYTES",
    "MAX_TAGS_BYTES",
    "DecodeError",
    "DecodeErrorKind",
    "LineDecoder",
    "Message",
    "ProtocolError",
    "decode_text",
    "encode_message",
    "escape_tag_value",
    "fold",
    "format_line",
    "format_server_time",
    "format_tags",
    "is_valid_channel",
    "is_valid_nick",
    "isupport_lines",
    "mask_matches",
    "normalize_mask",
    "parse_isupport",
    "parse_line",
    "parse_server_time",
    "parse_tags",
    "sanitize_username",
    "unescape_tag_value",
}

SIGNATURES = {
    "parse_line": "(line: 'str') -> 'Message'",
    "format_line": "(msg: 'Message') -> 'str'",
    "encode_message": "(msg: 'Message') -> 'bytes'",
    "fold": "(name: 'str') -> 'str'",
    "mask_matches": "(mask: 'str', subject: 'str') -> 'bool'",
    "is_valid_nick": "(nick: 'str', max_length: 'int') -> 'bool'",
    "is_valid_channel": "(name: 'str', max_length: 'int') -> 'bool'",
    "isupport_lines": "(tokens: 'Mapping[str, str | None]') -> 'list[list[str]]'",
    "parse_isupport": (
        "(params: 'Iterable[str]', into: 'dict[str, str] | None' = None) -> 'dict[str, str]'"
    ),
}

FORBIDDEN_IMPORTS = {"asyncio", "socket", "selectors", "ssl", "sqlite3", "redis", "textual"}


def test_exported_names() -> None:
    """chinwag.protocol exports every name the server and the client rely on."""
    assert set(chinwag.protocol.__all__) >= EXPORTED
    for name in chinwag.protocol.__all__:
        assert hasattr(chinwag.protocol, name)


@pytest.mark.parametrize(("name", "signature"), SIGNATURES.items())
def test_signatures(name: str, signature: str) -> None:
    """The main functions keep their signatures."""
    assert str(inspect.signature(getattr(chinwag.protocol, name))) == signature


@pytest.mark.parametrize("path", sorted(PACKAGE_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_io_imports(path: Path) -> None:
    """The protocol package stays sans-I/O: no asyncio, sockets, databases or UI."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN_IMPORTS


def test_numerics_are_three_digits() -> None:
    """Every RPL_/ERR_ constant is a three-digit string, and no code has two names."""
    constants = {k: v for k, v in vars(numerics).items() if k.startswith(("RPL_", "ERR_"))}
    assert len(constants) > 50
    for value in constants.values():
        assert len(value) == 3 and value.isdigit()
    assert len(set(constants.values())) == len(constants)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("RPL_WELCOME", "001"),
        ("RPL_ISUPPORT", "005"),
        ("RPL_NAMREPLY", "353"),
        ("RPL_ENDOFNAMES", "366"),
        ("ERR_NOSUCHNICK", "401"),
        ("ERR_NOSUCHCHANNEL", "403"),
        ("ERR_CANNOTSENDTOCHAN", "404"),
        ("ERR_INPUTTOOLONG", "417"),
        ("ERR_UNKNOWNCOMMAND", "421"),
        ("ERR_ERRONEUSNICKNAME", "432"),
        ("ERR_NICKNAMEINUSE", "433"),
        ("ERR_NEEDMOREPARAMS", "461"),
        ("ERR_CHANOPRIVSNEEDED", "482"),
        ("RPL_SASLSUCCESS", "903"),
    ],
)
def test_numeric_values(name: str, code: str) -> None:
    """The numerics the design names have their RFC and ircdocs codes."""
    assert getattr(numerics, name) == code
