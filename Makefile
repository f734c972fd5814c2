# Two entry points for a fresh machine: `make demo` and `make test`. Each builds .venv when needed.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip setuptools wheel
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(PY) examples/demo.py

lint: $(VENV)/.installed
	$(PY) -m ruff check src tests bench examples
	$(PY) -m mypy

test: $(VENV)/.installed lint
	$(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(PY) bench/engine.py
	$(PY) bench/training.py

clean:
	rm -rf $(VENV) build .pytest_cache
