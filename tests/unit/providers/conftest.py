from tests.unit.providers.http_doubles import (  # noqa: F401 - fixtures
    clock,
    fresh_http_state,
    log,
    rsps,
    server,
    sleeper,
    sleeps,
)
