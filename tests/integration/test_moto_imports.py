"""local/moto_imports.py: moto's Step Functions interpreter starts without the Batch and EC2 models,
and Batch still works when something does call it (its models load then). In a fresh process,
since the test workers defer the import themselves."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support import ROOT

SCRIPT = r"""
import json, sys, boto3
from local.moto_imports import defer_batch_models
defer_batch_models()
import moto.stepfunctions.parser.models
from moto import mock_aws
loaded_at_start = sorted(name for name in ("moto.ec2", "moto.batch.models") if name in sys.modules)
with mock_aws():
    environments = boto3.client("batch").describe_compute_environments()["computeEnvironments"]
print(json.dumps({"loaded_at_start": loaded_at_start, "environments": environments,
                  "models_after_a_call": "moto.batch.models" in sys.modules}))
"""


def test_the_step_functions_interpreter_starts_without_batch_and_ec2_and_batch_still_answers() -> None:
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"loaded_at_start": [], "environments": [], "models_after_a_call": True}
