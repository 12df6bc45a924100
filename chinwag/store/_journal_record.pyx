# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled twin of `journal_records.python_encode_record`: the same bytes, one allocation.

Built by ``setup.py`` beside the protocol core; without it (no compiler, or
``CHINWAG_PURE_PYTHON=1``) the server runs the pure-Python function, which stays the reference:
``tests/store/test_journal_records.py`` compares the two byte for byte. Why it exists: the
journal record of every stored message is built on the event loop, and in Python that is an
f-string, the time packed and turned into hex, an encode and a concatenation, five objects
(about 0.22 us per message, timeit); this writes the fields straight into the record (about
0.06 us). The one difference a caller can see: the arguments must have exactly their annotated
types (``bytes``, not a bytearray; None is refused), as in the compiled codec.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdint cimport uint64_t
from libc.string cimport memcpy

cdef const char *_HEX = b"0123456789abcdef"
cdef Py_ssize_t _TIME_DIGITS = 16  # the double's 8 bytes in hex


cdef inline char *_field(char *out, const char *data, Py_ssize_t size) noexcept:
    """Copy one field and its NUL separator; return where the next field starts."""
    memcpy(out, data, size)
    out[size] = 0
    return out + size + 1


def encode_record(
    str msgid not None,
    double when,
    str conversation not None,
    str account not None,
    str tags not None,
    bytes line not None,
):
    """See `journal_records.python_encode_record`."""
    return _encode(msgid, when, conversation, account, tags, line)


cdef bytes _encode(
    str msgid, double when, str conversation, str account, str tags, bytes line
):
    """`encode_record`, for arguments already checked (none is None)."""
    cdef Py_ssize_t msgid_size, conversation_size, account_size, tags_size
    # UTF-8 of each str (cached in the str by CPython; an ASCII str's own bytes): a lone
    # surrogate raises UnicodeEncodeError here as ``str.encode`` does in the twin.
    cdef const char *msgid_data = PyUnicode_AsUTF8AndSize(msgid, &msgid_size)
    cdef const char *conversation_data = PyUnicode_AsUTF8AndSize(conversation, &conversation_size)
    cdef const char *account_data = PyUnicode_AsUTF8AndSize(account, &account_size)
    cdef const char *tags_data = PyUnicode_AsUTF8AndSize(tags, &tags_size)
    cdef Py_ssize_t line_size = PyBytes_GET_SIZE(line)
    cdef Py_ssize_t size = (
        msgid_size + _TIME_DIGITS + conversation_size + account_size + tags_size + 5 + line_size
    )
    cdef bytes record = PyBytes_FromStringAndSize(NULL, size)
    cdef char *out = PyBytes_AS_STRING(record)
    out = _field(out, msgid_data, msgid_size)
    # The double's bytes in little-endian order, in hex (``struct.pack("<d", when).hex()``).
    cdef uint64_t bits
    memcpy(&bits, &when, 8)
    cdef int i
    cdef unsigned int byte
    for i in range(8):
        byte = (bits >> (8 * i)) & 0xFF
        out[2 * i] = _HEX[byte >> 4]
        out[2 * i + 1] = _HEX[byte & 0x0F]
    out[_TIME_DIGITS] = 0
    out += _TIME_DIGITS + 1
    out = _field(out, conversation_data, conversation_size)
    out = _field(out, account_data, account_size)
    out = _field(out, tags_data, tags_size)
    memcpy(out, PyBytes_AS_STRING(line), line_size)
    return record


cdef class TurnRecords:
    """See `journal_records.PythonTurnRecords`: the same, with `encode_record` inline."""

    cdef public list records
    cdef public list senders
    cdef public list targets
    cdef public Py_ssize_t room
    cdef object _opening
    cdef object _reserve

    def __init__(self, opening, reserve):
        self.records = []
        self.senders = []
        self.targets = []
        self.room = 0
        self._opening = opening
        self._reserve = reserve

    def add(
        self,
        str msgid not None,
        double when,
        str conversation not None,
        str account not None,
        str tags not None,
        bytes line not None,
        object sender,
        str target not None,
    ):
        """See `journal_records.PythonTurnRecords.add`."""
        if not self.records:
            self._opening()
        cdef bytes record = _encode(msgid, when, conversation, account, tags, line)
        cdef Py_ssize_t size = PyBytes_GET_SIZE(record)
        if size > self.room:
            self.room = self._reserve(size)
        self.room -= size
        self.records.append(record)
        self.senders.append(sender)
        self.targets.append(target)
