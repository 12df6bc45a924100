"""The IRC protocol, sans I/O: messages, framing, case mapping, validation, numerics.

Nothing here touches a socket or an event loop; the server and the client both build on it.
The line codec (`codec`, `message`) may run compiled: `core_name` says which build is in use.
"""

from __future__ import annotations

# First: importing _core applies CHINWAG_PURE_PYTHON before codec and message are loaded.
from chinwag.protocol._core import core_name
from chinwag.protocol.casemap import CASEMAPPING, KNOWN_CASEMAPPINGS, fold, folder_for
from chinwag.protocol.codec import (
    MAX_BODY_BYTES,
    MAX_TAGS_BYTES,
    DecodeError,
    DecodeErrorKind,
    LineDecoder,
    decode_text,
    encode_message,
    fit_utf8,
)
from chinwag.protocol.errors import ProtocolError
from chinwag.protocol.isupport import isupport_lines, parse_isupport
from chinwag.protocol.mask import mask_matches, normalize_mask
from chinwag.protocol.message import (
    Message,
    escape_tag_value,
    format_line,
    format_tags,
    parse_line,
    parse_tags,
    unescape_tag_value,
)
from chinwag.protocol.timestamps import format_server_time, parse_server_time
from chinwag.protocol.validate import (
    is_valid_channel,
    is_valid_mask_param,
    is_valid_nick,
    parse_count,
    sanitize_username,
)

__all__ = [
    "CASEMAPPING",
    "KNOWN_CASEMAPPINGS",
    "MAX_BODY_BYTES",
    "MAX_TAGS_BYTES",
    "DecodeError",
    "DecodeErrorKind",
    "LineDecoder",
    "Message",
    "ProtocolError",
    "core_name",
    "decode_text",
    "encode_message",
    "escape_tag_value",
    "fit_utf8",
    "fold",
    "folder_for",
    "format_line",
    "format_server_time",
    "format_tags",
    "is_valid_channel",
    "is_valid_mask_param",
    "is_valid_nick",
    "isupport_lines",
    "mask_matches",
    "normalize_mask",
    "parse_count",
    "parse_isupport",
    "parse_line",
    "parse_server_time",
    "parse_tags",
    "sanitize_username",
    "unescape_tag_value",
]
