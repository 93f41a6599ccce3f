"""Finding the Python of the Lambda runtime (python3.13) on the build machine.

Order: `PYTHON313` if set (and then only it: a wrong setting is an error, not a silent
fallback), else `python3.13` on PATH, else `~/.pyenv/versions/3.13*/bin/python3.13`, newest
first. Every candidate is run once: a pyenv shim for a version that is installed but not
selected is on PATH and fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

RUNTIME_VERSION = (3, 13)
VERSION_TAG = "cpython-313"
# importlib.util.MAGIC_NUMBER of CPython 3.13 (fixed for every 3.13.x release): the checker
# runs on the build machine's Python, which has its own.
MAGIC_313 = (3571).to_bytes(2, "little") + b"\r\n"

HOW_TO_FIX = (
    "set PYTHON313=/path/to/python3.13, put python3.13 on PATH or install it with pyenv "
    "(~/.pyenv/versions/3.13.x); or build without bytecode with NO_BYTECODE=1 "
    "(e.g. `make build NO_BYTECODE=1`: every cold start then compiles the code)"
)


class RuntimePythonNotFound(RuntimeError):
    pass


def _version(executable: str) -> tuple[int, int] | None:
    try:
        done = subprocess.run(  # noqa: S603 - an interpreter we are asked to probe
            [executable, "-I", "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.fullmatch(r"(\d+) (\d+)\s*", done.stdout) if done.returncode == 0 else None
    return (int(found.group(1)), int(found.group(2))) if found else None


def version_string(executable: str) -> str:
    """The full version (e.g. 3.13.0) of a working interpreter."""
    done = subprocess.run(  # noqa: S603 - an interpreter find() accepted
        [executable, "-I", "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()


def _pyenv_candidates(home: Path) -> list[str]:
    def release(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.parent.name))

    found = sorted((home / ".pyenv" / "versions").glob("3.13*/bin/python3.13"), key=release, reverse=True)
    return [str(path) for path in found]


def find(env: Mapping[str, str] | None = None, home: Path | None = None) -> str:
    """The path of a working Python 3.13; RuntimePythonNotFound says how to get one."""
    env = os.environ if env is None else env
    explicit = env.get("PYTHON313")
    if explicit:
        if _version(explicit) != RUNTIME_VERSION:
            raise RuntimePythonNotFound(f"PYTHON313={explicit} is not a working Python 3.13; {HOW_TO_FIX}")
        return explicit
    on_path = shutil.which("python3.13", path=env.get("PATH"))
    candidates = ([on_path] if on_path else []) + _pyenv_candidates(home or Path.home())
    for candidate in candidates:
        if _version(candidate) == RUNTIME_VERSION:
            return candidate
    raise RuntimePythonNotFound(f"no Python 3.13 (the Lambda runtime's version) found; {HOW_TO_FIX}")
