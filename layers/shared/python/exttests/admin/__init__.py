"""The operator CLI: `python -m exttests.admin` (`make admin ARGS="..."`); `--help` for the commands.

A thin shell over the operations use cases (`usecases.operations`) and the roster loader, aimed
at the local stack (`make run`) or a deployed stack (`--stack-name`). Not part of the Lambda
functions: nothing in the service imports it.
"""
