# Two entry points for a fresh machine (see README):
#   make install   create .venv, install swerm with every extra, run the main job
#   make test      (re)use .venv, then ruff, mypy and the whole test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS := all,dev
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck pytest demo clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP) demo

demo: $(STAMP)
	$(BIN)/swerm plugins

lint: $(STAMP)
	$(BIN)/ruff check swerm_plugin tests benchmarks
	$(BIN)/ruff format --check swerm_plugin tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy swerm_plugin

pytest: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
