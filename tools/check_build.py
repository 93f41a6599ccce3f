"""Checks a `sam build` output before it ships: `python -m tools.check_build .aws-sam/build --arch arm64`.

Every directory of the build output is one artifact (a function, or a layer: the one with a
`python/` directory). Checked:
- every `.py` has its `__pycache__/<name>.cpython-313.pyc`, compiled by Python 3.13 in
  unchecked-hash mode (tools/bytecode.py) — unless `--no-bytecode`;
- every wheel installed in a layer fits the runtime: a `Tag:` of its `*.dist-info/WHEEL` is for
  CPython 3.13 (cp313, abi3 or pure py3) on the architecture or on any platform;
- every shared object (`*.so`, `*.so.N`) is an ELF file for the architecture (e_machine), and an
  extension module named for an interpreter (`*.cpython-3XX-<arch>-linux-gnu.so`) is for 3.13;
- the layer's BuildArchitecture in the built template is the architecture checked.
Standard library only: it runs on the build machine's python3.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tools.runtime_python import MAGIC_313, VERSION_TAG

# ELF e_machine values (System V ABI) and the platform suffixes of wheel tags and .so names.
ARCHITECTURES = {
    "arm64": {"e_machine": 183, "platform": "aarch64"},
    "x86_64": {"e_machine": 62, "platform": "x86_64"},
}
E_MACHINE_NAMES = {183: "aarch64", 62: "x86_64", 3: "i386", 40: "arm"}
PYC_FLAGS_UNCHECKED_HASH = 0b01  # PEP 552: hash-based, check_source off
EXTENSION_NAME = re.compile(r"\.cpython-(\d+)-([a-z0-9_]+)-linux-gnu\.so$")


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    sources: int = 0
    wheels: int = 0
    shared_objects: int = 0

    def add(self, problem: str) -> None:
        self.problems.append(problem)


def _sources(artifact: Path) -> Iterator[Path]:
    for path in sorted(artifact.rglob("*.py")):
        if "__pycache__" not in path.parts and path.is_file():
            yield path


def check_bytecode(artifact: Path, root: Path, report: Report) -> None:
    for source in _sources(artifact):
        report.sources += 1
        pyc = source.parent / "__pycache__" / f"{source.stem}.{VERSION_TAG}.pyc"
        where = source.relative_to(root)
        if not pyc.is_file():
            report.add(f"{where}: no __pycache__/{pyc.name}")
            continue
        header = pyc.read_bytes()[:8]
        if header[:4] != MAGIC_313:
            report.add(f"{where}: {pyc.name} was not compiled by Python 3.13 (magic {header[:4]!r})")
        elif int.from_bytes(header[4:8], "little") != PYC_FLAGS_UNCHECKED_HASH:
            report.add(f"{where}: {pyc.name} is not unchecked-hash bytecode (flags {header[4:8].hex()})")


def tag_fits(tag: str, arch: str) -> bool:
    """Whether one wheel tag (`python-abi-platform`) runs on CPython 3.13 on `arch`."""
    parts = tag.split("-")
    if len(parts) != 3:
        return False
    pythons, abis, platforms = (part.split(".") for part in parts)
    suffix = ARCHITECTURES[arch]["platform"]
    platform_ok = any(p == "any" or p.endswith(f"_{suffix}") for p in platforms)

    def python_ok(python: str, abi: str) -> bool:
        if python in ("py3", "py313") or (python.startswith("py3") and abi == "none"):
            return abi in ("none", "abi3", "cp313")
        version = re.fullmatch(r"cp3(\d+)", python)
        if not version:
            return False
        minor = int(version.group(1))
        return minor == 13 if abi != "abi3" else minor <= 13

    return platform_ok and any(python_ok(p, a) for p in pythons for a in abis)


def check_wheels(site: Path, root: Path, arch: str, report: Report) -> None:
    for wheel in sorted(site.glob("*.dist-info/WHEEL")):
        report.wheels += 1
        lines = wheel.read_text().splitlines()
        tags = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Tag:")]
        if not tags:
            report.add(f"{wheel.relative_to(root)}: no Tag line")
        elif not any(tag_fits(tag, arch) for tag in tags):
            report.add(f"{wheel.parent.relative_to(root)}: tags {', '.join(tags)} do not fit cp313 {arch}")


def _is_shared_object(path: Path) -> bool:
    return path.is_file() and (path.suffix == ".so" or ".so." in path.name)


def check_shared_objects(artifact: Path, root: Path, arch: str, report: Report) -> None:
    wanted = ARCHITECTURES[arch]
    for path in sorted(p for p in artifact.rglob("*.so*") if _is_shared_object(p)):
        report.shared_objects += 1
        where = path.relative_to(root)
        with path.open("rb") as handle:
            header = handle.read(20)
        if len(header) < 20 or header[:4] != b"\x7fELF":
            report.add(f"{where}: not an ELF file")
            continue
        machine = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
        if machine != wanted["e_machine"]:
            name = E_MACHINE_NAMES.get(machine, f"e_machine {machine}")
            report.add(f"{where}: built for {name}, not {wanted['platform']}")
        named = EXTENSION_NAME.search(path.name)
        if named and (named.group(1) != "313" or named.group(2) != wanted["platform"]):
            report.add(f"{where}: extension module named for cpython-{named.group(1)} {named.group(2)}")


def template_architectures(build_dir: Path) -> set[str]:
    """The BuildArchitecture values SAM resolved into the built template (plain YAML it writes)."""
    template = build_dir / "template.yaml"
    if not template.is_file():
        return set()
    return set(re.findall(r"^\s*BuildArchitecture:\s*['\"]?([\w-]+)", template.read_text(), re.MULTILINE))


def check(build_dir: Path, arch: str, *, bytecode: bool = True) -> Report:
    report = Report()
    artifacts = sorted(p for p in build_dir.iterdir() if p.is_dir())
    if not artifacts:
        report.add(f"{build_dir}: no artifacts (run `make build`)")
    for resolved in sorted(template_architectures(build_dir) - {arch}):
        report.add(f"template.yaml: the layer was built for BuildArchitecture {resolved}, not {arch}")
    for artifact in artifacts:
        if bytecode:
            check_bytecode(artifact, build_dir, report)
        if (artifact / "python").is_dir():
            check_wheels(artifact / "python", build_dir, arch, report)
        check_shared_objects(artifact, build_dir, arch, report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", type=Path, nargs="?", default=Path(".aws-sam/build"))
    parser.add_argument("--arch", required=True, choices=sorted(ARCHITECTURES))
    parser.add_argument("--no-bytecode", action="store_true", help="the build was made with NO_BYTECODE=1")
    args = parser.parse_args(argv)
    if not args.build_dir.is_dir():
        print(f"check_build: {args.build_dir} does not exist (run `make build`)", file=sys.stderr)
        return 1
    report = check(args.build_dir, args.arch, bytecode=not args.no_bytecode)
    for problem in report.problems[:50]:
        print(f"check_build: {problem}", file=sys.stderr)
    if len(report.problems) > 50:
        print(f"check_build: ... and {len(report.problems) - 50} more", file=sys.stderr)
    bytecode = f"{report.sources} .py with 3.13 .pyc"
    if args.no_bytecode:
        bytecode = "no bytecode check (NO_BYTECODE=1)"
    verdict = f"{len(report.problems)} problem(s)" if report.problems else "OK"
    print(
        f"check_build {args.build_dir} ({args.arch}): {bytecode}, {report.wheels} wheels, "
        f"{report.shared_objects} shared objects: {verdict}"
    )
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
