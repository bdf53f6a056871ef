# Flask-Gamify developer tasks. `make test` is what CI runs (.ci/run).

PYTHON ?= python3
VENV ?= .venv
PORT ?= 5000
PYTEST_ARGS ?=
# SKIP_CHECKS=1 makes `make test` run only pytest (no lint, no docs).
SKIP_CHECKS ?=

BIN := $(VENV)/bin
STAMP := $(VENV)/.install.stamp

.DEFAULT_GOAL := help
.PHONY: help venv install lint check-packages docs test demo bench clean distclean

help:
	@echo "make install      create $(VENV) and pip install -e '.[dev]'"
	@echo "make demo         run the demo app on http://127.0.0.1:$(PORT)/"
	@echo "make test         lint + docs + pytest (SKIP_CHECKS=1: pytest only; PYTEST_ARGS=...)"
	@echo "make lint         ruff check, ruff format --check, mypy"
	@echo "make docs         Sphinx HTML docs, warnings are errors"
	@echo "make bench        run the benchmarks"
	@echo "make clean        remove build and cache files (distclean: also $(VENV))"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

venv: $(BIN)/python

# Re-install only when the packaging configuration changes.
$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]"
	touch $@

install: $(STAMP)

lint: $(STAMP) check-packages
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# setup.cfg lists packages explicitly (admin/ is mapped to flask_gamify.admin); fail when
# a directory with Python files under flask_gamify/ or admin/ is not listed there.
check-packages:
	@status=0; \
	for d in $$(find flask_gamify admin -name '*.py' -not -path '*/__pycache__/*' -exec dirname {} \; | sort -u); do \
	    pkg=$$(echo "$$d" | sed -e 's#^admin#flask_gamify/admin#' -e 's#/#.#g'); \
	    if ! grep -qxF "    $$pkg" setup.cfg; then \
	        echo "setup.cfg: package $$pkg ($$d/) is missing from [options] packages"; status=1; \
	    fi; \
	done; \
	exit $$status

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

# GAMIFY_TEST_DATABASE_URL (e.g. postgresql+psycopg://...) is passed through from the
# environment; unset means SQLite.
test: $(STAMP) $(if $(SKIP_CHECKS),,lint docs)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	@echo "Flask-Gamify demo: http://127.0.0.1:$(PORT)/"
	FLASK_DEBUG=0 $(BIN)/flask --app demo_app run --port $(PORT)

bench: $(STAMP)
	@if [ -f benchmarks/__main__.py ]; then \
	    $(BIN)/python -m benchmarks; \
	else \
	    echo "bench: benchmarks/__main__.py does not exist yet; nothing to run."; \
	fi

clean:
	rm -rf build dist *.egg-info docs/_build .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage htmlcov
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
