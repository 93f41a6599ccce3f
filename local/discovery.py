"""The running local stack announces itself to the operator CLI (`python -m exttests.admin`).

`announce` writes the discovery file (format: `exttests.admin.local_stack`) once the stack has
started; `withdraw` removes it at a clean stop. One file, one stack: a file that a live stack
of another process already holds is left alone (that stack stays the CLI's default; give this
one its own file with LOCAL_STACK_FILE). The file holds no secret; it is written with mode 0600
in a 0700 directory, replaced atomically so a reader never sees half of it.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exttests.admin import local_stack

log = logging.getLogger("local.discovery")
REPO_ROOT = Path(__file__).resolve().parents[1]


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    override = environ.get(local_stack.FILE_VARIABLE)
    return Path(override) if override else REPO_ROOT / local_stack.RELATIVE_PATH


def facts_of(stack: Any, environ: Mapping[str, str]) -> local_stack.LocalStackFacts:
    """What the CLI needs from a started `local.stack.LocalStack` (`environ`: the handlers')."""
    resources = stack.resources
    endpoints = {"aws_endpoint": stack.moto_endpoint, "api_url": stack.api_url, "token_url": stack.token_url}
    names = {
        name: getattr(resources, name) for name in ("region", "table_name", "state_machine_arn", "kms_key_id")
    }
    return local_stack.LocalStackFacts(
        pid=os.getpid(),
        started_at=datetime.now(UTC).isoformat(),
        settings=local_stack.settings_of(environ),
        **endpoints,
        **names,
    )


def _holder(path: Path) -> int | None:
    """The pid of the live stack that holds `path`, if any."""
    try:
        facts = local_stack.LocalStackFacts.from_json(path.read_text(encoding="utf-8"), str(path))
    except (OSError, local_stack.LocalStackUnavailable):
        return None
    return facts.pid if local_stack.process_alive(facts.pid) else None


def announce(stack: Any, path: Path | None = None) -> Path | None:
    """Write the discovery file of `stack`; the path written, or None (logged) when another
    live stack holds it or it cannot be written — the stack runs on either way."""
    path = path or default_path()
    holder = _holder(path)
    if holder is not None and holder != os.getpid():
        log.warning(
            "%s belongs to the local stack of pid %d: the admin CLI keeps talking to that one "
            "(set %s to announce this one elsewhere)",
            path,
            holder,
            local_stack.FILE_VARIABLE,
        )
        return None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=".stack-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(facts_of(stack, os.environ).to_json())
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as error:
        log.warning("could not write the discovery file %s: %s", path, error.strerror or error)
        return None
    return path


def withdraw(path: Path | None) -> None:
    """Remove the discovery file written by `announce`, if it is still this process's."""
    if path is None or _holder(path) != os.getpid():
        return
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as error:
        log.warning("could not remove the discovery file %s: %s", path, error.strerror or error)
