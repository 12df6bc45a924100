# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled twins of `journal_records.python_encode_record` and `PythonTurnRecords`.

Built by ``setup.py`` beside the protocol core; without it (no compiler, or
``CHINWAG_PURE_PYTHON=1``) the server runs the pure-Python ones, which stay the reference:
``tests/store/test_journal_records.py`` compares them byte for byte. Why they exist: the journal
record of every stored message is built on the event loop, and in Python that is an f-string,
the time packed and turned into hex, an encode and a concatenation, five objects (about 0.22 us
per message, timeit), then a list append and, at the end of the turn, a join into the frame.
Here the fields are written straight into the turn's frame, one buffer kept from turn to turn
(no object per record, no fresh megabyte to fault in per turn). The one difference a caller can
see: the arguments must have exactly their annotated types (``bytes``, not a bytearray; None is
refused), as in the compiled codec.
"""

from cpython.buffer cimport PyBuffer_FillInfo
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdint cimport uint64_t
from libc.string cimport memcpy

cdef const char *_HEX = b"0123456789abcdef"
cdef Py_ssize_t _TIME_DIGITS = 16  # the double's 8 bytes in hex
cdef Py_ssize_t _SEPARATORS = 5  # a NUL after each field but the last
cdef Py_ssize_t _FIRST_CAPACITY = 64 * 1024
cdef Py_ssize_t _KEPT_CAPACITY = 8 * 1024 * 1024
"""A frame buffer larger than this (a turn of some 40,000 messages) is freed once written."""


cdef struct _Fields:
    const char *msgid
    Py_ssize_t msgid_size
    double when
    const char *conversation
    Py_ssize_t conversation_size
    const char *account
    Py_ssize_t account_size
    const char *tags
    Py_ssize_t tags_size
    const char *line
    Py_ssize_t line_size


cdef Py_ssize_t _measure(
    _Fields *fields, str msgid, double when, str conversation, str account, str tags, bytes line
) except -1:
    """Point ``fields`` at the UTF-8 of each argument; return the record's size.

    The UTF-8 of a str is cached in it by CPython (an ASCII str's own bytes); a lone surrogate
    raises UnicodeEncodeError here, as ``str.encode`` does in the twin.
    """
    fields.msgid = PyUnicode_AsUTF8AndSize(msgid, &fields.msgid_size)
    fields.when = when
    fields.conversation = PyUnicode_AsUTF8AndSize(conversation, &fields.conversation_size)
    fields.account = PyUnicode_AsUTF8AndSize(account, &fields.account_size)
    fields.tags = PyUnicode_AsUTF8AndSize(tags, &fields.tags_size)
    fields.line = PyBytes_AS_STRING(line)
    fields.line_size = PyBytes_GET_SIZE(line)
    return (
        fields.msgid_size + _TIME_DIGITS + fields.conversation_size + fields.account_size
        + fields.tags_size + _SEPARATORS + fields.line_size
    )


cdef inline char *_field(char *out, const char *data, Py_ssize_t size) noexcept:
    """Copy one field and its NUL separator; return where the next field starts."""
    memcpy(out, data, size)
    out[size] = 0
    return out + size + 1


cdef void _write(char *out, const _Fields *fields) noexcept:
    """Write the record of ``fields`` at ``out`` (`_measure` said how many bytes)."""
    out = _field(out, fields.msgid, fields.msgid_size)
    # The double's bytes in little-endian order, in hex (``struct.pack("<d", when).hex()``).
    cdef uint64_t bits
    memcpy(&bits, &fields.when, 8)
    cdef int i
    cdef unsigned int byte
    for i in range(8):
        byte = (bits >> (8 * i)) & 0xFF
        out[2 * i] = _HEX[byte >> 4]
        out[2 * i + 1] = _HEX[byte & 0x0F]
    out[_TIME_DIGITS] = 0
    out += _TIME_DIGITS + 1
    out = _field(out, fields.conversation, fields.conversation_size)
    out = _field(out, fields.account, fields.account_size)
    out = _field(out, fields.tags, fields.tags_size)
    memcpy(out, fields.line, fields.line_size)


def encode_record(
    str msgid not None,
    double when,
    str conversation not None,
    str account not None,
    str tags not None,
    bytes line not None,
):
    """See `journal_records.python_encode_record`."""
    cdef _Fields fields
    cdef Py_ssize_t size = _measure(&fields, msgid, when, conversation, account, tags, line)
    cdef bytes record = PyBytes_FromStringAndSize(NULL, size)
    _write(PyBytes_AS_STRING(record), &fields)
    return record


cdef class TurnRecords:
    """See `journal_records.PythonTurnRecords`: the same, the frame in one buffer of its own."""

    cdef public list senders
    cdef public list targets
    cdef public Py_ssize_t room
    cdef public Py_ssize_t count
    cdef object _opening
    cdef object _reserve
    cdef char *_data
    cdef Py_ssize_t _size
    cdef Py_ssize_t _capacity
    cdef int _exports

    def __init__(self, opening, reserve):
        self.senders = []
        self.targets = []
        self.room = 0
        self.count = 0
        self._opening = opening
        self._reserve = reserve

    def __dealloc__(self):
        PyMem_Free(self._data)

    cdef char *_space(self, Py_ssize_t size) except NULL:
        """Where ``size`` more bytes of the frame go (the buffer grown, doubling, if needed)."""
        cdef Py_ssize_t capacity
        cdef char *data
        if self._data is NULL or self._size + size > self._capacity:
            if self._exports:
                raise BufferError("the turn's frame is being written")
            capacity = max(2 * self._capacity, self._size + size, _FIRST_CAPACITY)
            data = <char *>PyMem_Realloc(self._data, capacity)
            if data is NULL:
                raise MemoryError()
            self._data = data
            self._capacity = capacity
        return self._data + self._size

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
        if not self.count:
            self._opening()
        cdef _Fields fields
        cdef Py_ssize_t size = _measure(&fields, msgid, when, conversation, account, tags, line)
        if size > self.room:
            self.room = self._reserve(size)
        _write(self._space(size), &fields)
        self._size += size
        self.room -= size
        self.count += 1
        self.senders.append(sender)
        self.targets.append(target)

    def extend(self, bytes record not None):
        """See `journal_records.PythonTurnRecords.extend`."""
        cdef Py_ssize_t size = PyBytes_GET_SIZE(record)
        memcpy(self._space(size), PyBytes_AS_STRING(record), size)
        self._size += size
        self.count += 1

    def frame(self):
        """See `journal_records.PythonTurnRecords.frame`."""
        self._space(0)  # a buffer even for an empty frame
        return memoryview(self)

    def clear(self):
        """See `journal_records.PythonTurnRecords.clear`."""
        if self._exports:
            raise BufferError("the turn's frame is being written")
        self._size = 0
        self.count = 0
        if self._capacity > _KEPT_CAPACITY:
            PyMem_Free(self._data)
            self._data = NULL
            self._capacity = 0

    def __getbuffer__(self, Py_buffer *view, int flags):
        PyBuffer_FillInfo(view, self, self._data, self._size, 1, flags)
        self._exports += 1

    def __releasebuffer__(self, Py_buffer *view):
        self._exports -= 1
