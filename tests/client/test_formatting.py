"""mIRC formatting parsed into spans: styles and colours, never digits left in the text."""

from __future__ import annotations

import itertools
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chinwag.client.formatting import COLOURS, PLAIN, Code, Format, Span, parse, strip, to_ansi
from chinwag.client.safety import FORMATTING_CODES

from .hostile import RAW_CONTROL

RED, BLUE, DEFAULT = COLOURS[4], COLOURS[2], None
formatted = st.text(
    st.one_of(
        st.characters(), st.sampled_from("\x02\x03\x04\x0f\x11\x16\x1d\x1e\x1f,0123456789aF")
    ),
    max_size=120,
)

# Properties, not timings: a loaded CI machine must not fail them for being slow.
PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_colour_code_is_a_colour_not_digits() -> None:
    """\\x034RED shows RED in red: the 4 is the colour, not text."""
    assert parse("\x034RED") == [Span("RED", Format(fg=RED))]


def test_foreground_and_background() -> None:
    """\\x03FG,BG sets both; two digits at most (the third is text); BG stays until reset."""
    assert parse("\x0304,02hi\x03123") == [
        Span("hi", Format(fg=RED, bg=BLUE)),
        Span("3", Format(fg=COLOURS[12], bg=BLUE)),
    ]


def test_colour_alone_resets_colours_and_comma_without_digit_is_text() -> None:
    """\\x03 alone ends the colours; a comma not followed by a digit stays in the text."""
    assert parse("\x034,2a\x03b\x034,c") == [
        Span("a", Format(fg=RED, bg=BLUE)),
        Span("b", PLAIN),
        Span(",c", Format(fg=RED)),
    ]


def test_foreground_alone_keeps_the_background() -> None:
    """\\x03FG after \\x03FG,BG changes only the foreground."""
    assert parse("\x034,2a\x033b")[1] == Span("b", Format(fg=COLOURS[3], bg=BLUE))


def test_extended_colours_and_99_default() -> None:
    """Colours 16-98 are the extended palette; 99 is the terminal's default."""
    assert parse("\x0352x\x0399y") == [Span("x", Format(fg="#ff0000")), Span("y", PLAIN)]
    assert len(COLOURS) == 99


def test_hex_colours() -> None:
    """\\x04RRGGBB[,RRGGBB] sets exact colours; \\x04 alone resets them."""
    assert parse("\x04FF8800,000000a\x04b") == [
        Span("a", Format(fg="#ff8800", bg="#000000")),
        Span("b", PLAIN),
    ]


def test_toggles_and_reset() -> None:
    """Bold, italic, underline, strike, monospace, reverse toggle; \\x0f resets all."""
    spans = parse("\x02b\x1di\x1fu\x1es\x11m\x16r\x0fplain\x02\x02x")
    assert [s.text for s in spans] == ["b", "i", "u", "s", "m", "r", "plainx"]
    last_styled = spans[5].format
    assert last_styled == Format(True, True, True, True, True, True)
    assert spans[-1].format == PLAIN


def test_strip_takes_codes_and_colour_numbers_out() -> None:
    """strip leaves the text as the reader sees it."""
    assert strip("\x02\x0304,12hello\x0f \x04ff0000world") == "hello world"


def test_to_ansi_writes_our_own_sgr_and_marks_escapes() -> None:
    """Plain mode on a terminal: styles become SGR we generate; a sent ESC stays a marker."""
    out = to_ansi("\x02bold\x02 \x034red\x03 \x1b[2J")
    assert out == "\x1b[0;1mbold\x1b[0m \x1b[0;38;2;255;0;0mred\x1b[0m \u241b[2J"


@PROPERTY
@given(formatted)
def test_parse_never_raises_and_keeps_the_visible_text(text: str) -> None:
    """The spans' text is exactly the text with the codes removed; no span is empty."""
    spans = parse(text)
    assert "".join(s.text for s in spans) == strip(text)
    assert all(s.text for s in spans)
    assert all(a.format != b.format for a, b in itertools.pairwise(spans))


@PROPERTY
@given(formatted)
def test_no_formatting_code_survives(text: str) -> None:
    """No formatting code is left in the visible text (so never shown as a digit or marker)."""
    assert not set(strip(text)) & set("\x02\x03\x04\x0f\x11\x16\x1d\x1e\x1f")


@PROPERTY
@given(st.text(max_size=120))
def test_to_ansi_contains_only_our_sgr_sequences(text: str) -> None:
    """Whatever comes in, the only escapes out are well-formed SGR sequences we wrote."""
    out = re.sub(r"\x1b\[[0-9;]*m", "", to_ansi(text))
    assert RAW_CONTROL.search(out) is None


def test_safety_keeps_exactly_the_codes_parsed_here() -> None:
    """safe(keep_formatting=True) and the parser agree on which characters are formatting."""
    codes = {value for name, value in vars(Code).items() if name.isupper()}
    assert codes == set(FORMATTING_CODES)
    assert strip("".join(sorted(codes))) == ""
