"""Network text made safe for a terminal: every control character becomes a visible marker."""

from __future__ import annotations

import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chinwag.client.safety import FORMATTING_CODES, is_safe, marker, safe

from .hostile import CORPUS, RAW_CONTROL

UNSAFE_CHARS = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]] + [
    *"\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
]
text_with_controls = st.text(
    st.one_of(st.characters(), st.sampled_from(UNSAFE_CHARS)), max_size=200
)

# Properties, not timings: a loaded CI machine must not fail them for being slow.
PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_escape_becomes_its_control_picture() -> None:
    """A window-title escape is shown as ␛]0;pwned␇, readable and harmless."""
    assert safe(CORPUS["osc-title"]) == "\u241b]0;pwned\u2407"


def test_c0_and_del_become_control_pictures() -> None:
    """NUL, lone CR, TAB and DEL become the one-cell pictures U+2400.., U+2421."""
    assert safe("a\x00b\rc\td\x7f") == "a\u2400b\u240dc\u2409d\u2421"


def test_c1_and_bidi_become_code_points() -> None:
    """C1 CSI and a bidi override have no picture: shown as <U+XXXX>."""
    assert safe("\x9b2J \u202eabc") == "<U+009B>2J <U+202E>abc"


def test_line_separators_are_marked() -> None:
    """U+2028/U+2029 would break a line in a widget: they are marked too."""
    assert safe("a\u2028b\u2029") == "a<U+2028>b<U+2029>"


def test_ordinary_text_is_returned_as_is() -> None:
    """Text without controls (any script, emoji, combining marks) is unchanged."""
    text = "héllo 世界 🎉 e\u0301 שלום"
    assert safe(text) is text


def test_keep_formatting_leaves_only_irc_codes() -> None:
    """keep_formatting keeps \\x02, \\x03... for the formatting parser, and marks the rest."""
    assert safe("\x02bold\x02 \x034red \x1b[2J", keep_formatting=True) == (
        "\x02bold\x02 \x034red \u241b[2J"
    )


def test_formatting_codes_are_marked_without_keep_formatting() -> None:
    """A formatting code left unparsed is a control character like any other."""
    assert safe("\x02") == "\u2402"


@PROPERTY
@given(text_with_controls)
def test_output_never_contains_a_control_character(text: str) -> None:
    """Whatever comes in, nothing that a terminal obeys comes out."""
    out = safe(text)
    assert RAW_CONTROL.search(out) is None
    assert "\n" not in out and "\t" not in out
    assert is_safe(out)
    assert not any(unicodedata.category(c) == "Cc" for c in out)


@PROPERTY
@given(text_with_controls)
def test_every_unsafe_character_leaves_its_marker(text: str) -> None:
    """Nothing is dropped silently: each unsafe character is replaced by its own marker."""
    expected = "".join(marker(c) if c in UNSAFE_CHARS else c for c in text)
    assert safe(text) == expected


@PROPERTY
@given(text_with_controls)
def test_keep_formatting_keeps_exactly_the_formatting_codes(text: str) -> None:
    """With keep_formatting the only control characters left are the IRC formatting codes."""
    out = safe(text, keep_formatting=True)
    leftover = {c for c in out if RAW_CONTROL.match(c)}
    assert leftover <= set(FORMATTING_CODES)
    assert [c for c in out if c in FORMATTING_CODES] == [c for c in text if c in FORMATTING_CODES]


@PROPERTY
@given(st.text(max_size=100))
def test_safe_is_idempotent(text: str) -> None:
    """Making safe text safe again changes nothing (markers are ordinary characters)."""
    once = safe(text)
    assert safe(once) == once
