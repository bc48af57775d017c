# DealWatch: the two Quick start commands (see README.md).
#   make demo   set everything up, crawl the bundled demo sites, index them, start the UI, print its URL
#   make test   set everything up and run the whole test suite against a real Elasticsearch node
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test setup system-deps down clean

demo: setup
	$(BIN)/dealwatch demo

test: setup
	$(BIN)/python -m pytest

setup: system-deps $(VENV)/.installed

system-deps:
	@./scripts/install-system-deps.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e ".[test,bench]"
	touch $@

down:
	$(BIN)/dealwatch down

clean: down
	rm -rf $(VENV)
