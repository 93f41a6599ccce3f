# Shared by layers/shared/Makefile and functions/Makefile. `sam build` runs those makefiles
# from a scratch copy of the code (cwd) with ARTIFACTS_DIR set, so paths to the repository
# come from this file's own location, never from the working directory.
REPO_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
HOST_PYTHON ?= python3

# $(call compile_bytecode,<artifact dir>,<where Lambda mounts it: /opt or /var/task>)
# Compiles with the runtime's Python 3.13 (tools/bytecode.py says how and why); NO_BYTECODE=1
# in the environment skips it.
compile_bytecode = PYTHONPATH="$(REPO_ROOT)" $(HOST_PYTHON) -m tools.bytecode "$(1)" --runtime-root "$(2)"

# Nothing compiled by the build machine's own Python may ship: it would be ignored at best.
drop_bytecode = find "$(1)" -depth -type d -name __pycache__ -exec rm -rf {} + ; \
	find "$(1)" -type f -name '*.py[co]' -delete
