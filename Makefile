# Everything a fresh machine needs (Python, pip, make) is set up by these targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench completions shells clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,lite]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	bash scripts/demo.sh

bench: setup
	$(BIN)/python benchmarks/run.py

test: setup lint shells
	$(BIN)/python -m pytest

completions: setup
	$(BIN)/python scripts/completions.py

# zsh and fish for the completion tests; where they cannot be installed those tests skip.
shells:
	@bash scripts/install-shells.sh

lint: setup
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
