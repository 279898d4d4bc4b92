"""Make any value safe to put in a log line: one printable line, bounded in length.

Use :func:`escape_log_value` on every value that came from outside (a client's path or header,
an upstream's error text) before it goes into a log message, so nobody can forge log lines with
CR/LF, hide text with ANSI escapes or bidirectional controls, or flood the log. It imports only
the standard library, so cheap modules such as :mod:`src.utils.retry` can use it.
"""

from __future__ import annotations

import re

__all__ = ["MAX_LOGGED_VALUE", "escape_log_value"]

#: Longest value (in characters, after escaping) put into a log line.
MAX_LOGGED_VALUE = 512

# Backslash (so escapes stay unambiguous), C0/C1 controls incl. ESC, CR, LF, DEL, the line and
# paragraph separators, bidirectional controls, and lone surrogates.
_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def escape_log_value(value: object, limit: int = MAX_LOGGED_VALUE) -> str:
    """``value`` as one printable line: unsafe characters escaped (``\\x0d``), cut to ``limit``."""
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:
        text = f"<unprintable {type(value).__name__}>"
    # Printable ASCII without a backslash has nothing to escape (the common case, checked in C).
    if not (text.isascii() and text.isprintable() and "\\" not in text):
        text = _UNSAFE.sub(_escape_char, text)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
