"""`python -m local.stack`. The entry point is a package's `__main__` so that the Lambda workers do
not run the stack's module again: multiprocessing runs the main module of the process that starts
a worker in the worker too (as `__mp_main__`), unless that module is a `__main__` (70 ms of CPU
per worker, about 90 workers in `make test`)."""

import logging
import os
import sys

from local import gc_pace
from local.stack import main

gc_pace.set_for_moto()
code = main()
# Everything is stopped and saved. Tearing down the interpreter would then spend seconds
# freeing moto's objects one by one (7 s after a 100-workflow soak); exit right away.
logging.shutdown()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
