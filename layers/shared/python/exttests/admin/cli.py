"""Arguments, help, output and exit codes of `python -m exttests.admin`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from ..errors import BadRequest, ConfigError, NotFound, ServiceError
from ..roster_loader import RosterFileError, RosterWriteError
from . import commands, render
from .commands import FAILED, NOT_FOUND, REFUSED, USAGE, Outcome, Refused
from .local_stack import FILE_VARIABLE
from .since import HELP as SINCE_HELP
from .since import parse_since
from .targets import Target, TargetChoice, TargetError, connect

PROG = "python -m exttests.admin"
MAX_LIMIT = 1000
MAX_ID_LENGTH = 255

DESCRIPTION = """\
Operator commands for the external-tests service: look at an attempt, list the attempts that
need a look, restart a workflow, retry a failed enrollment, load a roster file."""

EPILOG = f"""\
commands:
  attempt show --student S --lesson L [--attempt N] | --result ID
                         an attempt's state, score, enrollment, its history of attempts, its
                         workflow execution and its stored enrollment record
  attempts list --stuck | --failed-enrollment | --expired [--since WHEN] [--limit N]
                         the attempts in one view, oldest first
  attempt redrive --student S --lesson L
                         restart the current attempt's workflow (a new generation)
  enrollment retry --student S --lesson L [--attempt N]
                         carry out a failed enrollment again, exactly once
  roster load FILE [--dry-run]
                         make the table's roster what FILE says (see `roster load --help`)

target (the stack the commands act on):
  by default, and with --local, the local stack that `make run` started: it announces itself
  in a discovery file (${FILE_VARIABLE}, else .local-state/stack.json in this directory or a
  parent). --stack-name NAME [--profile P] [--region R] targets a deployed stack instead: its
  table, state machine and key come from the CloudFormation stack's outputs and its settings
  from the stack's parameters.

output:
  tables for people; --json prints one JSON document for scripts (camelCase keys, ISO-8601
  times, null when unknown). Errors are one line on stderr.

exit codes:
  0  done
  1  failed (the target is unreachable or refused a call, an enrollment that still failed,
     interrupted, ...)
  2  usage error (bad arguments, an invalid roster file); nothing was changed
  3  not found (no such attempt, result id or stack)
  4  refused: nothing to do (the attempt needs no workflow, its enrollment has not failed), or
     not on this target (a roster file for a stack that reads its roster from TimeBack)
"""

ROSTER_EPILOG = """\
The whole file is validated before anything is read or written (as `python -m
exttests.roster_loader` does). Then it is compared, kind by kind (orgs, users, courses,
courseComponents, resources, lessons = componentResources, subjectTracks), with the roster in
the table; a summary says what is added, updated, unchanged and removed. Only what changed is
written. Objects in the table that the file no longer has are DELETED (an object whose status
is "tobedeleted" counts as no longer there). A kind whose list the file lacks altogether is
left as it is. --dry-run shows the same summary and writes nothing. Progress goes to stderr."""


def _identifier(text: str) -> str:
    if not 1 <= len(text) <= MAX_ID_LENGTH or not text.isprintable():
        raise argparse.ArgumentTypeError(f"must be 1-{MAX_ID_LENGTH} printable characters")
    return text


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text[:20]!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}")
        return value

    return parse


def _since(text: str) -> datetime:
    try:
        return parse_since(text, datetime.now(UTC))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--since must be ")) from None


def _common_options(defaults: bool) -> argparse.ArgumentParser:
    """Target and output options, accepted before the command and after it."""
    common = argparse.ArgumentParser(add_help=False)
    default: dict[str, Any] = {} if defaults else {"default": argparse.SUPPRESS}
    target = common.add_argument_group("target")
    target.add_argument("--local", action="store_true", help="the local stack (the default)", **default)
    target.add_argument("--stack-name", metavar="NAME", help="a deployed CloudFormation stack", **default)
    target.add_argument("--profile", help="AWS profile (with --stack-name)", **default)
    target.add_argument("--region", help="AWS region (with --stack-name)", **default)
    output = common.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="one JSON document on stdout", **default)
    output.add_argument(
        "-v", "--verbose", action="store_true", help="the service's own log lines on stderr", **default
    )
    return common


def _student_lesson(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--student", type=_identifier, required=required, help="the student's sourcedId")
    parser.add_argument("--lesson", type=_identifier, required=required, help="the lesson's sourcedId")


def _attempt_number(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--attempt", type=_bounded(1, 10**6), help="its number (default: the current attempt)"
    )


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(defaults=False)
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common_options(defaults=True)],
    )
    groups = parser.add_subparsers(dest="group", metavar="COMMAND", required=True)

    def group(name: str, summary: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        return groups.add_parser(name, help=summary).add_subparsers(
            dest="action", metavar="ACTION", required=True
        )

    def leaf(
        under: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        summary: str,
        run: Callable[..., Outcome],
        epilog: str | None = None,
    ) -> argparse.ArgumentParser:
        command = under.add_parser(
            name,
            help=summary,
            description=summary,
            epilog=epilog,
            parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.set_defaults(run=run, command_parser=command)
        return command

    attempt = group("attempt", "one attempt: show, redrive")
    show = leaf(
        attempt,
        "show",
        "An attempt's state, score, enrollment, history, workflow execution and enrollment record.",
        commands.attempt_show,
    )
    _student_lesson(show, required=False)
    _attempt_number(show)
    show.add_argument("--result", metavar="ID", type=_identifier, help="or: the AssessmentResult sourcedId")
    redrive = leaf(
        attempt,
        "redrive",
        "Restart the current attempt's workflow now (a new generation; a running one is stopped).",
        commands.attempt_redrive,
    )
    _student_lesson(redrive)

    attempts = group("attempts", "the attempts that need a look: list")
    listing = leaf(attempts, "list", "The attempts in one view, oldest first.", commands.attempts_list)
    view = listing.add_mutually_exclusive_group(required=True)
    view.add_argument(
        "--stuck",
        dest="view",
        action="store_const",
        const="stuck",
        help="workflow overdue: what the sweeper should already have restarted",
    )
    view.add_argument(
        "--failed-enrollment",
        dest="view",
        action="store_const",
        const="failed-enrollment",
        help="final attempts whose enrollment failed",
    )
    view.add_argument(
        "--expired", dest="view", action="store_const", const="expired", help="attempts past their deadline"
    )
    listing.add_argument("--since", type=_since, metavar="WHEN", help=SINCE_HELP)
    listing.add_argument(
        "--limit",
        type=_bounded(1, MAX_LIMIT),
        default=100,
        help=f"at most this many (default 100, max {MAX_LIMIT})",
    )

    enrollment = group("enrollment", "a failed enrollment: retry")
    retry = leaf(
        enrollment,
        "retry",
        "Carry out a failed enrollment again (exactly once, with its event), its course resolved afresh.",
        commands.enrollment_retry,
    )
    _student_lesson(retry)
    _attempt_number(retry)

    roster = group("roster", "the roster in the table: load")
    load = leaf(
        roster,
        "load",
        "Make the table's roster what a roster file says (removed objects are deleted).",
        commands.roster_load,
        ROSTER_EPILOG,
    )
    load.add_argument("file", metavar="FILE", help="the roster JSON file")
    load.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    return parser


def _check(args: argparse.Namespace) -> None:
    parser: argparse.ArgumentParser = args.command_parser
    if args.local and args.stack_name:
        parser.error("--local and --stack-name name different stacks: give one")
    if not args.stack_name and (args.profile or args.region):
        parser.error("--profile and --region go with --stack-name (the local stack has its own)")
    if args.run is commands.attempt_show:
        by_result = args.result is not None
        if by_result == (args.student is not None or args.lesson is not None or args.attempt is not None):
            parser.error("attempt show takes --student and --lesson [--attempt], or --result")
        if not by_result and (args.student is None or args.lesson is None):
            parser.error("attempt show needs both --student and --lesson")


def main(argv: Sequence[str] | None = None) -> int:
    stdout, stderr = sys.stdout, sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        _check(args)
    except SystemExit as exit_:  # --help (0) or a usage error (2, already explained on stderr)
        return exit_.code if isinstance(exit_.code, int) else USAGE
    choice = TargetChoice(args.stack_name, args.profile, args.region)
    try:
        # Whatever a library prints goes to stderr: stdout holds the answer alone.
        with (
            redirect_stdout(stderr),
            _service_logs(args.verbose, stderr),
            connect(choice, os.environ, Path.cwd()) as target,
        ):
            outcome = _run(args, target, stderr)
    except KeyboardInterrupt:
        print("error: interrupted (a roster load can simply be run again)", file=stderr)
        return FAILED
    except Exception as error:  # noqa: BLE001 - expected failures become one line; the rest re-raise
        code, message = _expected(error)
        print(f"error: {render.printable(message)}", file=stderr)
        return code
    print(render.dumps(outcome.document) if args.json else outcome.text, file=stdout)
    if outcome.error:
        print(f"error: {render.printable(outcome.error)}", file=stderr)
    return outcome.code


def _run(args: argparse.Namespace, target: Target, err: TextIO) -> Outcome:
    run: Callable[[argparse.Namespace, Target, TextIO], Outcome] = args.run
    return run(args, target, err)


@contextmanager
def _service_logs(verbose: bool, stream: TextIO) -> Iterator[None]:
    """The use cases log through the service's logger (JSON, stdout in Lambda): here it goes to
    stderr, and only warnings unless --verbose, so stdout holds nothing but the answer."""
    from ..observability import logger

    handler = logger.registered_handler
    level = logger.log_level
    previous = handler.setStream(stream) if isinstance(handler, logging.StreamHandler) else None
    logger.setLevel("INFO" if verbose else "WARNING")
    try:
        yield
    finally:
        logger.setLevel(level)
        if isinstance(handler, logging.StreamHandler) and previous is not None:
            handler.setStream(previous)


def _expected(error: Exception) -> tuple[int, str]:
    """The exit code and message of an expected failure; anything else is a bug and re-raised."""
    if isinstance(error, TargetError):
        return (NOT_FOUND if error.not_found else FAILED), str(error)
    if isinstance(error, NotFound):
        return NOT_FOUND, error.message
    if isinstance(error, BadRequest | Refused):
        return REFUSED, str(error)
    if isinstance(error, RosterFileError):
        return USAGE, str(error)
    if isinstance(error, ServiceError):
        return FAILED, error.message
    if isinstance(error, RosterWriteError | ConfigError):
        return FAILED, str(error)
    if isinstance(error, ProfileNotFound):
        return USAGE, f"no AWS profile named '{error.kwargs.get('profile')}'"
    if isinstance(error, NoRegionError):
        return USAGE, "no AWS region: pass --region (or set AWS_REGION)"
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return FAILED, "no AWS credentials: pass --profile or configure credentials"
    if isinstance(error, EndpointConnectionError):
        return FAILED, f"cannot reach {error.kwargs.get('endpoint_url')}: is the stack still running?"
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return FAILED, f"AWS {error.operation_name} failed: {details.get('Code')}: {details.get('Message')}"
    if isinstance(error, BotoCoreError):
        return FAILED, str(error)
    raise error
