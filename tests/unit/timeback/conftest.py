# The HTTP core's shared fixtures (the TimeBack client runs on it).
from tests.unit.providers.http_doubles import clock, fresh_http_state, log, rsps, sleeper, sleeps  # noqa: F401
