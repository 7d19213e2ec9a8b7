# Frame Shift — `make` lists the targets.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
SYSTEM_PACKAGES := ffmpeg redis-server chromium
# The suite also runs its database tests on a private PostgreSQL server (initdb/pg_ctl from this package).
TEST_SYSTEM_PACKAGES := $(SYSTEM_PACKAGES) postgresql
PYTEST_ARGS ?=
# The suite runs on TEST_WORKERS processes (pytest-xdist; each test module whole on one of them), then the
# tests marked `serial` (a minute of full CPU load) alone. TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help system-deps deps dev-deps lock run test check bench clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

system-deps: ## Install FFmpeg, redis-server and Chromium with apt (when missing and root)
	@bash scripts/system-deps.sh $(SYSTEM_PACKAGES)

deps: system-deps ## Install the runtime Python packages exactly as locked (requirements.txt, with hashes) and the charting library
	@bash scripts/vendor-js.sh
	@PIP_ROOT_USER_ACTION=ignore $(PIP) install -q -r requirements.txt
	@$(PYTHON) -c "import celery, flask_sqlalchemy, ffmpeg, flower, sentry_sdk, apprise, pydantic, prometheus_client"

dev-deps: ## Install what the tests need: the system packages plus PostgreSQL, and the locked runtime and test packages
	@bash scripts/system-deps.sh $(TEST_SYSTEM_PACKAGES)
	@bash scripts/vendor-js.sh
	@PIP_ROOT_USER_ACTION=ignore $(PIP) install -q -r requirements-dev.txt
	@$(PYTHON) -c "import celery, flask_sqlalchemy, ffmpeg, flower, sentry_sdk, apprise, pytest, playwright, yaml, schemathesis"

lock: ## Re-resolve requirements*.in into the locked requirements*.txt (every dependency pinned, with hashes)
	@$(PYTHON) -c "import uv" 2>/dev/null || $(PIP) install -q uv
	$(PYTHON) -m uv pip compile -q --generate-hashes --python-version 3.11 --python-platform x86_64-unknown-linux-gnu requirements.in -o requirements.txt
	$(PYTHON) -m uv pip compile -q --generate-hashes --python-version 3.11 --python-platform x86_64-unknown-linux-gnu requirements-dev.in -o requirements-dev.txt

run: deps ## Run the whole system on this machine (web, monitor, one worker, Flower, redis)
	$(PYTHON) scripts/run.py

test: dev-deps ## Run the whole test suite (database tests on SQLite and on PostgreSQL)
	@status=0; \
	TEST_REQUIRE_POSTGRES=1 $(PYTHON) -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "not serial" $(PYTEST_ARGS) || status=$$?; \
	TEST_REQUIRE_POSTGRES=1 $(PYTHON) -m pytest -p no:xdist -m serial $(PYTEST_ARGS) || status=$$?; \
	exit $$status

check: dev-deps ## Lint and format check with ruff
	$(PYTHON) -m ruff check . && $(PYTHON) -m ruff format --check .

bench: deps ## Run the benchmarks (figures printed and saved under bench/results/)
	$(PYTHON) bench/run_all.py

clean: ## Remove caches (keeps data/ and media/)
	rm -rf .pytest_cache .ruff_cache **/__pycache__
