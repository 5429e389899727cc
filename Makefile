# 1567 Hotline. `make demo` runs the product on one machine; `make test` runs every check.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: demo test install install-test lint typecheck pytest clean messages browser

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

demo: install
	$(BIN)/hotline db upgrade
	$(BIN)/hotline demo-data --if-empty
	@echo
	@echo "Open http://$(HOST):$(PORT)/simulator/ to call 1567 from your browser, then http://$(HOST):$(PORT)/console/ to find your complaint — demo logins are printed above."
	PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://$(HOST):$(PORT)} $(BIN)/hotline run --host $(HOST) --port $(PORT)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-test
	$(BIN)/mypy

pytest: install-test browser
	$(BIN)/pytest $(PYTEST_ARGS)

# Browser tests drive Debian's Chromium through Playwright, which cannot download a browser of its
# own here; Thai fonts make the screenshots readable. As root, install what is missing; otherwise
# the browser tests say why they skip (or fail under REQUIRE_SERVICES=1).
BROWSER_PACKAGES = chromium fonts-thai-tlwg
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list :lang=th 2>/dev/null | grep -q .; } || \
		[ "$$(id -u)" != 0 ] || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null; }

test: lint typecheck pytest
	@$(BIN)/hotline flows burden

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache *.egg-info

# After changing user-visible text: extract the Thai message ids, merge them into the English
# catalog, then translate the new entries in hotline/translations/en/LC_MESSAGES/messages.po
# and run `make messages` again to compile (the .mo is committed so a fresh clone needs no step).
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output -o messages.pot .
	$(BIN)/pybabel update -i messages.pot -d hotline/translations --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d hotline/translations --statistics
	rm -f messages.pot
