"""The build settings of template.yaml: one Architecture parameter, makefile builds that compile
bytecode, SnapStart as an option on the HTTP functions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from local import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = cfn_yaml.load(ROOT / "template.yaml")
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]
GLOBAL_FUNCTION: dict[str, Any] = TEMPLATE["Globals"]["Function"]
FUNCTIONS = dict(cfn_yaml.resources_of_type(TEMPLATE, "AWS::Serverless::Function"))
HTTP_FUNCTIONS = {route.function for route in cfn_yaml.http_routes(TEMPLATE)}
LAYER = TEMPLATE["Resources"]["SharedLayer"]
ARCHITECTURE = {"Ref": "Architecture"}


def test_architecture_is_one_parameter_defaulting_to_arm64() -> None:
    assert PARAMETERS["Architecture"]["AllowedValues"] == ["arm64", "x86_64"]
    assert PARAMETERS["Architecture"]["Default"] == "arm64"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_runs_on_the_parameter_architecture(logical_id: str) -> None:
    own = FUNCTIONS[logical_id].get("Properties") or {}
    assert own.get("Architectures", GLOBAL_FUNCTION["Architectures"]) == [ARCHITECTURE]


def test_the_layer_is_built_and_published_for_the_parameter_architecture() -> None:
    assert LAYER["Properties"]["CompatibleArchitectures"] == [ARCHITECTURE]
    assert LAYER["Metadata"]["BuildArchitecture"] == ARCHITECTURE


@pytest.mark.parametrize(("arch", "platform"), [("arm64", "aarch64"), ("x86_64", "x86_64")])
def test_the_layer_makefile_downloads_the_wheels_of_each_architecture(arch: str, platform: str) -> None:
    makefile = (ROOT / "layers" / "shared" / "Makefile").read_text()
    assert f"WHEEL_PLATFORM_{arch} := manylinux2014_{platform}" in makefile
    assert "--platform $(WHEEL_PLATFORM)" in makefile


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_is_built_by_the_functions_makefile(logical_id: str) -> None:
    assert FUNCTIONS[logical_id]["Metadata"] == {"BuildMethod": "makefile", "ContextPath": "functions"}
    assert re.search(r"^build-%:", (ROOT / "functions" / "Makefile").read_text(), re.MULTILINE)


def test_both_makefiles_compile_bytecode_where_lambda_mounts_the_code() -> None:
    layer = (ROOT / "layers" / "shared" / "Makefile").read_text()
    functions = (ROOT / "functions" / "Makefile").read_text()
    assert "$(call compile_bytecode,$(ARTIFACTS_DIR),/opt)" in layer
    assert "$(call compile_bytecode,$(ARTIFACTS_DIR),/var/task)" in functions


def test_snapstart_is_off_by_default() -> None:
    assert PARAMETERS["SnapStart"]["AllowedValues"] == ["None", "PublishedVersions"]
    assert PARAMETERS["SnapStart"]["Default"] == "None"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_only_the_http_functions_take_snapstart_behind_an_alias(logical_id: str) -> None:
    props = FUNCTIONS[logical_id]["Properties"]
    if logical_id in HTTP_FUNCTIONS:
        assert props["SnapStart"] == {"ApplyOn": {"Ref": "SnapStart"}}
        assert props["AutoPublishAlias"] == "live"  # the HTTP API invokes the published version
    else:
        assert "SnapStart" not in props and "AutoPublishAlias" not in props
