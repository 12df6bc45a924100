"""Hypothesis strategies for valid IRC messages, shared by the protocol property tests."""

from __future__ import annotations

from hypothesis import strategies as st

from chinwag.protocol import Message

_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = _LOWER.upper()
_DIGITS = "0123456789"


def _chars(exclude: str, often: str) -> st.SearchStrategy[str]:
    """Any UTF-8-encodable character but ``exclude``, with the tricky ``often`` ones mixed in.

    Drawn from all of Unicode, the characters that matter to the wire format would hardly ever
    come up, so they are offered by hand as well.
    """
    return st.characters(codec="utf-8", exclude_characters=exclude) | st.sampled_from(often)


# Anything but NUL: CR, LF, ``;``, spaces and backslashes are all fair in a tag value.
tag_values = st.text(_chars("\0", ";\\ \r\n=:@"), max_size=40)
# [+][vendor/]name, as the message-tags specification allows
tag_keys = st.builds(
    lambda plus, vendor, name: plus + (vendor + "/" if vendor else "") + name,
    st.sampled_from(["", "+"]),
    st.text(st.sampled_from(_LOWER + _DIGITS + ".-"), max_size=6),
    st.text(st.sampled_from(_LOWER + _UPPER + _DIGITS + "-"), min_size=1, max_size=8),
)
commands = st.text(st.sampled_from(_UPPER), min_size=1, max_size=10) | st.integers(
    min_value=0, max_value=999
).map(lambda n: f"{n:03d}")
# A source, a middle parameter: no space, CR, LF or NUL, not empty; a middle does not start with :.
_word_chars = _chars(" \r\n\0", ":@;=!\t\x0b\xa0\u2003")
sources = st.text(_word_chars, min_size=1, max_size=30)
middles = st.text(_word_chars, min_size=1, max_size=20).filter(lambda p: not p.startswith(":"))
# The last parameter may be anything without CR, LF or NUL: empty, spaces, leading colons.
lasts = st.text(_chars("\r\n\0", " :\t"), max_size=40) | st.sampled_from(
    ["", " ", ":", "::", " : ", ":a b"]
)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    """Any message that format_line accepts, with its command already upper-case."""
    params: tuple[str, ...] = tuple(draw(st.lists(middles, max_size=5)))
    if draw(st.booleans()):
        params += (draw(lasts),)
    return Message(
        draw(commands),
        params,
        draw(st.none() | sources),
        draw(st.dictionaries(tag_keys, tag_values, max_size=4)),
    )
