"""The compiled twins of `journal_records.python_encode_record` and `PythonTurnRecords`."""

from collections.abc import Callable

def encode_record(
    msgid: str, when: float, conversation: str, account: str, tags: str, line: bytes
) -> bytes: ...

class TurnRecords:
    senders: list[object]
    targets: list[str]
    room: int
    count: int
    def __init__(self, opening: Callable[[], object], reserve: Callable[[int], int]) -> None: ...
    def add(
        self,
        msgid: str,
        when: float,
        conversation: str,
        account: str,
        tags: str,
        line: bytes,
        sender: object,
        target: str,
    ) -> None: ...
    def extend(self, record: bytes) -> None: ...
    def frame(self) -> memoryview: ...
    def clear(self) -> None: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...
