# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled twin of `events.python_take_row`: a row of plain room lines from the inbox.

Built by ``setup.py`` beside the protocol core; without it (no compiler, or
``CHINWAG_PURE_PYTHON=1``) a node runs the pure-Python one, which stays the reference:
``tests/cluster/test_events.py`` compares the two on every kind of event. Why it exists: a line
to a room with members on every node is read by every node, so each node's cost of reading it
is paid as many times as there are nodes (the part of a network's cost that does not shrink as
nodes are added). The twin cuts each event at its nine NULs (ten objects) and compares a tuple
of three of them; here the NULs are found with ``memchr`` in the event's own bytes, the sender
and room compared with ``memcmp``, and only the line is copied out. The events must be
``bytes`` (as the bus hands them), and ``own`` too.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memchr, memcmp

cdef int _FIELDS = 9  # NULs before a message's line (``events.py``): node, kind, msgid, uid,
# command, target, status, time, tags
cdef int _NODE = 0
cdef int _KIND = 1
cdef int _UID = 3
cdef int _COMMAND = 4
cdef int _TARGET = 5
cdef int _STATUS = 6


cdef bint _cut(const char *data, Py_ssize_t size, Py_ssize_t *nuls):
    """Put the places of the first `_FIELDS` NULs of ``data`` in ``nuls``; False when it has
    fewer (not a message)."""
    cdef const char *at = data
    cdef const char *end = data + size
    cdef const char *found
    cdef int i
    for i in range(_FIELDS):
        found = <const char *>memchr(at, 0, end - at)
        if found == NULL:
            return False
        nuls[i] = found - data
        at = found + 1
    return True


cdef inline bint _same(
    const char *a, Py_ssize_t a_start, Py_ssize_t a_stop,
    const char *b, Py_ssize_t b_start, Py_ssize_t b_stop,
):
    """Whether ``a[a_start:a_stop]`` and ``b[b_start:b_stop]`` hold the same bytes."""
    cdef Py_ssize_t size = a_stop - a_start
    return size == b_stop - b_start and memcmp(a + a_start, b + b_start, size) == 0


def take_row(events, Py_ssize_t start, bytes own):
    """See `events.python_take_row`."""
    cdef list lines = []
    cdef Py_ssize_t n = len(events)
    cdef Py_ssize_t end = start
    cdef Py_ssize_t nuls[9]
    cdef Py_ssize_t first[9]
    cdef const char *own_data = PyBytes_AS_STRING(own)
    cdef Py_ssize_t own_size = PyBytes_GET_SIZE(own)
    cdef const char *data
    cdef const char *first_data = NULL
    cdef Py_ssize_t size
    cdef bytes raw
    cdef bytes first_raw = None
    cdef int i
    while end < n:
        raw = events[end]
        data = PyBytes_AS_STRING(raw)
        size = PyBytes_GET_SIZE(raw)
        if size >= own_size and memcmp(data, own_data, own_size) == 0:
            break  # this node's own
        if not _cut(data, size, nuls):
            break
        if not _same(data, nuls[_NODE] + 1, nuls[_KIND], b"msg", 0, 3):
            break
        if nuls[_STATUS] != nuls[_TARGET] + 1:
            break  # to a room's operators or voiced
        if _same(data, nuls[_UID] + 1, nuls[_COMMAND], b"TAGMSG", 0, 6):
            break
        if first_data == NULL:
            first_raw, first_data = raw, data
            for i in range(_FIELDS):
                first[i] = nuls[i]
        elif not (
            _same(data, 0, nuls[_NODE], first_data, 0, first[_NODE])
            and _same(data, nuls[_KIND + 1] + 1, nuls[_UID], first_data, first[_KIND + 1] + 1,
                      first[_UID])
            and _same(data, nuls[_COMMAND] + 1, nuls[_TARGET], first_data, first[_COMMAND] + 1,
                      first[_TARGET])
        ):
            break  # another sender, or another room
        lines.append(PyBytes_FromStringAndSize(data + nuls[_FIELDS - 1] + 1,
                                               size - nuls[_FIELDS - 1] - 1))
        end += 1
    if first_data == NULL:
        return end, (b"", b"", b""), lines
    key = (
        first_data[:first[_NODE]],
        first_data[first[_KIND + 1] + 1:first[_UID]],
        first_data[first[_COMMAND] + 1:first[_TARGET]],
    )
    return end, key, lines
