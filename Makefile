# Everything a fresh machine needs (Python, pip, make) is set up by these targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench completions system clean mutants

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,lite]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	bash scripts/demo.sh

bench: setup
	$(BIN)/python benchmarks/run.py

test: setup lint system
	$(BIN)/python -m pytest

# Mutation testing of the modules that matter most (scripts/mutants.py); not part of test.
mutants: setup
	$(BIN)/python scripts/mutants.py

completions: setup
	$(BIN)/python scripts/completions.py

# Debian packages some tests run for real (shells, a keyring, pass, Prometheus); best effort.
system:
	@bash scripts/install-system.sh

lint: setup
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
