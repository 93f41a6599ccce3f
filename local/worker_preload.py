"""Imported once by the server that forks the local stack's Lambda workers (local.workers): the
third-party libraries every handler imports, so that a worker's init phase imports only the
handler and the layer's own code. Nothing here reads the environment or creates a client: each
worker sets its function's environment after the fork."""

import boto3  # noqa: F401
import botocore.session  # noqa: F401
import pydantic  # noqa: F401
import requests  # noqa: F401
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver  # noqa: F401
from aws_lambda_powertools.event_handler.openapi import params  # noqa: F401
from aws_lambda_powertools.logging import Logger  # noqa: F401
from aws_lambda_powertools.metrics import single_metric  # noqa: F401
from aws_lambda_powertools.utilities.batch import BatchProcessor  # noqa: F401
