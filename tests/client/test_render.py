"""Rendering lines: plain-mode text, TUI styles, nick colours, and input completion."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.style import Style
from rich.text import Text

from chinwag.client.lines import ActionLine, ChatLine, ErrorLine, Line, Posted, SystemLine
from chinwag.client.plain import format_posted, output_filter
from chinwag.client.render import NICK_COLOURS, flat, nick_colour, render_line, styled
from chinwag.client.widgets.input_bar import complete

from .hostile import CORPUS, RAW_CONTROL

NOW = 1_700_000_000.0
STAMP = r"\[\d\d:\d\d\] "

PLAIN_CASES: list[tuple[Posted, str]] = [
    (Posted("#lobby", "#lobby", False, ChatLine(NOW, "alice", "hi")), STAMP + "<alice> hi"),
    (Posted("#dev", "#dev", False, ChatLine(NOW, "alice", "hi")), STAMP + "#dev <alice> hi"),
    (Posted("#lobby", "#lobby", False, ActionLine(NOW, "bob", "waves")), STAMP + r"\* bob waves"),
    (Posted("carol", "carol", True, ChatLine(NOW, "me", "psst", own=True)), "-> carol: psst"),
    (Posted("carol", "carol", True, ChatLine(NOW, "carol", "psst")), "<- carol: psst"),
    (Posted("carol", "carol", True, ActionLine(NOW, "carol", "nods")), r"<- carol: \* carol nods"),
    (
        Posted("#lobby", "#lobby", False, ChatLine(NOW, "srv", "note", notice=True)),
        STAMP + "-srv- note",
    ),
    (Posted("#lobby", "#lobby", False, SystemLine(NOW, "bob has joined #lobby")), r"\* bob has"),
    (Posted("#lobby", "#lobby", False, ErrorLine(NOW, "x: No such nick")), "! x: No such nick"),
    (
        Posted("carol", "carol", True, ChatLine(NOW, "carol", "psst", history=True)),
        STAMP + "<- carol: psst",
    ),
    (
        Posted("carol", "carol", True, ActionLine(NOW, "me", "nods", own=True, history=True)),
        STAMP + r"-> carol: \* me nods",
    ),
]

# Properties, not timings: a loaded CI machine must not fail them for being slow.
PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(("posted", "pattern"), PLAIN_CASES)
def test_plain_format(posted: Posted, pattern: str) -> None:
    """Plain mode prints one recognisable line per event."""
    assert re.fullmatch(pattern + ".*", format_posted(posted, active="#lobby"))


def test_nick_colour_is_stable_and_case_insensitive() -> None:
    """The same nick always gets the same colour, whatever its case."""
    assert nick_colour("Alice") == nick_colour("alice") == nick_colour("ALICE")
    assert nick_colour("alice") in NICK_COLOURS
    assert len({nick_colour(f"user{i}") for i in range(50)}) > 5


@pytest.mark.parametrize(
    ("line", "text"),
    [
        (ChatLine(NOW, "alice", "hi"), "<alice> hi"),
        (ActionLine(NOW, "bob", "waves"), "* bob waves"),
        (SystemLine(NOW, "bob has joined #lobby"), "-- bob has joined #lobby"),
        (ErrorLine(NOW, "FOO: Unknown command"), "!! FOO: Unknown command"),
    ],
)
def test_render_line_text(line: Line, text: str) -> None:
    """Each kind of line renders with a time and its own marker."""
    rendered = render_line(line)
    assert re.fullmatch(r"\d\d:\d\d " + re.escape(text), rendered.plain)


def test_mention_is_highlighted_and_system_dimmed() -> None:
    """A mention gets a background; system lines are dim."""
    mention = render_line(ChatLine(NOW, "alice", "hey me", highlight=True))
    assert any("on #5f0000" in str(span.style) for span in mention.spans)
    system = render_line(SystemLine(NOW, "x"))
    assert all("dim" in str(span.style) for span in system.spans)


class TestComplete:
    def test_nick_at_start_gets_colon(self) -> None:
        """A nick completed at the start of the line gets ": "."""
        assert complete("al", 2, ["alice", "bob"]) == [("alice: ", 7)]

    def test_nick_mid_line_gets_space(self) -> None:
        """A nick completed later in the line gets a space."""
        assert complete("hi al", 5, ["Alice"]) == [("hi Alice ", 9)]

    def test_channel_and_command(self) -> None:
        """Rooms and commands complete without a colon."""
        assert complete("/jo", 3, ["/join", "/who"]) == [("/join ", 6)]
        assert complete("/join #lo", 9, ["#lobby"]) == [("/join #lobby ", 13)]

    def test_all_matches_in_order_and_none(self) -> None:
        """Every match is offered, in order; an empty word completes nothing."""
        assert [v for v, _ in complete("b", 1, ["bob", "bea", "al"])] == ["bob: ", "bea: "]
        assert complete("hi ", 3, ["bob"]) == []


def test_history_lines_are_dimmed() -> None:
    """A history line is dim from its time to its last character; a live one is not."""
    old = render_line(ChatLine(NOW, "alice", "hi", history=True))
    new = render_line(ChatLine(NOW, "alice", "hi"))
    assert any(span.style == "dim" and span.end == len(old) for span in old.spans)
    assert not any(span.style == "dim" and span.end == len(new) for span in new.spans)


def _styles_at(rendered: Text, at: int) -> list[Style]:
    """The styles of the spans covering character ``at``."""
    return [
        Style.parse(span.style) if isinstance(span.style, str) else span.style
        for span in rendered.spans
        if span.start <= at < span.end
    ]


def test_irc_colour_is_a_style_not_digits() -> None:
    """\\x034RED renders "RED" in red; the 4 is not shown."""
    rendered = render_line(ChatLine(NOW, "alice", "\x034RED\x03 ok"))
    assert rendered.plain.endswith("<alice> RED ok")
    at = rendered.plain.index("RED")
    assert any(style.color and style.color.name == "#ff0000" for style in _styles_at(rendered, at))


def test_no_colour_strips_formatting() -> None:
    """With formatting off the codes are stripped, never shown as digits, and no colour is set."""
    rendered = render_line(ChatLine(NOW, "alice", "\x02\x034,2RED\x0f ok"), formatting=False)
    assert rendered.plain.endswith("<alice> RED ok")
    at = rendered.plain.index("RED")
    assert not any(
        style.color and style.color.name == "#ff0000" for style in _styles_at(rendered, at)
    )


def test_links_are_styled_and_clickable() -> None:
    """An http(s) URL gets a link style with the URL, without the sentence's full stop."""
    text = styled("see https://example.org/a?b=1. and http://x.y")
    links = [span.style.link for span in text.spans if isinstance(span.style, Style)]
    assert links == ["https://example.org/a?b=1", "http://x.y"]


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_text_renders_without_controls(name: str) -> None:
    """Every hostile string renders, in every kind of line, with markers and no control."""
    text = CORPUS[name]
    for line in (
        ChatLine(NOW, "eve" + text, text),
        ActionLine(NOW, "eve", text),
        SystemLine(NOW, f"eve has quit ({text})"),
        ErrorLine(NOW, text),
    ):
        assert RAW_CONTROL.search(render_line(line).plain) is None


@PROPERTY
@given(st.text(max_size=80), st.text(max_size=20))
def test_render_line_is_always_safe(body: str, nick: str) -> None:
    """Whatever the nick and text, the rendered line has no control character."""
    assert RAW_CONTROL.search(render_line(ChatLine(NOW, nick, body)).plain) is None
    assert RAW_CONTROL.search(flat(nick)) is None


def test_plain_output_filters() -> None:
    """Plain mode: stripped and marked by default, our own SGR on a terminal, as is with --raw."""
    line = format_posted(
        Posted("#lobby", "#lobby", False, ChatLine(NOW, "eve", "\x02hi\x02 \x1b]0;x\x07")), "#lobby"
    )
    assert output_filter(raw=False, colours=False)(line).endswith("<eve> hi \u241b]0;x\u2407")
    assert output_filter(raw=False, colours=True)(line).endswith(
        "<eve> \x1b[0;1mhi\x1b[0m \u241b]0;x\u2407"
    )
    assert output_filter(raw=True, colours=True)(line) == line
