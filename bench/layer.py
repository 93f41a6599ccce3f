"""The shared layer's unzipped size, built the way layers/shared/Makefile builds it.

The third-party part (pip, python3.13 / manylinux2014_x86_64 wheels) is cached under
.bench-cache/ keyed by the requirements file's hash; the exttests package is added from the
working tree on every run. Without network (pip fails) the figure is reported as not measured.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".bench-cache"
REQUIREMENTS = ROOT / "layers" / "shared" / "requirements.txt"
PACKAGE = ROOT / "layers" / "shared" / "python" / "exttests"


def _size(path: Path) -> tuple[int, int]:
    total = files = 0
    for item in path.rglob("*"):
        if item.is_file() and "__pycache__" not in item.parts and item.suffix not in (".pyc", ".pyo"):
            total += item.stat().st_size
            files += 1
    return total, files


def _build_dependencies(target: Path, timeout: float) -> None:
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    subprocess.run(  # noqa: S603 - pip of our own interpreter, fixed arguments
        [
            sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-compile",
            "--quiet", "--platform", "manylinux2014_x86_64", "--implementation", "cp",
            "--python-version", "3.13", "--only-binary=:all:", "--upgrade",
            "--target", str(staging / "python"), "-r", str(REQUIREMENTS),
        ],
        check=True, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    for cache_dir in list((staging / "python").rglob("__pycache__")):
        shutil.rmtree(cache_dir, ignore_errors=True)
    shutil.rmtree(staging / "python" / "bin", ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def measure(timeout: float = 300) -> dict[str, Any]:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    target = CACHE / f"layer-deps-{digest}"
    cached = target.exists()
    if not cached:
        try:
            CACHE.mkdir(exist_ok=True)
            _build_dependencies(target, timeout)
        except (subprocess.SubprocessError, OSError) as error:
            detail = getattr(error, "stderr", "") or str(error)
            return {
                "measured": False,
                "reason": f"pip could not download the layer's wheels: {str(detail).strip()[-300:]}",
            }
    deps_bytes, deps_files = _size(target / "python")
    own_bytes, own_files = _size(PACKAGE)
    packages: dict[str, int] = {}
    for entry in (target / "python").iterdir():
        size = _size(entry)[0] if entry.is_dir() else entry.stat().st_size
        name = entry.name.split("-")[0] if entry.name.endswith(".dist-info") else entry.name
        packages[name] = packages.get(name, 0) + size
    largest = sorted(packages.items(), key=lambda kv: kv[1], reverse=True)[:8]
    total = deps_bytes + own_bytes
    return {
        "measured": True,
        "cached_dependencies": cached,
        "unzipped_bytes": total,
        "unzipped_mb": round(total / 1_000_000, 2),
        "files": deps_files + own_files,
        "exttests_bytes": own_bytes,
        "largest_packages_mb": {name: round(size / 1_000_000, 2) for name, size in largest},
    }
