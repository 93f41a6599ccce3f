"""Logging of the local stack's processes (the stack and its Lambda workers)."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: str) -> None:
    """The root logger at `level`; request lines of moto/werkzeug and botocore's chatter only at DEBUG."""
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), format=FORMAT)
    if level.upper() != "DEBUG":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        logging.getLogger("botocore").setLevel(logging.WARNING)


def printable(text: str) -> str:
    """`text` safe for one log line: control and other non-printable characters (CR, LF, NUL,
    ESC, U+2028, bidi overrides...) and the backslash are escaped, so request data can neither
    split a line nor forge one."""
    return "".join(_escape(c) if not c.isprintable() or c == "\\" else c for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    if char == "\\":
        return "\\\\"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
