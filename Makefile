# External test assignments — developer entry points.
# Works on a fresh clone with only python3 (3.11+), pip, git and node: every target
# installs what it needs into local virtualenvs on first use.
#
#   .venv      app + test + lint tooling (requirements-dev.txt)
#   .venv-sam  AWS SAM CLI alone (its pins clash with the app's)

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
VENV ?= .venv
VENV_SAM ?= .venv-sam
SAM_CLI_VERSION ?= 1.170.0
PYTEST_ARGS ?=
# Lambda architecture of the build: sets the template's Architecture parameter and picks the
# layer's wheels (SAM does not tell a makefile build the architecture, so it gets ARCH from here).
ARCH ?= arm64
BUILD_DIR ?= .aws-sam/build

PY := $(VENV)/bin/python
SAM := $(VENV_SAM)/bin/sam
DEV_STAMP := $(VENV)/.dev-installed
SAM_STAMP := $(VENV_SAM)/.sam-installed
DEV_REQUIREMENTS := requirements-dev.txt layers/shared/requirements.txt

.PHONY: help venv venv-sam test test-full run demo bench capacity smoke admin lint build clean

help: ## Show this help
	@echo "Targets:"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort \
	  | awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\n", $$1, $$2}'
	@echo "Variables: PYTEST_ARGS='...' (extra pytest arguments), PYTHON=$(PYTHON), ARCH=$(ARCH)"

# --- virtualenvs (stamp files: re-install when the requirements change) -------------

$(DEV_STAMP): $(DEV_REQUIREMENTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(SAM_STAMP):
	@test -x $(VENV_SAM)/bin/python || $(PYTHON) -m venv $(VENV_SAM)
	$(VENV_SAM)/bin/python -m pip install --quiet --disable-pip-version-check \
	  "aws-sam-cli==$(SAM_CLI_VERSION)"
	@echo "$(SAM_CLI_VERSION)" > $@

venv: $(DEV_STAMP) ## Create/refresh the dev virtualenv (.venv)

venv-sam: $(SAM_STAMP) ## Create the SAM CLI virtualenv (.venv-sam)

# --- everyday targets ----------------------------------------------------------------

# Three pytest workers on two cores: part of the suite's time is waiting (workflow waits,
# Retry-After, token expiry, deadline budgets), and a third worker runs tests in it (measured on
# 2 cores when the suite used more CPU: 134 s with two, 109-119 s with three, 122 s with four; at
# its present CPU, one run after the other: 65.4 and 67.7 s with three, 66.1 and 74.8 s with four,
# whose extra worker costs 10-25 s of CPU).
# --dist loadgroup (tests/xdist_groups.py): the tests that share a local stack run on one worker, so
# each stack starts once; the other tests go one by one to whichever worker is free.
TEST_WORKERS ?= 3

# The tests' processes (pytest workers, the stacks and CLIs they start) write their bytecode and
# pytest's rewritten test modules to __pycache__ (git-ignored; the build drops it), even where the
# environment sets PYTHONDONTWRITEBYTECODE: otherwise each one compiles them again (collecting the
# suite: 6.2 s of CPU per worker without, 2.7 s with). The dependencies' bytecode is pip's, written
# at install, so a first run on a fresh clone compiles only the project.
TEST_ENV := env -u PYTHONDONTWRITEBYTECODE

test: $(DEV_STAMP) ## Run the test suite (PYTEST_ARGS=... to pass extra arguments; TEST_WORKERS=3)
	@xdist=""; \
	if $(PY) -c "import xdist" 2>/dev/null; then xdist="-n $(TEST_WORKERS) --dist loadgroup"; fi; \
	echo "$(PY) -m pytest -q -p no:cacheprovider $$xdist $(PYTEST_ARGS) tests"; \
	rc=0; $(TEST_ENV) $(PY) -m pytest -q -p no:cacheprovider $$xdist $(PYTEST_ARGS) tests || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "FAIL: pytest collected no tests (exit code 5)" >&2; fi; \
	exit $$rc

test-full: $(DEV_STAMP) ## The load tests at the size docs/reliability.md reports (CI runs it after test)
	EXTTESTS_FULL_SCALE=1 $(TEST_ENV) $(PY) -m pytest -q -p no:cacheprovider -m scaled $(PYTEST_ARGS) tests

run: $(DEV_STAMP) ## Start the local stack (moto + handlers + simulators) on 127.0.0.1
	$(PY) -m local.stack

demo: $(DEV_STAMP) ## Run the end-to-end demo against a local stack
	$(PY) -m local.demo

bench: $(DEV_STAMP) $(SAM_STAMP) ## Run the full benchmark (writes bench/results.*; it builds for itself)
	$(PY) -m bench.run

capacity: $(DEV_STAMP) ## Capacity and cost model from bench/results.json (offline; docs/capacity.md)
	$(PY) -m tools.capacity

# The settings reach the script through the environment (command-line variables are exported),
# so the secret is not on the echoed command line.
smoke: $(DEV_STAMP) ## Read-only smoke test of a stack: API_URL= TOKEN_URL= CLIENT_ID= CLIENT_SECRET=
	$(PY) -m tools.smoke

# Silent (@) so that `--json` output can be piped. make turns any failure into its own exit code 2:
# scripts that need the CLI's exit codes call `python -m exttests.admin` themselves.
admin: $(DEV_STAMP) ## Operator CLI on the local stack or --stack-name: ARGS="attempts list --stuck"
	@PYTHONPATH=layers/shared/python $(PY) -m exttests.admin $(ARGS)

lint: $(DEV_STAMP) $(SAM_STAMP) ## ruff (lint and format), mypy, cfn-lint and sam validate --lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(SAM) validate --lint

# --no-cached: SAM's cache keys on the code directories and the makefiles only, so a change of
# tools/ or of NO_BYTECODE would otherwise ship the previous artifacts.
build: $(SAM_STAMP) ## sam build + tools/check_build.py (ARCH=arm64|x86_64, NO_BYTECODE=1)
	@case "$(ARCH)" in arm64|x86_64) ;; *) echo "ARCH=$(ARCH): use arm64 or x86_64" >&2; exit 2;; esac
	ARCH=$(ARCH) SAM_CLI_TELEMETRY=0 $(SAM) build --no-cached --build-dir $(BUILD_DIR) \
	  --parameter-overrides Architecture=$(ARCH)
	$(PYTHON) -m tools.check_build $(BUILD_DIR) --arch $(ARCH) $(if $(filter 1,$(NO_BYTECODE)),--no-bytecode)

clean: ## Remove build output and caches (keeps the virtualenvs)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -path ./$(VENV_SAM) -prune -o \
	  -type d -name __pycache__ -print0 | xargs -0 rm -rf
