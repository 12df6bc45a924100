# Cython declarations for codec.py (read only when the compiled core is built; see setup.py).
# The .py stays the one source: this file only gives types, so that the compiled module keeps
# the decoder's fields in C and calls its own helpers without Python calls. The one difference a
# caller can see: compiled, `feed` and `decode_text` take exactly ``bytes`` (what sockets give,
# and what their annotations say) and raise TypeError for a bytearray or a memoryview.
import cython


cpdef str decode_text(bytes raw)


cdef class LineDecoder:
    cdef public Py_ssize_t max_tags_bytes
    cdef public Py_ssize_t max_body_bytes
    cdef bytearray _buffer
    cdef Py_ssize_t _space
    cdef bint _discarding
    cdef public Py_ssize_t blank_lines

    @cython.locals(complete=list, out=list, piece=bytes, raw=bytes, tail=bytes, space=Py_ssize_t)
    cpdef list feed(self, bytes data)

    @cython.locals(held=Py_ssize_t, tags_len=Py_ssize_t)
    cdef bint _cannot_fit(self)

    @cython.locals(body_len=Py_ssize_t, space=Py_ssize_t, tags_len=Py_ssize_t)
    cdef object _decode(self, bytes raw)
