"""`python -m local.demo`; a package's `__main__`, which the Lambda workers of the demo's stacks do not
run again (see local/stack/__main__.py)."""

import sys

from local.demo import main

sys.exit(main())
