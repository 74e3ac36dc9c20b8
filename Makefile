# videostudio: every target installs what it needs into .venv first, from the lock
# files in requirements/ (exact versions with hashes; see "Dependencies" in README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
# One pytest worker per core; a test file stays on one worker (the browser tests share
# one running stack). PARALLEL= runs everything in one process.
PARALLEL ?= -n auto --dist loadfile
LOCKS := requirements/app.txt requirements/dev.txt
# The venv is rebuilt whenever the lock files' content changes, and only then.
STAMP := $(VENV)/.installed-$(shell cat $(LOCKS) | cksum | cut -d' ' -f1)

# pip-compile, run from a folder holding pyproject.toml, README.md and requirements/.
# app.txt: the app's runtime dependencies (what the Docker image installs).
# dev.txt: the same pins (-c app.txt) plus the dev extra and the editable build's
# setuptools: what .venv installs. pip and setuptools are pinned too (--allow-unsafe).
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(abspath $(BIN))/pip-compile --quiet \
	--no-config --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links --no-emit-trusted-host
compile_locks = $(PIP_COMPILE) $(1) -o requirements/app.txt pyproject.toml && \
	$(PIP_COMPILE) $(1) --extra dev --build-deps-for editable \
		-c requirements/app.txt -o requirements/dev.txt pyproject.toml
# make lock: everything to the newest versions pyproject.toml allows.
# make lock LOCK_ARGS=: keep today's pins, only add or drop what pyproject.toml changed.
# make lock LOCK_ARGS="-P django": upgrade one package.
LOCK_ARGS ?= --upgrade
LOCK_CHECK_DIR := $(VENV)/lock-check

.PHONY: password run install test test-fast lint format bench bench-fleet soak browser migrations-check \
	lock lock-check clean

# A fresh venv holding exactly the lock (pip itself included): every file checked against
# its hash, no dependency resolution, wheels only (building an sdist would fetch unpinned
# build tools). Then the app, editable, built offline with the lock's setuptools.
$(STAMP):
	$(PYTHON) -m venv --clear $(VENV)
	@$(BIN)/python -c 'import sys; sys.version_info[:2] == (3, 11) or print("warning: the lock is made for Python 3.11, this is", sys.version.split()[0])'
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps --only-binary=:all: \
		-r requirements/dev.txt
	PYTHONWARNINGS='ignore:Editable installation' \
		$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --no-index -e .
	touch $@

install: $(STAMP)

## Start the web server and the worker on 127.0.0.1:$(PORT) (demo mode without a key).
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py demo_user
	VIDEOSTUDIO_SITE_URL="$${VIDEOSTUDIO_SITE_URL:-http://127.0.0.1:$(PORT)}" \
		$(BIN)/python manage.py studio --port $(PORT)

## Install Debian's Chromium for the browser tests when it is missing (needs root).
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
		elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
			sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
		else \
			echo "chromium is missing and cannot be installed here: browser tests will be skipped (they fail under CI=true)"; \
		fi; \
	fi

## The whole suite: unit, integration, real HTTP and browser tests.
test: install browser
	$(BIN)/python -m pytest $(PARALLEL) $(PYTEST_ARGS)

## Everything but the browser tests.
test-fast: install
	$(BIN)/python -m pytest -m "not browser" $(PARALLEL) $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy videostudio tests benchmarks
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrations-check: install
	$(BIN)/python manage.py makemigrations --check --dry-run

bench: install
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/fleet.py $(FLEET_ARGS)

## The tracker at scale over real HTTP (the app as make run runs it, a strict simulator)
## beside two simple trackers: a few minutes. A quick run:
## make bench-fleet FLEET_ARGS="--jobs 60 --members 6 --window 10"
bench-fleet: install
	$(BIN)/python benchmarks/fleet.py $(FLEET_ARGS)

## Nothing lost when processes die: 200 jobs over real HTTP against a faulty simulator,
## the worker SIGKILLed three times and the web server once; checks and prints a table
## (about 10 minutes). A quick run: make soak SOAK_ARGS="--jobs 60 --window 30"
soak: install
	$(BIN)/python benchmarks/soak.py $(SOAK_ARGS)

## Rewrite requirements/*.txt from pyproject.toml (needs PyPI); the next target rebuilds .venv.
lock: install
	$(call compile_locks,$(LOCK_ARGS))

## Fail when requirements/*.txt is not what `make lock LOCK_ARGS=` would write from
## pyproject.toml (a dependency added, dropped or re-bounded without relocking).
lock-check: install
	rm -rf $(LOCK_CHECK_DIR) && mkdir -p $(LOCK_CHECK_DIR)
	cp -R pyproject.toml README.md requirements $(LOCK_CHECK_DIR)/
	cd $(LOCK_CHECK_DIR) && $(call compile_locks,)
	@diff -ru requirements $(LOCK_CHECK_DIR)/requirements \
		|| { echo "requirements/ does not match pyproject.toml: run make lock LOCK_ARGS= (or make lock) and commit"; exit 1; }
	@echo "lock files match pyproject.toml"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

## Give the demo account a new random password and print it.
password: install
	$(BIN)/python manage.py demo_user --reset
