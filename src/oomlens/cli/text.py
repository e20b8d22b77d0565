"""External text (process names, paths, log fields) made safe to show: standard library only, so error
messages can use it without loading the renderer."""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape_char(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    o = ord(ch)
    if 0xDC80 <= o <= 0xDCFF:  # a byte of invalid UTF-8 kept by surrogateescape
        return f"\\x{o - 0xDC00:02x}"
    if o < 0x100:
        return f"\\x{o:02x}"
    return f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"


def visible(text: str) -> str:
    r"""``text`` with every character a terminal would act on or hide shown as an escape: C0/C1 controls
    (ESC → ``\x1b``, newline → ``\n``), DEL, format characters such as bidi overrides (``\u202e``), lone
    surrogates from invalid UTF-8 (``\xff``), and separators other than the space. Printable text is
    returned as is (the fast path: one C call)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else _escape_char(ch) for ch in text)
