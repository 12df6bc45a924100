"""Hostile input: the corpus the server fuzz test and the codec twin tests both draw from.

Lines with real verbs (or random words) and random parameters, tags and trailing text, mixed with
raw binary: whatever a broken or malicious client could send.
"""

from __future__ import annotations

from hypothesis import strategies as st

__all__ = ["TOKENS", "WORDS", "command_lines", "hostile_items"]

TOKENS = st.sampled_from(
    [
        "#lobby", "#fz", "#fz,#lobby", "watcher", "speaker", "fz", "*", "0", "", ":", "::",
        "+o", "-o", "+b", "-b", "+k", "+l", "-l", "+imnst", "+ovbkl", "*!*@*", "LS", "302",
        "REQ", "END", "LIST", "-1", "99999999999999999999", "@#lobby", "+#lobby", "\x01ACTION",
        "é", "\u200b", "\U0001f600", "a" * 300, "NickServ", "ChanServ", "LATEST", "BEFORE",
        "AFTER", "AROUND", "BETWEEN", "TARGETS", "timestamp=2020-01-01T00:00:00.000Z",
        "msgid=x", "PLAIN", "+", "IDENTIFY", "REGISTER", "k",
    ]
)  # fmt: skip
WORDS = st.text(
    st.characters(blacklist_characters="\r\n\0 ", blacklist_categories=["Cs"]),
    min_size=1,
    max_size=20,
)


@st.composite
def command_lines(draw: st.DrawFn, verbs: st.SearchStrategy[str]) -> bytes:
    """A line with a verb from ``verbs`` and random parameters, maybe tags and a trailing part."""
    verb = draw(st.one_of(verbs, verbs.map(str.lower), WORDS))
    params = draw(st.lists(st.one_of(TOKENS, WORDS), max_size=6))
    params = [p for p in params if p and " " not in p and not p.startswith(":")]
    line = " ".join([verb, *params])
    if draw(st.booleans()):
        line += " :" + draw(st.one_of(TOKENS, st.text(max_size=80)))
    if draw(st.booleans()):
        tags = draw(st.sampled_from(["label=l1", "+x=y", "a;b=\\s", "+t=" + "v" * 50]))
        line = f"@{tags} {line}"
    return line.replace("\r", "").replace("\n", "").encode("utf-8", "surrogatepass") + b"\r\n"


def hostile_items(verbs: st.SearchStrategy[str]) -> st.SearchStrategy[list[bytes]]:
    """What one hostile connection sends: command lines and raw binary, in any mix."""
    return st.lists(
        st.one_of(command_lines(verbs), st.binary(max_size=600)), min_size=1, max_size=25
    )
