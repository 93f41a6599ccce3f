"""The service as Lambda holds it, rebuilt on this machine for the bench.

- `build(arch)`: `make build ARCH=<arch>` into .bench-cache/build-<arch> (the same target CI runs,
  tools/check_build.py included), so the bench measures the working tree as it would ship.
- `runtime_boto3(python)`: boto3 as the Lambda runtime bundles it (the python3.13 runtime has it
  in its own site-packages, after the layer on sys.path): the project's boto3 pin installed for
  Python 3.13 into .bench-cache/, never into the project's virtualenvs, and compiled like the
  artifacts (its .pyc must not depend on file times the copies below would change).
- `read_only_tree(...)`: a temporary copy laid out like an execution environment — /var/task
  (one directory per function), /opt/python (the layer), the runtime's boto3 — made read-only.
  We may run as root, whom permissions do not stop, so the measurement also sets
  PYTHONDONTWRITEBYTECODE=1 and `bytecode_written()` counts any .pyc written anyway.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tools import bytecode

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".bench-cache"
LAYER = "SharedLayer"


class Unavailable(RuntimeError):
    """The as-deployed figures cannot be measured here (reason in the message)."""


def machine_arch() -> str | None:
    """The Lambda architecture this machine can run, if any."""
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower()
    )


def function_dirs() -> dict[str, str]:
    """functions/<name> -> its logical id, which names its directory in the build output."""
    from local import cfn_yaml

    template = cfn_yaml.load(ROOT / "template.yaml")
    found = {}
    for logical_id, resource in cfn_yaml.resources_of_type(template, "AWS::Serverless::Function"):
        code_uri = str((resource.get("Properties") or {}).get("CodeUri", ""))
        found[Path(code_uri).name] = logical_id
    return found


def build(arch: str, timeout: float = 600) -> Path:
    target = CACHE / f"build-{arch}"
    try:
        subprocess.run(  # noqa: S603 - our own Makefile, fixed arguments
            ["make", "--no-print-directory", "build", f"ARCH={arch}", f"BUILD_DIR={target}"],  # noqa: S607
            cwd=ROOT, check=True, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as error:
        detail = str(getattr(error, "stderr", "") or error).strip()
        raise Unavailable(f"make build ARCH={arch} failed: {detail[-400:]}") from error
    return target


def _boto3_pin() -> str:
    pins = (ROOT / "requirements-dev.txt").read_text()
    found = re.search(r"^boto3==(\S+)", pins, re.MULTILINE)
    if not found:
        raise Unavailable("no boto3 pin in requirements-dev.txt")
    return found.group(1)


def runtime_boto3(python: str, timeout: float = 300) -> Path:
    version = _boto3_pin()
    target = CACHE / f"runtime-boto3-{version}-cp313"
    if target.exists():
        return target
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        subprocess.run(  # noqa: S603 - pip of the runtime's interpreter, fixed arguments
            [python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet", "--no-compile",
             "--target", str(staging), f"boto3=={version}"],
            check=True, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        shutil.rmtree(staging / "bin", ignore_errors=True)
        bytecode.compile_tree(python, staging, "/var/lang/lib/python3.13/site-packages")
    except (OSError, subprocess.SubprocessError) as error:
        detail = str(getattr(error, "stderr", "") or error).strip()
        raise Unavailable(f"could not install boto3=={version} for Python 3.13: {detail[-300:]}") from error
    staging.rename(target)
    return target


def _without_bytecode(directory: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "__pycache__" or name.endswith(".pyc")]


@dataclass
class Tree:
    root: Path
    functions: dict[str, Path]  # functions/<name> -> its /var/task
    layer: Path  # /opt/python
    runtime: Path  # the runtime's site-packages (boto3)
    shipped_bytecode: int = 0

    def sys_path(self, function: str | None) -> list[str]:
        """sys.path as Lambda orders it: /var/task, /opt/python, then the runtime's packages."""
        task = [str(self.functions[function])] if function else []
        return [*task, str(self.layer), str(self.runtime)]

    def bytecode_written(self) -> int:
        return sum(1 for _ in self.root.rglob("*.pyc")) - self.shipped_bytecode


@contextmanager
def read_only_tree(build_dir: Path, boto3_dir: Path, *, with_bytecode: bool = True) -> Iterator[Tree]:
    ignore = None if with_bytecode else _without_bytecode
    with tempfile.TemporaryDirectory(prefix="bench-deployed-") as temp:
        root = Path(temp)
        functions = {}
        for name, logical_id in function_dirs().items():
            functions[name] = root / "task" / name
            shutil.copytree(build_dir / logical_id, functions[name], ignore=ignore)
        shutil.copytree(build_dir / LAYER / "python", root / "opt" / "python", ignore=ignore)
        shutil.copytree(boto3_dir, root / "runtime")  # copy2 keeps the file times, as an image does
        tree = Tree(root, functions, root / "opt" / "python", root / "runtime")
        tree.shipped_bytecode = tree.bytecode_written()
        for path in root.rglob("*"):
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        try:
            yield tree
        finally:
            for path in [root, *root.rglob("*")]:
                if path.is_dir():
                    path.chmod(path.stat().st_mode | stat.S_IWUSR)


def clean_env() -> dict[str, str]:
    """The environment of a measured interpreter: ours without Python or AWS endpoint settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_ENDPOINT"))}
