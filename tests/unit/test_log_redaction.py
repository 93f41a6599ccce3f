"""No secret or token survives into a log record, whatever logger made it and at any level."""

from __future__ import annotations

import logging

import pytest

from exttests import log_redaction
from exttests.log_redaction import redact

SESSION_TOKEN = "IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQDj3KpXwSR4Z+XzOw1a9S2nq7k/fUzVb0XWqdRi3H7sJk2gIg=="
TASK_TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAeMdJ2y1dQk+Vb3kL0/qPz8Xw4Hm9Fa2TtR7uYcN5sE6gB1oZ=="
SIGNATURE = "ea767767ddcd12964bbef54c2e7bb035944a2c6dee9cf2ddec3e2a7c7e98c971"

BOTOCORE_LINES = {
    "request headers": (
        "Sending http request: <AWSPreparedRequest stream_output=False, method=POST, "
        "url=https://states.us-east-1.amazonaws.com/, "
        "headers={'X-Amz-Target': b'AWSStepFunctions.SendTaskSuccess', "
        f"'X-Amz-Date': b'20261201T182414Z', 'X-Amz-Security-Token': b'{SESSION_TOKEN}', 'Authorization': "
        "b'AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261201/us-east-1/states/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
        f"Signature={SIGNATURE}'}}>"
    ),
    "canonical request": (
        "CanonicalRequest:\nPOST\n/\n\ncontent-type:application/x-amz-json-1.0\nhost:states.us-east-1.amazonaws.com\n"
        f"x-amz-date:20261201T182414Z\nx-amz-security-token:{SESSION_TOKEN}\nx-amz-target:AWSStepFunctions.X\n"
    ),
    "signature line": f"Signature:\n{SIGNATURE}",
    "query parameter": f"https://bucket.s3.amazonaws.com/k?X-Amz-Security-Token={SESSION_TOKEN}&X-Amz-Expires=60",
    "send task success": (
        "Making request for OperationModel(name=SendTaskSuccess) with params: {'url_path': '/', "
        f'\'body\': b\'{{"taskToken": "{TASK_TOKEN}", "output": "{{\\\\"finalized\\\\": true}}"}}\'}}'
    ),
    "stored attempt": (
        'Response body:\nb\'{"Item": {"doc": {"S": "{\\\\"status\\\\":\\\\"assigned\\\\",'
        f'\\\\"task_token\\\\":\\\\"{TASK_TOKEN}\\\\",\\\\"version\\\\":4}}"}}}}}}\''
    ),
    "execution input": f'{{"input": "{{\\"TaskToken\\": \\"{TASK_TOKEN}\\"}}"}}',
    "kms plaintext": 'Response body:\nb\'{"KeyId": "k", "Plaintext": "c2VjcmV0LXBhc3N3b3Jk"}\'',
    "secret string": (
        'Response body:\nb\'{"SecretString": "{\\"password\\": \\"hunter2-secret\\"}", "Name": "x"}\''
    ),
}
SECRETS = [SESSION_TOKEN, TASK_TOKEN, SIGNATURE, "c2VjcmV0LXBhc3N3b3Jk", "hunter2-secret"]


@pytest.mark.parametrize("name", sorted(BOTOCORE_LINES))
def test_every_secret_botocore_prints_is_blanked(name: str) -> None:
    redacted = redact(BOTOCORE_LINES[name])
    assert "***" in redacted
    for secret in SECRETS:
        assert secret not in redacted, (name, redacted)


def test_what_is_not_secret_is_kept() -> None:
    line = (
        "Sending http request: headers={'X-Amz-Target': b'DynamoDB_20120810.GetItem', 'Authorization': "
        "b'AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261201/us-east-1/dynamodb/aws4_request, "
        f"Signature={SIGNATURE}'}}"
    )
    redacted = redact(line)
    assert "DynamoDB_20120810.GetItem" in redacted and "Credential=ASIAEXAMPLE/20261201" in redacted
    assert redact("the token endpoint answered 200 in 5 ms") == "the token endpoint answered 200 in 5 ms"


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    log_redaction.install()
    caplog.set_level(logging.DEBUG)
    return caplog


def test_every_logger_is_covered_at_debug_even_one_made_after_install(
    captured: pytest.LogCaptureFixture,
) -> None:
    made_later = logging.getLogger("botocore.a_module_imported_later")
    made_later.setLevel(logging.DEBUG)
    made_later.debug("Sending http request: headers={'X-Amz-Security-Token': b'%s'}", SESSION_TOKEN)
    logging.getLogger("exttests.anything").debug("SendTaskSuccess with taskToken=%s", TASK_TOKEN)
    assert len(captured.records) == 2
    for record in captured.records:
        assert SESSION_TOKEN not in record.getMessage() and TASK_TOKEN not in record.getMessage()
    assert SESSION_TOKEN not in captured.text and TASK_TOKEN not in captured.text


def test_a_record_that_cannot_be_formatted_does_not_print_its_arguments(
    captured: pytest.LogCaptureFixture,
) -> None:
    logging.getLogger("botocore.endpoint").debug("%s %s", SESSION_TOKEN)  # one argument short
    [record] = captured.records
    assert SESSION_TOKEN not in record.getMessage() and record.args is None


def test_a_structured_message_is_left_as_it_is(captured: pytest.LogCaptureFixture) -> None:
    message = {"event": "assigned", "attempt": 1}
    logging.getLogger("exttests").info(message)
    [record] = captured.records
    assert record.msg is message
