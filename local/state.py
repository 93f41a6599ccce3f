"""The local stack's data across restarts (LOCAL_STATE_DIR): moto's DynamoDB and KMS, pickled.

What moto 5.2.5 offers, and why this instead: it has no state snapshot of its own. Its recorder
(`/moto-api/recorder/*`) replays every recorded request, which creates a new KMS key with new
key material (the passwords encrypted before would no longer decrypt) and would start every
execution again; `/moto-api/data.json` is a read-only dump. Its backends, though, are plain
Python objects in this process (the stack runs moto's server in a thread), and moto resets one
by replacing its `__dict__`. So a snapshot is the pickled DynamoDB and KMS backends of the
stack's account and region — the table with its items, indexes and settings, the key with its
material and aliases — and a restore puts their `__dict__` back, right after moto's reset and
before the resources are created (`local.aws_resources` keeps a table or key that exists) and
the roster is loaded. The KMS backend holds `cryptography` private keys, which do not pickle:
they are pickled as their DER encoding.

Not kept: Step Functions executions (moto's interpreter runs them on threads that cannot be
resumed; after a restart the sweeper restarts the workflow of every attempt that still needs
one, once it is due), the Lambda functions, IAM role and state machine (created again from
template.yaml at every start), and the provider simulators' data.

The snapshot is taken under moto's DynamoDB request lock (`lambda_dispatch.dynamodb_paused`),
so it is consistent; it is written to a temporary file and renamed over the last one, so a
crash while saving leaves the previous snapshot. It is a pickle: keep LOCAL_STATE_DIR private
(the stack creates it with mode 0700) — loading a pickle runs code it names. Tied to the pinned
moto version: a snapshot of another version is refused with a clear error.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import threading
from pathlib import Path
from typing import Any

from local.lambda_dispatch import dynamodb_paused

log = logging.getLogger("local.state")

FILE_NAME = "moto-state.pickle"
SERVICES = ("dynamodb", "kms")
FORMAT = 1


class StateError(Exception):
    """A snapshot that cannot be restored."""


class _KeyPickler(pickle.Pickler):
    """Pickles the `cryptography` private keys inside moto's KMS keys as their DER encoding."""

    def reducer_override(self, obj: Any) -> Any:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        if isinstance(obj, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            der = obj.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            return _private_key, (der,)
        return NotImplemented


def _private_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_der_private_key(der, None)


def _backend(service: str, account_id: str, region: str) -> Any:
    from moto.backends import get_backend

    return get_backend(service)[account_id][region]  # type: ignore[call-overload]


def _moto_version() -> str:
    import moto

    return str(moto.__version__)


class StateStore:
    """Saves and restores the snapshot in `directory`; `start` also saves it every `interval` s."""

    def __init__(self, directory: str | Path, account_id: str, region: str, interval: float = 10.0) -> None:
        self.directory = Path(directory)
        self.path = self.directory / FILE_NAME
        self.account_id = account_id
        self.region = region
        self.interval = interval
        self._saved_digest = ""
        self._save_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def restore(self) -> bool:
        """Put the saved backends back into moto; False when there is no snapshot yet."""
        if not self.path.exists():
            return False
        data = self.path.read_bytes()
        saved = pickle.loads(data)  # noqa: S301 - our own file in a private directory
        if not isinstance(saved, dict) or saved.get("format") != FORMAT:
            raise StateError(f"{self.path} is not a local stack snapshot; move it away to start afresh")
        if saved.get("moto") != _moto_version():
            raise StateError(
                f"{self.path} was written with moto {saved.get('moto')}, this stack runs moto "
                f"{_moto_version()}; move it away to start afresh"
            )
        if (saved.get("account"), saved.get("region")) != (self.account_id, self.region):
            raise StateError(f"{self.path} holds another account or region")
        for service in SERVICES:
            restored = pickle.loads(saved[service])  # noqa: S301 - as above
            # What moto's own BaseBackend.reset does: the backend object stays, its state changes.
            _backend(service, self.account_id, self.region).__dict__ = restored.__dict__
        self._saved_digest = hashlib.sha256(data).hexdigest()
        log.info("local state restored from %s", self.path)
        return True

    def save(self) -> bool:
        """Write a snapshot when the data changed since the last one; True when written."""
        with self._save_lock:
            snapshot = self._snapshot()
            digest = hashlib.sha256(snapshot).hexdigest()
            if digest == self._saved_digest:
                return False
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            partial = self.path.with_suffix(".tmp")
            with open(partial, "wb") as file:
                file.write(snapshot)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, self.path)
            self._saved_digest = digest
            return True

    def _snapshot(self) -> bytes:
        backends: dict[str, bytes] = {}
        with dynamodb_paused():
            backends["dynamodb"] = pickle.dumps(_backend("dynamodb", self.account_id, self.region))
        buffer = io.BytesIO()
        _KeyPickler(buffer).dump(_backend("kms", self.account_id, self.region))
        backends["kms"] = buffer.getvalue()
        return pickle.dumps(
            {
                "format": FORMAT,
                "moto": _moto_version(),
                "account": self.account_id,
                "region": self.region,
                **backends,
            }
        )

    def start(self) -> None:
        """Save every `interval` seconds in the background (a killed stack loses at most that)."""
        if self._thread is None and self.interval > 0:
            self._thread = threading.Thread(target=self._run, name="local-state-saver", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.save()
            except Exception:
                log.exception("saving the local state failed")

    def stop(self) -> None:
        """Stop the periodic saves and save once more (the clean stop)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.save()
