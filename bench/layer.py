"""The shared layer as it ships: the arm64 `make build` output (bench.deployed.build), with its
bytecode. Unzipped = the sum of its file sizes (Lambda's 250 MB limit counts that); zipped = a
deflate zip of it, as `sam package`/`sam deploy` uploads it. MB = 10^6 bytes."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

LAYER = "SharedLayer"


def measure(build_dir: Path, arch: str) -> dict[str, Any]:
    layer = build_dir / LAYER
    sizes = {"sources": 0, "bytecode": 0, "other": 0}
    files = 0
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in layer.rglob("*") if p.is_file()):
            files += 1
            kind = "bytecode" if path.suffix == ".pyc" else "sources" if path.suffix == ".py" else "other"
            sizes[kind] += path.stat().st_size
            archive.write(path, path.relative_to(layer))
    unzipped = sum(sizes.values())
    zipped = len(buffer.getvalue())
    exttests = sum(p.stat().st_size for p in (layer / "python" / "exttests").rglob("*") if p.is_file())
    return {
        "measured": True,
        "architecture": arch,
        "files": files,
        "unzipped_bytes": unzipped,
        "unzipped_mb": round(unzipped / 1e6, 2),
        "sources_mb": round(sizes["sources"] / 1e6, 2),
        "bytecode_mb": round(sizes["bytecode"] / 1e6, 2),
        "other_mb": round(sizes["other"] / 1e6, 2),
        "zipped_bytes": zipped,
        "zipped_mb": round(zipped / 1e6, 2),
        "exttests_bytes": exttests,
        "largest_packages_mb": largest_packages(layer / "python"),
    }


def largest_packages(site: Path, count: int = 8) -> dict[str, float]:
    packages: dict[str, int] = {}
    for entry in site.iterdir():
        files = [p for p in entry.rglob("*") if p.is_file()] if entry.is_dir() else [entry]
        name = entry.name.split("-")[0] if entry.name.endswith(".dist-info") else entry.name
        packages[name] = packages.get(name, 0) + sum(p.stat().st_size for p in files)
    largest = sorted(packages.items(), key=lambda kv: kv[1], reverse=True)[:count]
    return {name: round(size / 1e6, 2) for name, size in largest}
