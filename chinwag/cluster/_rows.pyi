"""The compiled twin of `events.python_take_row`."""

from collections.abc import Sequence

def take_row(
    events: Sequence[bytes], start: int, own: bytes
) -> tuple[int, tuple[bytes, bytes, bytes], list[bytes]]: ...
