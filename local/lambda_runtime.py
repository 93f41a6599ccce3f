"""One Lambda execution environment: `python -m local.lambda_runtime FUNCTION_DIR ANSWER_FD` (events
on stdin), or `run()` on two pipes in a worker process that `local.workers` forks.

Started with the function's environment (the layer on PYTHONPATH, as
/opt/python is on Lambda's). Like the Lambda runtime it has an init phase — importing
`FUNCTION_DIR/app.py` once — and then an invoke loop, one event at a time: it reads an
invocation from stdin, calls the handler with a context whose remaining time counts down from
the function's timeout, and writes the outcome to the file descriptor ANSWER_FD. The handler's
own output (stdout, stderr, Powertools logs) goes wherever the stack's goes. It exits at the end
of its input: when the pool closes it, or when the stack process is gone.

Frames on both pipes: a 4-byte big-endian length, then that many bytes of JSON.
The pool enforces the timeout (it kills a worker still busy past it); the worker does not.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from local import logs
from local.lambda_dispatch import FunctionSpec, error_payload, module_handler, run_handler

_HEADER = struct.Struct(">I")


def encode_frame(message: Mapping[str, Any]) -> bytes:
    data = json.dumps(message).encode()
    return _HEADER.pack(len(data)) + data


def take_frame(buffer: bytearray) -> dict[str, Any] | None:
    """Remove and decode the first complete frame of `buffer` (None while it is incomplete)."""
    if len(buffer) < _HEADER.size:
        return None
    (length,) = _HEADER.unpack_from(buffer)
    end = _HEADER.size + length
    if len(buffer) < end:
        return None
    message: dict[str, Any] = json.loads(bytes(buffer[_HEADER.size : end]))
    del buffer[:end]
    return message


def read_frame(stream: IO[bytes]) -> dict[str, Any] | None:
    """The next frame of a blocking stream; None at its end."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (length,) = _HEADER.unpack(header)
    data = stream.read(length)
    if len(data) < length:
        return None
    message: dict[str, Any] = json.loads(data)
    return message


def invocation_message(spec: FunctionSpec, request_id: str, event: Any) -> dict[str, Any]:
    return {
        "function": spec.name,
        "arn": spec.arn,
        "memory": spec.memory_mb,
        "timeout": spec.timeout_seconds,
        "requestId": request_id,
        "event": event,
    }


def serve(directory: Path, requests: IO[bytes], answers: IO[bytes]) -> int:
    try:
        handler = module_handler(directory)
    except Exception as exc:  # the init error fails the invocation that is waiting for us
        answers.write(encode_frame({"ready": False, "error": error_payload(exc, "init")}))
        return 1
    answers.write(encode_frame({"ready": True}))
    while (message := read_frame(requests)) is not None:
        spec = FunctionSpec(
            message["function"], directory, float(message["timeout"]), int(message["memory"]), message["arn"]
        )
        started = time.time()
        outcome = run_handler(handler, message["event"], spec.context(message["requestId"]))
        answers.write(
            encode_frame(
                {
                    "payload": outcome.payload.decode(),
                    "failed": outcome.failed,
                    "started": started,
                    "ended": time.time(),
                }
            )
        )
    return 0


def run(directory: Path, requests_fd: int, answers_fd: int) -> int:
    """The execution environment on two pipes: invocations in on `requests_fd`, answers out."""
    # Ctrl-C reaches the whole process group: the stack stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logs.configure(os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO"))
    with os.fdopen(requests_fd, "rb") as requests, os.fdopen(answers_fd, "wb", buffering=0) as answers:
        return serve(directory, requests, answers)


def main(argv: list[str]) -> int:
    return run(Path(argv[1]), sys.stdin.fileno(), int(argv[2]))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
