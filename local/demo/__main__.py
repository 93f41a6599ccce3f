"""`python -m local.demo`; a package's `__main__`, which the Lambda workers of the demo's stacks do not
run again (see local/stack/__main__.py)."""

import sys

from local import gc_pace
from local.demo import main

gc_pace.set_for_moto()
sys.exit(main())
