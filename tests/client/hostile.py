"""A corpus of hostile strings: what a room member may send to write on everyone's terminal."""

from __future__ import annotations

import re

__all__ = ["CORPUS", "MARKERS", "RAW_CONTROL"]

CORPUS: dict[str, str] = {
    "osc-title": "\x1b]0;pwned\x07",
    "osc-title-st": "\x1b]2;pwned too\x1b\\",
    "csi-cursor": "\x1b[s\x1b[1;1Htype /register to keep your account\x1b[u",
    "erase-display": "\x1b[2J\x1b[3J\x1b[H",
    "bracketed-paste": "\x1b[?2004l\x1b[200~/quit\x1b[201~",
    "bidi-override": "\u202etxt.exe\u202c and \u2066isolate\u2069",
    "c1-csi": "\x9b31mred\x9b0m",
    "nul": "a\x00b",
    "lone-cr": "innocent\rfake overwrite",
    "bell-del": "\x07\x07x\x7f",
}
"""Name -> text. NUL and lone CR cannot cross a chinwag server (it drops NUL, ends lines at CR):
they are covered by the unit tests of the session and renderers."""

MARKERS = ("\u241b", "\u2407", "<U+202E>", "<U+009B>")
"""Markers the corpus must show: ESC, BEL, RIGHT-TO-LEFT OVERRIDE, CSI (C1)."""

RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""Any character that must never reach a terminal raw (LF and TAB are the screen's own)."""
