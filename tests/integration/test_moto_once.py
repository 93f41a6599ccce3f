"""local.moto_once: moto's Step Functions interpreter parses a definition and a JSONPath once per
process, a program it shares between executions is safe to share, and moto's server lists its
service modules once."""

from __future__ import annotations

import json

import pytest

from local import moto_once
from tests.support import ROOT

DEFINITION = (ROOT / "statemachine" / "finalization.asl.json").read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def parsing_once() -> None:
    moto_once.install()


def test_the_same_definition_is_parsed_once_and_its_program_reused() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    first, _ = AmazonStateLanguageParser.parse(DEFINITION)
    again, _ = AmazonStateLanguageParser.parse(DEFINITION)
    assert again is first


def test_every_component_of_a_shared_program_has_its_heap_key_before_any_execution() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    # A definition no other test parsed: its program is built here, by the memoized parse.
    definition = json.loads(DEFINITION)
    definition["Comment"] = "heap keys"
    program, _ = AmazonStateLanguageParser.parse(json.dumps(definition))
    components = moto_once.eval_components(program)
    assert len(components) > 50  # the walk reached the states, their retries and paths
    unset = [type(c).__name__ for c in components if c._EvalComponent__heap_key is None]
    assert not unset


def test_a_definition_that_does_not_parse_is_refused_every_time() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser, ASLParserException

    for _ in range(2):
        with pytest.raises(ASLParserException):
            AmazonStateLanguageParser.parse('{"StartAt": "A", "States": {"A": {"Type": "Nope"}}}')


def test_a_json_path_is_parsed_once_and_finds_the_same_values() -> None:
    from moto.stepfunctions.parser.asl.utils import json_path

    assert json_path.parse("$.a.b[0]") is json_path.parse("$.a.b[0]")
    assert json_path.extract_json("$.a.b[0]", {"a": {"b": [7, 8]}}) == 7
    assert json_path.extract_json("$.a.b[0]", {"a": {"b": [9]}}) == 9


def test_the_moto_server_lists_its_service_modules_once_and_the_same_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    import moto
    from moto import backends

    listed = sorted(
        name
        for name in os.listdir(os.path.dirname(moto.__file__))
        if os.path.isdir(os.path.join(os.path.dirname(moto.__file__), name)) and not name.startswith("__")
    )
    monkeypatch.setattr(os, "listdir", lambda *_: pytest.fail("moto listed its package again"))
    assert list(backends.list_of_moto_modules()) == listed
    assert "dynamodb" in backends.list_of_moto_modules()


def test_symmetric_keys_share_one_key_pair_and_each_asymmetric_key_has_its_own() -> None:
    import boto3
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.kms.models import kms_backends

    with mock_aws():
        kms = boto3.client("kms", region_name="us-east-1")
        first, second = (kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(2))
        made = [kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY") for _ in range(2)]
        signing = [key["KeyMetadata"]["KeyId"] for key in made]
        keys = kms_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].keys
        assert keys[first].private_key is keys[second].private_key
        assert keys[signing[0]].private_key is not keys[signing[1]].private_key
        assert keys[signing[0]].private_key is not keys[first].private_key
        # Each symmetric key still encrypts with material of its own.
        sealed = kms.encrypt(KeyId=first, Plaintext=b"secret")["CiphertextBlob"]
        opened = kms.decrypt(CiphertextBlob=sealed)
        assert opened["Plaintext"] == b"secret" and opened["KeyId"].endswith(first)
        assert keys[first].key_material != keys[second].key_material
        signed = kms.sign(KeyId=signing[0], Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
        assert kms.verify(
            KeyId=signing[0], Message=b"m", Signature=signed, SigningAlgorithm="RSASSA_PSS_SHA_256"
        )["SignatureValid"]


def test_moto_reads_botocore_models_through_the_loader_the_clients_share() -> None:
    import botocore.session
    from moto.core import utils as moto_utils

    shared = botocore.session.Session().get_component("data_loader")
    assert moto_utils.create_loader() is shared
    assert botocore.session.Session().get_component("data_loader") is shared
