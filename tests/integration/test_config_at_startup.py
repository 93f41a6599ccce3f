"""A bad setting stops a function's cold start, and `make run`, at once, naming the variable."""

from __future__ import annotations

import subprocess
import sys

from tests.support import ROOT


def test_a_function_with_a_bad_setting_fails_its_cold_start() -> None:
    """Inside a Lambda runtime (AWS_LAMBDA_FUNCTION_NAME set) the handler module does not import."""
    code = "import sys; sys.path[:0] = ['layers/shared/python', 'functions/progress']; import app"
    env = {"AWS_LAMBDA_FUNCTION_NAME": "progress", "TABLE_NAME": "t", "MASTERY_THRESHOLD": "high", "PATH": ""}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "ConfigError" in done.stderr and "MASTERY_THRESHOLD" in done.stderr


def test_make_run_stops_at_once_on_a_bad_setting_naming_it() -> None:
    env = {"MASTERY_THRESHOLD": "lots", "PORT": "0", "PATH": "", "SWEEPER_INTERVAL_SECONDS": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "local.stack"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "MASTERY_THRESHOLD" in done.stderr
