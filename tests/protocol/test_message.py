"""Table-driven tests for `parse_line`, `format_line`, tag escaping and `Message` helpers."""

from __future__ import annotations

import pytest

from chinwag.protocol import (
    Message,
    ProtocolError,
    escape_tag_value,
    format_line,
    format_tags,
    parse_line,
    parse_tags,
    unescape_tag_value,
)

# (line as received, the message it must parse to)
PARSE_CASES: list[tuple[str, Message]] = [
    ("PING :irc.example", Message("PING", ("irc.example",))),
    ("PING irc.example", Message("PING", ("irc.example",))),
    ("privmsg #c :hi", Message("PRIVMSG", ("#c", "hi"))),
    ("PrivMsg #c hi", Message("PRIVMSG", ("#c", "hi"))),
    ("CMD", Message("CMD")),
    ("001 amy :Welcome", Message("001", ("amy", "Welcome"))),
    (
        ":irc.example 001 amy :Welcome to chinwag, amy",
        Message("001", ("amy", "Welcome to chinwag, amy"), "irc.example"),
    ),
    (
        ":nick!user@host PRIVMSG #chan :hello world",
        Message("PRIVMSG", ("#chan", "hello world"), "nick!user@host"),
    ),
    # trailing: colons inside, a leading colon kept after the first, spaces kept verbatim
    ("PRIVMSG #c ::-) hi", Message("PRIVMSG", ("#c", ":-) hi"))),
    ("PRIVMSG #c ::", Message("PRIVMSG", ("#c", ":"))),
    ("PRIVMSG #c :a :b :c", Message("PRIVMSG", ("#c", "a :b :c"))),
    ("PRIVMSG #c :  two  spaces  ", Message("PRIVMSG", ("#c", "  two  spaces  "))),
    ("PRIVMSG #c :   ", Message("PRIVMSG", ("#c", "   "))),
    ("PRIVMSG #c :http://x.example:80/", Message("PRIVMSG", ("#c", "http://x.example:80/"))),
    # empty trailing
    ("PRIVMSG #c :", Message("PRIVMSG", ("#c", ""))),
    ("AWAY :", Message("AWAY", ("",))),
    # a colon inside a middle parameter does not start the trailing one
    ("CMD a:b c:d", Message("CMD", ("a:b", "c:d"))),
    ("CMD a: :b", Message("CMD", ("a:", "b"))),
    # many spaces: runs of spaces are one separator, leading and trailing ones ignored
    ("   PRIVMSG    #chan    hi   ", Message("PRIVMSG", ("#chan", "hi"))),
    (":src   CMD   a   b", Message("CMD", ("a", "b"), "src")),
    ("@a=1   :src   CMD   x  :y z", Message("CMD", ("x", "y z"), "src", {"a": "1"})),
    ("CMD a  :", Message("CMD", ("a", ""))),
    ("AWAY ", Message("AWAY")),
    # only the ASCII space separates: tabs, VT, NBSP and other spaces stay in their word
    ("CMD a\tb c", Message("CMD", ("a\tb", "c"))),
    ("CMD a\x0bb\x0cc", Message("CMD", ("a\x0bb\x0cc",))),
    ("CMD a\xa0b a\u2003b", Message("CMD", ("a\xa0b", "a\u2003b"))),
    (":cool\tguy foo bar", Message("FOO", ("bar",), "cool\tguy")),
    # trailing CR LF ignored
    ("PING x\r\n", Message("PING", ("x",))),
    ("PING x\n", Message("PING", ("x",))),
    # command upper-casing is ASCII only (a dotless i stays itself)
    ("pr\u0131vmsg #c x", Message("PR\u0131VMSG", ("#c", "x"))),
    ("stra\xdfe", Message("STRA\xdfE")),
    # numerics stay three digits
    (
        ":s 433 * amy :Nickname is already in use",
        Message("433", ("*", "amy", "Nickname is already in use"), "s"),
    ),
    (
        ":s 353 amy = #lobby :amy @bob +carol",
        Message("353", ("amy", "=", "#lobby", "amy @bob +carol"), "s"),
    ),
    # MODE with a trailing mode argument
    (":op MODE #c +oo a :b", Message("MODE", ("#c", "+oo", "a", "b"), "op")),
    # unicode text
    (
        "PRIVMSG #caf\xe9 :h\xe9llo \u2713 \U0001f600",
        Message("PRIVMSG", ("#caf\xe9", "h\xe9llo \u2713 \U0001f600")),
    ),
    # tags
    (
        "@a=b;c=32;k;rt=ql7 foo",
        Message("FOO", (), None, {"a": "b", "c": "32", "k": "", "rt": "ql7"}),
    ),
    ("@k;e= CMD", Message("CMD", (), None, {"k": "", "e": ""})),
    (
        "@a=b\\sc\\:d\\\\e\\r\\n :s NOTICE x y",
        Message("NOTICE", ("x", "y"), "s", {"a": "b c;d\\e\r\n"}),
    ),
    ("@a=x\\qy\\ CMD", Message("CMD", (), None, {"a": "xqy"})),
    ("@a=1;a=2 CMD", Message("CMD", (), None, {"a": "2"})),
    ("@;a=1;;b CMD", Message("CMD", (), None, {"a": "1", "b": ""})),
    ("@a=b=c CMD", Message("CMD", (), None, {"a": "b=c"})),
    (
        "@+draft/react=\U0001f44d;+typing=active TAGMSG #c",
        Message("TAGMSG", ("#c",), None, {"+draft/react": "\U0001f44d", "+typing": "active"}),
    ),
    (
        "@time=2026-11-25T15:00:00.000Z;msgid=abc :amy!~amy@host PRIVMSG #lobby :hi all",
        Message(
            "PRIVMSG",
            ("#lobby", "hi all"),
            "amy!~amy@host",
            {"time": "2026-11-25T15:00:00.000Z", "msgid": "abc"},
        ),
    ),
    # an empty source (a lone colon) is no source
    (": CMD x", Message("CMD", ("x",))),
]

# (message, the exact line format_line must produce)
FORMAT_CASES: list[tuple[Message, str]] = [
    (Message("CMD"), "CMD"),
    (Message.of("PING", "x"), "PING x"),
    (Message.of("JOIN", "#c"), "JOIN #c"),
    (Message.of("PRIVMSG", "#c", "hello world"), "PRIVMSG #c :hello world"),
    (Message.of("PRIVMSG", "#c", ""), "PRIVMSG #c :"),
    (Message.of("PRIVMSG", "#c", ":)"), "PRIVMSG #c ::)"),
    (Message.of("PRIVMSG", "#c", "a:b"), "PRIVMSG #c a:b"),
    (Message.of("PRIVMSG", "#c", " "), "PRIVMSG #c : "),
    (Message.of("PRIVMSG", "#c", "tab\there"), "PRIVMSG #c tab\there"),
    (Message.of("CMD", "a\tb", "c"), "CMD a\tb c"),
    (Message.of("PRIVMSG", "#c", "h\xe9 \u2713"), "PRIVMSG #c :h\xe9 \u2713"),
    (
        Message.of("PRIVMSG", "#c", "hi all", source="amy!~amy@host"),
        ":amy!~amy@host PRIVMSG #c :hi all",
    ),
    (Message.of("001", "amy", "Welcome", source="srv"), ":srv 001 amy Welcome"),
    (
        Message.of("353", "amy", "=", "#lobby", "amy @bob", source="srv"),
        ":srv 353 amy = #lobby :amy @bob",
    ),
    (Message("MODE", ("#c", "+o", "bob"), "op"), ":op MODE #c +o bob"),
    # the command is sent as given: formatting does not upper-case
    (Message.of("privmsg", "#c", "x"), "privmsg #c x"),
    # an empty source is left out
    (Message("CMD", ("x",), ""), "CMD x"),
    # tags: escaped values, a bare key for an empty value, keys in the mapping's order
    (Message("CMD", (), None, {"k": ""}), "@k CMD"),
    (
        Message("TAGMSG", ("#c",), "s", {"+react": "a b;c\\d\r\n", "flag": ""}),
        "@+react=a\\sb\\:c\\\\d\\r\\n;flag :s TAGMSG #c",
    ),
    (
        Message("PRIVMSG", ("#c", "x y"), "a!b@c", {"time": "2026-11-25T15:00:00.000Z"}),
        "@time=2026-11-25T15:00:00.000Z :a!b@c PRIVMSG #c :x y",
    ),
    (Message("CMD", (), None, {"a": "=;="}), "@a==\\:= CMD"),
]

# (message, why format_line must refuse it)
FORMAT_ERRORS: list[tuple[Message, str]] = [
    (Message.of("CMD", "", "x"), "empty middle"),
    (Message.of("CMD", "a b", "x"), "middle with a space"),
    (Message.of("CMD", ":a", "x"), "middle starting with a colon"),
    (Message.of("PRIVMSG", "#c", "a\rb"), "CR in the trailing"),
    (Message.of("PRIVMSG", "#c", "a\nb"), "LF in the trailing"),
    (Message.of("PRIVMSG", "#c", "a\0b"), "NUL in the trailing"),
    (Message.of("PRIVMSG", "#\n", "x"), "LF in a middle"),
    (Message.of("CMD", source="a\rb"), "CR in the source"),
    (Message.of("CMD", source="a b"), "space in the source"),
    (Message(""), "empty command"),
    (Message("A B"), "space in the command"),
    (Message(":CMD"), "command starting with a colon"),
    (Message("@CMD"), "command starting with an at sign"),
    (Message("CMD\n"), "LF in the command"),
    (Message("CMD", (), None, {"": "x"}), "empty tag key"),
    (Message("CMD", (), None, {"a b": "x"}), "space in a tag key"),
    (Message("CMD", (), None, {"a;b": "x"}), "semicolon in a tag key"),
    (Message("CMD", (), None, {"a=b": "x"}), "equals sign in a tag key"),
    (Message("CMD", (), None, {"a": "x\0"}), "NUL in a tag value"),
]

# lines that hold no command
NO_COMMAND_LINES = [
    "",
    "   ",
    "\r\n",
    "@a=b",
    "@a=b ",
    "@a=b :src",
    ":src",
    ":src ",
    ":src :trailing",
    "@a=b :src :trailing",
]

# (escaped on the wire, the value it stands for)
TAG_VALUE_CASES: list[tuple[str, str]] = [
    ("", ""),
    ("plain", "plain"),
    ("a\\sb", "a b"),
    ("a\\:b", "a;b"),
    ("a\\\\b", "a\\b"),
    ("a\\rb", "a\rb"),
    ("a\\nb", "a\nb"),
    ("\\\\\\\\\\:\\\\s\\s\\r\\n", "\\\\;\\s \r\n"),
    ("value\\\\ntest", "value\\ntest"),
]

# (wire form, how it unescapes) for escapes that are read but never written
LENIENT_UNESCAPES: list[tuple[str, str]] = [
    ("value\\1", "value1"),
    ("value1\\", "value1"),
    ("\\", ""),
    ("a\\b", "ab"),
    ("\\t", "t"),
]


@pytest.mark.parametrize(("line", "expected"), PARSE_CASES, ids=[c[0] for c in PARSE_CASES])
def test_parse_line(line: str, expected: Message) -> None:
    """parse_line reads each table line into exactly the expected message."""
    assert parse_line(line) == expected


@pytest.mark.parametrize(("msg", "expected"), FORMAT_CASES, ids=[c[1] for c in FORMAT_CASES])
def test_format_line(msg: Message, expected: str) -> None:
    """format_line writes each table message as exactly the expected line."""
    assert format_line(msg) == expected


@pytest.mark.parametrize(("msg", "expected"), FORMAT_CASES, ids=[c[1] for c in FORMAT_CASES])
def test_format_then_parse_gives_the_message_back(msg: Message, expected: str) -> None:
    """Every formatted table line parses back to its message, command upper-cased."""
    parsed = parse_line(format_line(msg))
    assert parsed.command == msg.command.upper()
    assert parsed.params == msg.params
    assert parsed.source == (msg.source or None)
    assert dict(parsed.tags) == dict(msg.tags)


@pytest.mark.parametrize(("msg", "why"), FORMAT_ERRORS, ids=[c[1] for c in FORMAT_ERRORS])
def test_format_line_refuses(msg: Message, why: str) -> None:
    """format_line raises ProtocolError rather than emit a line that reads back differently."""
    with pytest.raises(ProtocolError):
        format_line(msg)


@pytest.mark.parametrize("line", NO_COMMAND_LINES)
def test_parse_line_without_command(line: str) -> None:
    """A line that is empty or holds only tags, a source or a trailing is a ProtocolError."""
    with pytest.raises(ProtocolError):
        parse_line(line)


def test_protocol_error_is_a_value_error() -> None:
    """ProtocolError is a ValueError, so generic input-validation handlers catch it."""
    assert issubclass(ProtocolError, ValueError)


@pytest.mark.parametrize(("wire", "value"), TAG_VALUE_CASES)
def test_unescape_tag_value(wire: str, value: str) -> None:
    """unescape_tag_value undoes each IRCv3 escape, reading the value one char at a time."""
    assert unescape_tag_value(wire) == value


@pytest.mark.parametrize(("wire", "value"), TAG_VALUE_CASES)
def test_escape_tag_value(wire: str, value: str) -> None:
    """escape_tag_value writes each special character as its IRCv3 escape."""
    assert escape_tag_value(value) == wire


@pytest.mark.parametrize(("wire", "value"), LENIENT_UNESCAPES)
def test_unknown_escapes_drop_the_backslash(wire: str, value: str) -> None:
    """An unknown escape or a lone final backslash loses the backslash (message-tags spec)."""
    assert unescape_tag_value(wire) == value


def test_escape_leaves_other_characters() -> None:
    """Characters other than ; space \\ CR LF pass through escape_tag_value unchanged."""
    text = "a=b,c:d\t\u2713\U0001f600"
    assert escape_tag_value(text) == text


def test_parse_tags() -> None:
    """parse_tags reads bare keys as empty, keeps the last duplicate and skips empty items."""
    assert parse_tags("a=1;b;c=;a=2;;=x;vendor/a=\\s") == {
        "a": "2",
        "b": "",
        "c": "",
        "vendor/a": " ",
    }


def test_format_tags() -> None:
    """format_tags writes @k=v;k2, escaping values; no tags give an empty string."""
    assert format_tags({}) == ""
    assert format_tags({"a": "1", "b": "", "c": "x y"}) == "@a=1;b;c=x\\sy"


def test_message_of() -> None:
    """Message.of builds a message from positional parameters, without tags."""
    msg = Message.of("PRIVMSG", "#c", "hi", source="amy")
    assert msg == Message("PRIVMSG", ("#c", "hi"), "amy", {})
    assert Message.of("QUIT") == Message("QUIT")


def test_message_param() -> None:
    """Message.param returns a parameter, or the default past the end."""
    msg = Message.of("USER", "amy", "0")
    assert msg.param(0) == "amy"
    assert msg.param(1) == "0"
    assert msg.param(2) == ""
    assert msg.param(5, "x") == "x"


@pytest.mark.parametrize(
    ("source", "nick"),
    [
        (None, None),
        ("amy!~amy@host", "amy"),
        ("amy@host", "amy"),
        ("amy!user", "amy"),
        ("irc.example.com", "irc.example.com"),
        ("!user@host", ""),
    ],
)
def test_source_nick(source: str | None, nick: str | None) -> None:
    """Message.source_nick is the part of the source before ! or @."""
    assert Message("CMD", (), source).source_nick == nick


def test_message_str_is_its_line() -> None:
    """str(message) is its formatted line, without CR LF."""
    assert str(Message.of("PRIVMSG", "#c", "a b", source="s")) == ":s PRIVMSG #c :a b"


def test_messages_compare_by_value() -> None:
    """Two messages with the same fields are equal (a Message is a value, see its docstring)."""
    assert Message.of("PRIVMSG", "#c", "hi", source="s") == Message("PRIVMSG", ("#c", "hi"), "s")
    assert Message.of("PRIVMSG", "#c", "hi") != Message.of("PRIVMSG", "#c", "ho")
