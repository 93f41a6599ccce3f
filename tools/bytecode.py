"""Compile a Lambda artifact's sources with the runtime's Python (3.13), keeping the sources.

`python -m tools.bytecode ARTIFACT_DIR --runtime-root /opt` (the layer) or `/var/task` (a
function); run by the layer's and the functions' makefiles during `sam build`. With
NO_BYTECODE=1 it compiles nothing and says so.

Why: Lambda mounts /opt and /var/task read-only, so without shipped bytecode every cold start
compiles every module it imports, and compiles it again on the next cold start.

Invalidation mode unchecked-hash: the interpreter loads the .pyc without looking at the source
at all (no stat, no hash). The artifact is immutable once deployed, so a check could only cost
time; a timestamp .pyc would also depend on the source mtimes surviving the zip, and any
mismatch would silently bring back the compile on every cold start. The .pyc files are
rebuilt on every build, so they cannot go stale. `-s/-p` record the paths as Lambda sees them
(/opt/python/..., /var/task/...) instead of the build's temporary directory, which also makes
the bytecode identical from one build to the next.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from tools import runtime_python

INVALIDATION_MODE = "unchecked-hash"


def compile_tree(python: str, artifact: Path, runtime_root: str) -> None:
    subprocess.run(  # noqa: S603 - the runtime's interpreter, fixed arguments
        [
            python, "-I", "-m", "compileall", "-q", "-j", "0",
            "--invalidation-mode", INVALIDATION_MODE,
            "-s", str(artifact), "-p", runtime_root,
            str(artifact),
        ],
        check=True,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifact", type=Path, help="the built artifact directory (ARTIFACTS_DIR)")
    parser.add_argument("--runtime-root", required=True, help="where Lambda puts it: /opt or /var/task")
    args = parser.parse_args(argv)
    if os.environ.get("NO_BYTECODE") == "1":
        print(f"NO_BYTECODE=1: {args.artifact} ships without bytecode", file=sys.stderr)
        return 0
    try:
        python = runtime_python.find()
    except runtime_python.RuntimePythonNotFound as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        compile_tree(python, args.artifact.resolve(), args.runtime_root)
    except subprocess.CalledProcessError as error:
        print(f"error: compileall failed ({error.returncode}) in {args.artifact}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
