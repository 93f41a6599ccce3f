"""Keeps secrets out of the AWS SDK's DEBUG logs.

botocore logs request and response payloads at DEBUG: a KMS Encrypt/Decrypt carries a student
password (base64) and a Secrets Manager read carries the provider keys. Operators do turn DEBUG
on, so those fields are blanked on every botocore logger instead of trusting the log level.
"""

from __future__ import annotations

import logging
import re
import threading

_SECRET_FIELDS = re.compile(
    r"""(["']?(?:Plaintext|SecretString|SecretBinary)["']?\s*[:=]\s*)(b?["'])(.*?)(?<!\\)\2""",
    re.DOTALL,
)
_installed = False
_lock = threading.Lock()


def redact(text: str) -> str:
    return _SECRET_FIELDS.sub(lambda m: f"{m.group(1)}{m.group(2)}***{m.group(2)}", text)


class SecretFieldFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is dropped rather than risked
            return False
        if any(name in message for name in ("Plaintext", "SecretString", "SecretBinary")):
            record.msg, record.args = redact(message), None
        return True


def install() -> None:
    """Attach the filter to botocore's loggers (filters do not inherit, so each one)."""
    global _installed
    with _lock:
        if _installed:
            return
        import botocore  # noqa: F401 - its modules create their loggers on import
        import botocore.endpoint  # noqa: F401
        import botocore.parsers  # noqa: F401

        flt = SecretFieldFilter()
        names = ["botocore", *(n for n in logging.root.manager.loggerDict if n.startswith("botocore."))]
        for name in names:
            logging.getLogger(name).addFilter(flt)
        _installed = True
