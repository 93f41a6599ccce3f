"""Progress of a long write on stderr: a bar redrawn in place on a terminal; plain lines (one per
tenth of the way) when it is a file or a pipe, so logs stay short and readable."""

from __future__ import annotations

from typing import TextIO

BAR_WIDTH = 30
STEPS = 10


class Progress:
    def __init__(self, total: int, stream: TextIO, label: str) -> None:
        self.total = total
        self.stream = stream
        self.label = label
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._step = 0

    def __call__(self, done: int) -> None:
        if self.total <= 0:
            return
        done = min(done, self.total)
        if self.tty:
            filled = BAR_WIDTH * done // self.total
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            end = "\n" if done == self.total else ""
            self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total}{end}")
        else:
            step = STEPS * done // self.total
            if step <= self._step:
                return
            self._step = step
            self.stream.write(f"{self.label}: {done}/{self.total} ({100 * done // self.total}%)\n")
        self.stream.flush()
