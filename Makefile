# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: run test check lint format clean bench

# Serving needs rolegate alone; the tests add their toolchain (the `test` extra) on top.
$(RUN_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "rolegate needs Python 3.11 or newer ($(PYTHON) is older)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	@touch $@

## bench: the authorization benchmark (10,000 and 100,000 users, pycasbin alongside), the
## authentication benchmark (tokens per algorithm, login, refresh), the password policy's cost
## (zxcvbn alongside), the snapshot cache's eviction (FIFO and cachetools' LRU alongside) and
## the HTTP check API under
## wrk (skipped when wrk is not installed), with PostgreSQL when ROLEGATE_BENCH_POSTGRES_URL
## names a database it may wipe (docs/benchmarks.md)
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench --sections authz auth passwords cache http $(BENCH_ARGS)

## run: serve rolegate on http://127.0.0.1:8000 (the SQLite default; first start prints the admin's password)
run: $(RUN_STAMP)
	$(BIN)/rolegate serve $(RUN_ARGS)

## test: the whole suite: architecture contracts, then pytest with coverage
test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest -n auto --cov --cov-report=term $(PYTEST_ARGS)

## lint: formatting, lint rules and strict typing
lint: $(STAMP)
	$(BIN)/ruff format --check src tests bench examples tools
	$(BIN)/ruff check src tests bench examples tools
	$(BIN)/mypy

## check: every gate CI runs
check: lint test

format: $(STAMP)
	$(BIN)/ruff format src tests bench examples tools
	$(BIN)/ruff check --fix src tests bench examples tools

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
