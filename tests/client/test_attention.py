"""Desktop notification sequences carry no control character from the network."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chinwag.client.attention import NOTIFICATION_TEXT_MAX, osc_notification


def test_osc9() -> None:
    """OSC 9 carries 'title: text', ended by BEL."""
    assert osc_notification("osc9", "bob privately", "hi") == "\x1b]9;bob privately: hi\x07"


def test_osc777() -> None:
    """OSC 777 carries the title and the text as two fields; a ; in the title cannot add one."""
    sequence = osc_notification("osc777", "a;b", "x;y")
    assert sequence == "\x1b]777;notify;a,b;x;y\x07"


@pytest.mark.parametrize("mode", ["osc9", "osc777"])
@given(title=st.text(), body=st.text())
def test_no_control_character_gets_in(mode: str, title: str, body: str) -> None:
    """Whatever the network sent, the only controls are the sequence's own ESC ] and BEL."""
    sequence = osc_notification(mode, title, body)
    inner = sequence[2:-1]
    assert sequence.startswith("\x1b]") and sequence.endswith("\x07")
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in inner)
    assert len(inner) <= 2 * NOTIFICATION_TEXT_MAX + len("777;notify;;")
