"""The cyclic garbage collector's pace for the processes that run moto: the local stack's
(`python -m local.stack`, `python -m local.demo`) and the test workers, which run moto in-process.

At Python's default pace (a young collection every 700 new objects, a full one each time the
heap grows by a quarter), these processes went through moto's and the libraries' long-lived
objects again and again: 16 % of the CPU of the integration and contract tests in one process
(5.6 s of 34 s), 0.3-0.7 s per stack in `make test`. Collecting young objects every 20,000 new
ones spends a quarter of that (1.4 s); reference cycles are still collected.

The Lambda workers keep the default pace, as in Lambda: they are forked from a server started
afresh (local.workers), not from these processes.
"""

import gc

YOUNG_OBJECTS_PER_COLLECTION = 20_000


def set_for_moto() -> None:
    gc.set_threshold(YOUNG_OBJECTS_PER_COLLECTION, 10, 10)
