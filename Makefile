# The two commands of the README: `make run` and `make test`. Both set everything up first.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.frontdesk-installed

.PHONY: setup run test lint

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/frontdesk serve

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

test: lint
	bash scripts/test.sh
