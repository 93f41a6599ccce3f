"""Imported once by the server that forks the local stack's Lambda workers (local.workers): the
third-party libraries every handler imports, and botocore's data for the services the handlers
call (local.botocore_data), so that a worker's init phase imports only the handler and the
layer's own code, and its first client is not slowed by parsing botocore's JSON (70 ms of CPU
for three clients). Nothing here reads the function's environment or keeps a client: each
worker sets its function's environment after the fork and makes its own clients.

The cyclic garbage collector is off while the libraries load (what they build lives on, and a
full collection each time the heap grew by a quarter went through it again: the preload took
0.43-0.50 s of CPU, now 0.31-0.33 s), and what they built is then frozen, so that no worker's
collection goes through it again (nor touches, and so copies, the pages it shares with the
server). Each worker collects its own objects at Python's default pace, as in Lambda."""

import gc
import importlib

from local import botocore_data

LIBRARIES = (
    "boto3",
    "botocore.session",
    "pydantic",
    "requests",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.event_handler.openapi.params",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.utilities.batch",
)
SERVICES = ("dynamodb", "stepfunctions", "kms", "events")  # the adapters' clients

gc.disable()
try:
    for library in LIBRARIES:
        importlib.import_module(library)
    botocore_data.read_for_clients(SERVICES)
finally:
    gc.freeze()
    gc.enable()
