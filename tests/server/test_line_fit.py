"""Every line the server formats fits the protocol's 512 bytes, whatever the parameters echo:
a property test over the two formatters every reply goes through."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chinwag.protocol import MAX_BODY_BYTES, decode_text, parse_line
from chinwag.server import load_config
from chinwag.server.network import Network, pack_words
from chinwag.server.state import PackedNames

# Any text a client could make the server echo: no CR, LF or NUL (the codec drops those).
TEXT = st.text(st.characters(blacklist_characters="\r\n\0", codec="utf-8"), max_size=600)
WORD = st.text(
    st.characters(blacklist_characters="\r\n\0 ", codec="utf-8"),
    min_size=1,
    max_size=600,
)
NAMES = st.sampled_from(["test.chinwag", "irc." + "x" * 60 + ".example"])


def _network(name: str) -> Network:
    overrides = {"server": {"name": name, "data_dir": "none"}}
    return Network(load_config(None, environ={}, overrides=overrides))


@settings(max_examples=300, deadline=None)
@given(
    name=NAMES,
    nick=st.from_regex(r"[a-z]{1,32}", fullmatch=True),
    middle=st.lists(WORD, max_size=3),
    last=TEXT,
)
def test_numeric_lines_fit(name: str, nick: str, middle: list[str], last: str) -> None:
    """A numeric with any echoed parameters is at most 512 bytes and parses back to the same
    numeric for the same nick."""
    line = _network(name).numeric_line(nick, "421", *middle, last)
    assert len(line) <= MAX_BODY_BYTES
    msg = parse_line(decode_text(line[:-2]))
    assert msg.command == "421" and msg.params[0] == nick
    assert len(msg.params) == len(middle) + 2


@settings(max_examples=300, deadline=None)
@given(
    name=NAMES, middle=st.lists(WORD.filter(lambda w: not w.startswith(":")), max_size=2), last=TEXT
)
def test_server_lines_fit(name: str, middle: list[str], last: str) -> None:
    """A server line (CAP, NOTICE, ERROR...) is at most 512 bytes; only its last parameter is
    cut, so the command and the middle parameters arrive whole."""
    network = _network(name)
    short = [m[:40] for m in middle]
    line = network.server_line("NOTICE", *short, last)
    assert len(line) <= MAX_BODY_BYTES
    msg = parse_line(decode_text(line[:-2]))
    assert msg.command == "NOTICE" and list(msg.params[:-1]) == short


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(
        st.text(
            st.characters(blacklist_characters=" \r\n\0", codec="utf-8"),
            min_size=1,
            max_size=10,  # at most 40 bytes: a word longer than a line cannot fit
        ),
        max_size=200,
    ),
    limit=st.integers(min_value=40, max_value=500),
)
def test_pack_words_keeps_every_word_within_the_limit(words: list[str], limit: int) -> None:
    """NAMES packing: lines of at most ``limit`` bytes, every word once, in order, none cut."""
    lines = pack_words(words, limit)
    assert all(len(line.encode()) <= limit for line in lines)
    assert [w for line in lines for w in line.split(" ")] == words


@settings(max_examples=200, deadline=None)
@given(
    name=st.one_of(NAMES, st.just("irc." + "y" * 420 + ".example")),
    nick=st.from_regex(r"[a-z]{1,32}", fullmatch=True),
    middle=st.lists(WORD, min_size=1, max_size=2),
    texts=st.lists(TEXT, max_size=5),
)
def test_numeric_lines_are_numeric_line_for_each_text(
    name: str, nick: str, middle: list[str], texts: list[str]
) -> None:
    """A list reply formatted with one head (NAMES) is byte for byte the numerics formatted one
    by one, a text too long to fit, a head too long and a very long server name included."""
    network = _network(name)
    expected = b"".join(network.numeric_line(nick, "353", *middle, text) for text in texts)
    encoded = [text.encode("utf-8") for text in texts]
    assert network.numeric_lines(nick, "353", tuple(middle), encoded) == expected


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(WORD.filter(lambda w: len(w.encode()) < 200), max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=4),
    limit=st.integers(1, 500),
    extra=st.one_of(st.none(), WORD),
)
def test_packed_names_grown_piece_by_piece_are_pack_words_of_all(
    words: list[str], cuts: list[int], limit: int, extra: str | None
) -> None:
    """NAMES lines packed as the entries arrive (a few at a time, asked for in between) are
    what packing all of them at once gives, a silent member's own entry at the end too."""
    entries: list[str] = []
    packed = PackedNames(entries, limit)
    start = 0
    for cut in sorted(min(c, len(words)) for c in cuts):
        entries.extend(words[start:cut])
        start = cut
        assert packed.lines() == [line.encode() for line in pack_words(entries, limit)]
    entries.extend(words[start:])
    everyone = entries if extra is None else [*entries, extra]
    assert packed.lines(extra) == [line.encode() for line in pack_words(everyone, limit)]
    assert packed.lines() == [line.encode() for line in pack_words(entries, limit)]
