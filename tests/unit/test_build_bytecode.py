"""tools/runtime_python.py (finding Python 3.13) and tools/bytecode.py (compiling an artifact)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tools import bytecode, check_build, runtime_python


def fake_python(path: Path, *, version: str | None) -> str:
    """An executable answering the version probe like an interpreter (or failing like a pyenv shim)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = f'echo "{version}"' if version else 'echo "pyenv: python3.13: command not found" >&2; exit 127'
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_python313_is_taken_when_set(tmp_path: Path) -> None:
    chosen = fake_python(tmp_path / "custom" / "python", version="3 13")
    assert runtime_python.find({"PYTHON313": chosen, "PATH": ""}, home=tmp_path) == chosen


def test_a_wrong_python313_setting_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    wrong = fake_python(tmp_path / "custom" / "python", version="3 11")
    fake_python(tmp_path / ".pyenv" / "versions" / "3.13.0" / "bin" / "python3.13", version="3 13")
    with pytest.raises(runtime_python.RuntimePythonNotFound, match="PYTHON313="):
        runtime_python.find({"PYTHON313": wrong, "PATH": ""}, home=tmp_path)


def test_a_failing_shim_on_path_falls_back_to_the_newest_pyenv_version(tmp_path: Path) -> None:
    fake_python(tmp_path / "bin" / "python3.13", version=None)
    fake_python(tmp_path / ".pyenv" / "versions" / "3.13.2" / "bin" / "python3.13", version="3 13")
    newest = fake_python(tmp_path / ".pyenv" / "versions" / "3.13.10" / "bin" / "python3.13", version="3 13")
    assert runtime_python.find({"PATH": str(tmp_path / "bin")}, home=tmp_path) == newest


def test_python313_on_path_comes_before_pyenv(tmp_path: Path) -> None:
    on_path = fake_python(tmp_path / "bin" / "python3.13", version="3 13")
    fake_python(tmp_path / ".pyenv" / "versions" / "3.13.0" / "bin" / "python3.13", version="3 13")
    assert runtime_python.find({"PATH": str(tmp_path / "bin")}, home=tmp_path) == on_path


def test_no_python313_says_how_to_build_without_bytecode(tmp_path: Path) -> None:
    with pytest.raises(runtime_python.RuntimePythonNotFound, match="NO_BYTECODE=1"):
        runtime_python.find({"PATH": ""}, home=tmp_path)


def test_the_build_fails_without_python313(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NO_BYTECODE", raising=False)
    monkeypatch.setenv("PYTHON313", fake_python(tmp_path / "python", version="3 12"))
    assert bytecode.main([str(tmp_path), "--runtime-root", "/var/task"]) == 2
    assert "NO_BYTECODE=1" in capsys.readouterr().err


def test_no_bytecode_compiles_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app.py").write_text("VALUE = 1\n")
    monkeypatch.setenv("NO_BYTECODE", "1")
    monkeypatch.setenv("PYTHON313", "/nonexistent")
    assert bytecode.main([str(tmp_path), "--runtime-root", "/var/task"]) == 0
    assert not list(tmp_path.rglob("*.pyc"))


def test_a_compiled_artifact_passes_the_checker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        runtime_python.find()
    except runtime_python.RuntimePythonNotFound:
        pytest.skip("no Python 3.13 on this machine")
    artifact = tmp_path / "build" / "AssignFunction"
    (artifact / "pkg").mkdir(parents=True)
    (artifact / "app.py").write_text("from pkg import rules\n")
    (artifact / "pkg" / "rules.py").write_text("def rule():\n    return 1\n")
    monkeypatch.delenv("NO_BYTECODE", raising=False)
    assert bytecode.main([str(artifact), "--runtime-root", "/var/task"]) == 0
    report = check_build.check(tmp_path / "build", "arm64")
    assert (report.problems, report.sources) == ([], 2)
    # The code objects name the file where Lambda will have it, not the build directory.
    compiled = (artifact / "pkg" / "__pycache__" / "rules.cpython-313.pyc").read_bytes()
    assert b"/var/task/pkg/rules.py" in compiled
