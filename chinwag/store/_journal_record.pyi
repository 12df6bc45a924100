"""The compiled twin of `journal_records.python_encode_record` (``_journal_record.pyx``)."""

def encode_record(
    msgid: str, when: float, conversation: str, account: str, tags: str, line: bytes
) -> bytes: ...
