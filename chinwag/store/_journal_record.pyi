"""The compiled twins of `journal_records.python_encode_record` and `PythonTurnRecords`."""

from collections.abc import Callable

def encode_record(
    msgid: str, when: float, conversation: str, account: str, tags: str, line: bytes
) -> bytes: ...

class TurnRecords:
    records: list[bytes]
    senders: list[object]
    targets: list[str]
    room: int
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
