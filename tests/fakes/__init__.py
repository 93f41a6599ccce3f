"""In-memory fakes of every port the use cases need (store, providers, workflow, cipher, clock,
metrics), with scripted answers and crash points. `make_deps` wires them together.

The store fake and the DynamoDB store pass the same contract suite (tests/contract), so a
use-case test on these fakes says something true about the deployed service.
"""

from tests.fakes.deps import FakeWorld, make_deps

__all__ = ["FakeWorld", "make_deps"]
