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

# mypy --strict on src, then on each test folder alone (they share conftest module names)
lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/mypy --strict bench tests/conftest.py
	for d in tests/*/; do $(BIN)/mypy --strict --no-error-summary "$$d" || exit 1; done

test: lint
	bash scripts/test.sh
