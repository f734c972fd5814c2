# Two entry points for a fresh machine: `make demo` and `make test`. Each builds .venv when needed.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
# bash for pipefail: pip's output goes through a filter (below) and a failed install must still fail make.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c

# pip -q prints nothing for the minute an install takes; without -q it prints hundreds of lines. Show one line
# per package pip collects (and every error), keep the whole output in $(VENV)/pip.log.
PIP_INSTALL = $(PY) -m pip install --progress-bar off
PIP_PROGRESS = 2>&1 | tee -a $(VENV)/pip.log | awk '/^(Collecting|Installing collected|Successfully installed|ERROR)/ { print "  " substr($$0, 1, 110); fflush() }'

.PHONY: demo test lint bench dist clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	@echo "installing pip, setuptools, wheel into $(VENV) (log: $(VENV)/pip.log)"
	@$(PIP_INSTALL) -U pip setuptools wheel $(PIP_PROGRESS)

# The demo needs the `ml` extra (scikit-learn, XGBoost); the tests need `dev` (which includes `ml`).
$(VENV)/.installed-ml: pyproject.toml | $(VENV)/bin/python
	@echo "installing stepfn[ml] into $(VENV): about a minute"
	@$(PIP_INSTALL) -e ".[ml]" $(PIP_PROGRESS)
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	@echo "installing stepfn[dev] into $(VENV): a minute or two"
	@$(PIP_INSTALL) -e ".[dev]" $(PIP_PROGRESS)
	touch $@ $(VENV)/.installed-ml

demo: $(VENV)/.installed-ml
	$(PY) examples/demo.py

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check src tests bench examples .ci
	$(PY) -m mypy

test: $(VENV)/.installed-dev lint
	$(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

# The sdist and wheel in dist/, checked as a package index would (CI installs this wheel and tests it).
dist: $(VENV)/.installed-dev
	rm -rf dist
	$(PY) -m build --outdir dist .
	$(PY) -m twine check --strict dist/*
	$(PY) .ci/check_dist.py dist/*

bench: $(VENV)/.installed-dev
	$(PY) bench/engine.py
	$(PY) bench/training.py

clean:
	rm -rf $(VENV) build dist .pytest_cache
