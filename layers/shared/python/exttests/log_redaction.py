"""Keeps secrets and tokens out of every log line, at every level.

At DEBUG botocore logs request and response payloads (a KMS Encrypt/Decrypt carries a student
password, a Secrets Manager read the provider keys, a stored attempt or an execution's input a
Step Functions task token), the request headers it sends (`X-Amz-Security-Token`: the Lambda
role's session token; `Authorization` with the request's signature) and, from botocore.auth, the
canonical request and the signature themselves. Operators do turn DEBUG on, so those values are
blanked when the log record is made instead of trusting the log level: a record factory sees the
records of every logger, also of modules imported after `install()` (a filter on a logger would
not see its children's records).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

# Fields whose whole value is secret and may itself hold quotes (SecretString is JSON).
_SECRET_FIELDS = re.compile(
    r"""(["']?(?:Plaintext|SecretString|SecretBinary)["']?\s*[:=]\s*)(b?["'])(.*?)(?<!\\)\2""",
    re.DOTALL,
)
# Tokens, in any quoting botocore prints them: a JSON field (`"taskToken": "…"`), a JSON field in a
# JSON string (`\"task_token\":\"…\"` in a stored attempt), a header (`'X-Amz-Security-Token':
# b'…'`), a line of the canonical request (`x-amz-security-token:…`) or a query parameter.
_TOKENS = re.compile(
    r"""((?:x-amz-security-token|task_?token|session_?token)(?:\\*["'])?\s*[:=]\s*b?(?:\\*["'])?)"""
    r"""[^\s"'\\,;&}>)]+""",
    re.IGNORECASE,
)
# A SigV4 signature: in the Authorization header (`Signature=…`) and botocore.auth's "Signature:" line.
_SIGNATURE = re.compile(r"(Signature(?:=|:\s*))[0-9a-f]{64}")
_TRIGGER = re.compile(r"plaintext|secretstring|secretbinary|token|signature", re.IGNORECASE)

_installed = False
_lock = threading.Lock()


def redact(text: str) -> str:
    """`text` with every secret field, token and signature replaced by `***`."""
    text = _SECRET_FIELDS.sub(lambda m: f"{m.group(1)}{m.group(2)}***{m.group(2)}", text)
    text = _TOKENS.sub(r"\1***", text)
    return _SIGNATURE.sub(r"\1***", text)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Blank what `redact` blanks in the record's message (structured messages are left as they are)."""
    if not isinstance(record.msg, str):
        return record
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - logging would print the raw arguments when it fails to format
        record.msg, record.args = "(a log record that could not be formatted was dropped)", None
        return record
    if _TRIGGER.search(message):
        record.msg, record.args = redact(message), None
    return record


def install() -> None:
    """Wrap the process's log record factory once, so every record is redacted when it is made."""
    global _installed
    with _lock:
        if _installed:
            return
        make_record = logging.getLogRecordFactory()

        def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return redact_record(make_record(*args, **kwargs))

        logging.setLogRecordFactory(redacting_factory)
        _installed = True
