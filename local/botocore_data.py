"""botocore's own data (endpoints, service models), read once per process instead of once per session.

Every botocore session reads botocore's JSON files through a loader of its own and parses them
again: about 0.1 s for the endpoints, and tens of milliseconds for each service's model. The
data is the same for every session (it is botocore's, not the caller's); sessions still differ
in everything else (credentials, region, configuration, clients).
- `share_one_loader()`: every session made afterwards in this process reads through one loader,
  which keeps what it read (the admin CLI tests set up a session per run, moto one per mock).
- `read_for_clients(services)`: the shared loader reads what a client of each service needs. The
  Lambda workers' forkserver does both (`local.worker_preload`), so each worker it forks starts
  with that data parsed, as the libraries already imported there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def share_one_loader() -> None:
    import botocore.loaders
    import botocore.session

    if getattr(botocore.session.create_loader, "shared", False):
        return
    original = botocore.loaders.create_loader
    loaders: dict[Any, Any] = {}

    def create_loader(search_path_string: Any = None) -> Any:
        if search_path_string not in loaders:
            loaders[search_path_string] = original(search_path_string)
        return loaders[search_path_string]

    create_loader.shared = True  # type: ignore[attr-defined]
    botocore.session.create_loader = create_loader  # type: ignore[attr-defined]


def read_for_clients(services: Iterable[str]) -> None:
    """Read through the shared loader what a client of each service needs, by making one (with a
    throwaway session and placeholder credentials: nothing is sent, nothing is kept but the data)."""
    import botocore.session

    share_one_loader()
    session = botocore.session.Session()
    for service in services:
        session.create_client(
            service, region_name="us-east-1", aws_access_key_id="unused", aws_secret_access_key="unused"
        )
