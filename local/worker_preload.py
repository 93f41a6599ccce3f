"""Imported once by the server that forks the local stack's Lambda workers (local.workers): the
third-party libraries every handler imports, and botocore's data for the services the handlers
call (local.botocore_data), so that a worker's init phase imports only the handler and the
layer's own code, and its first client is not slowed by parsing botocore's JSON (70 ms of CPU
for three clients). Nothing here reads the function's environment or keeps a client: each
worker sets its function's environment after the fork and makes its own clients."""

import boto3  # noqa: F401
import botocore.session  # noqa: F401
import pydantic  # noqa: F401
import requests  # noqa: F401
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver  # noqa: F401
from aws_lambda_powertools.event_handler.openapi import params  # noqa: F401
from aws_lambda_powertools.logging import Logger  # noqa: F401
from aws_lambda_powertools.metrics import single_metric  # noqa: F401
from aws_lambda_powertools.utilities.batch import BatchProcessor  # noqa: F401

from local import botocore_data

botocore_data.read_for_clients(["dynamodb", "stepfunctions", "kms", "events"])  # the adapters' services
