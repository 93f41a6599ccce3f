"""tools/check_build.py on small fake `sam build` outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import check_build
from tools.runtime_python import MAGIC_313

MAGIC_311 = (3495).to_bytes(2, "little") + b"\r\n"
AARCH64, X86_64 = 183, 62


def write_pyc(source: Path, *, magic: bytes = MAGIC_313, flags: int = 0b01) -> None:
    cache = source.parent / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / f"{source.stem}.cpython-313.pyc").write_bytes(magic + flags.to_bytes(4, "little") + bytes(8))


def write_source(path: Path, *, bytecode: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("VALUE = 1\n")
    if bytecode:
        write_pyc(path)
    return path


def write_elf(path: Path, machine: int) -> None:
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)  # 64-bit, little-endian
    path.write_bytes(ident + (3).to_bytes(2, "little") + machine.to_bytes(2, "little") + bytes(44))


def write_wheel(site: Path, name: str, *tags: str) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    lines = ["Wheel-Version: 1.0", "Root-Is-Purelib: false", *(f"Tag: {tag}" for tag in tags)]
    (info / "WHEEL").write_text("\n".join(lines) + "\n")


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A correct arm64 build: one function, one layer with a binary and a pure wheel."""
    root = tmp_path / "build"
    write_source(root / "AssignFunction" / "app.py")
    site = root / "SharedLayer" / "python"
    write_source(site / "exttests" / "__init__.py")
    write_source(site / "exttests" / "domain" / "rules.py")
    write_source(site / "fastlib" / "__init__.py")
    write_elf(site / "fastlib" / "_core.cpython-313-aarch64-linux-gnu.so", AARCH64)
    write_wheel(site, "fastlib", "cp313-cp313-manylinux_2_17_aarch64", "cp313-cp313-manylinux2014_aarch64")
    write_wheel(site, "purelib", "py3-none-any")
    (root / "template.yaml").write_text(
        "Resources:\n  SharedLayer:\n    Metadata:\n      BuildArchitecture: arm64\n"
    )
    return root


def problems(build: Path, arch: str = "arm64", **kwargs: bool) -> list[str]:
    return check_build.check(build, arch, **kwargs).problems


def test_a_complete_build_for_its_architecture_passes(build: Path) -> None:
    report = check_build.check(build, "arm64")
    assert report.problems == []
    assert (report.sources, report.wheels, report.shared_objects) == (4, 2, 1)


def test_a_source_without_its_bytecode_is_caught(build: Path) -> None:
    write_source(build / "SharedLayer" / "python" / "exttests" / "usecases" / "assign.py", bytecode=False)
    assert problems(build) == [
        "SharedLayer/python/exttests/usecases/assign.py: no __pycache__/assign.cpython-313.pyc"
    ]


def test_a_function_source_without_its_bytecode_is_caught(build: Path) -> None:
    (build / "AssignFunction" / "__pycache__" / "app.cpython-313.pyc").unlink()
    assert len(problems(build)) == 1


def test_bytecode_of_another_python_is_caught(build: Path) -> None:
    write_pyc(build / "AssignFunction" / "app.py", magic=MAGIC_311)
    assert "not compiled by Python 3.13" in problems(build)[0]


def test_timestamp_bytecode_is_caught(build: Path) -> None:
    write_pyc(build / "AssignFunction" / "app.py", flags=0)
    assert "not unchecked-hash" in problems(build)[0]


def test_a_build_without_bytecode_is_accepted_only_when_declared(build: Path) -> None:
    for pyc in build.rglob("*.pyc"):
        pyc.unlink()
    assert len(problems(build)) == 4
    assert problems(build, bytecode=False) == []


def test_a_shared_object_for_another_architecture_is_caught(build: Path) -> None:
    write_elf(build / "SharedLayer" / "python" / "fastlib" / "libhelper.so.1", X86_64)
    assert problems(build) == ["SharedLayer/python/fastlib/libhelper.so.1: built for x86_64, not aarch64"]


def test_an_extension_named_for_another_architecture_or_python_is_caught(build: Path) -> None:
    write_elf(build / "SharedLayer" / "python" / "fastlib" / "_a.cpython-313-x86_64-linux-gnu.so", AARCH64)
    write_elf(build / "SharedLayer" / "python" / "fastlib" / "_b.cpython-312-aarch64-linux-gnu.so", AARCH64)
    assert [p.split(": ", 1)[1] for p in problems(build)] == [
        "extension module named for cpython-313 x86_64",
        "extension module named for cpython-312 aarch64",
    ]


def test_a_file_named_like_a_shared_object_that_is_not_elf_is_caught(build: Path) -> None:
    (build / "SharedLayer" / "python" / "fastlib" / "broken.so").write_bytes(b"not elf")
    assert problems(build) == ["SharedLayer/python/fastlib/broken.so: not an ELF file"]


def test_the_whole_layer_checked_for_the_other_architecture_fails(build: Path) -> None:
    found = problems(build, "x86_64")
    assert any("BuildArchitecture arm64" in p for p in found)
    assert any("fastlib-1.0.dist-info: tags" in p for p in found)
    assert any("built for aarch64, not x86_64" in p for p in found)


def test_a_wheel_tagged_for_another_architecture_is_caught(build: Path) -> None:
    write_wheel(build / "SharedLayer" / "python", "otherlib", "cp313-cp313-manylinux2014_x86_64")
    assert problems(build) == [
        "SharedLayer/python/otherlib-1.0.dist-info: "
        "tags cp313-cp313-manylinux2014_x86_64 do not fit cp313 arm64"
    ]


@pytest.mark.parametrize(
    ("tag", "fits"),
    [
        ("py3-none-any", True),
        ("py2.py3-none-any", True),
        ("cp313-cp313-manylinux_2_28_aarch64", True),
        ("cp39-abi3-manylinux2014_aarch64", True),
        ("cp312-cp312-manylinux2014_aarch64", False),
        ("cp314-abi3-manylinux2014_aarch64", False),
        ("cp313-cp313-manylinux2014_x86_64", False),
        ("cp313-cp313-macosx_11_0_arm64", False),
        ("py2-none-any", False),
        ("garbage", False),
    ],
)
def test_which_wheel_tags_fit_cpython_313_on_arm64(tag: str, fits: bool) -> None:
    assert check_build.tag_fits(tag, "arm64") is fits


def test_the_command_fails_on_a_problem_and_passes_without(
    build: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check_build.main([str(build), "--arch", "arm64"]) == 0
    assert check_build.main([str(build), "--arch", "x86_64"]) == 1
    assert "problem(s)" in capsys.readouterr().out


def test_a_missing_build_fails(tmp_path: Path) -> None:
    assert check_build.main([str(tmp_path / "nothing"), "--arch", "arm64"]) == 1
