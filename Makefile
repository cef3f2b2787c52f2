# trader: `make help` lists the targets. Every target installs what it needs into .venv itself.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
# The Rust build is cached outside the clone so fresh clones on this machine reuse it; nothing depends on it.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/trader/target
export PYO3_PYTHON := $(BIN)/python
export VIRTUAL_ENV := $(VENV)
export PATH := $(BIN):$(PATH)

DEV_STAMP := $(VENV)/.dev-stamp
BENCH_STAMP := $(VENV)/.bench-stamp
EXT_STAMP := $(VENV)/.ext-stamp
SYS_STAMP := $(VENV)/.sys-stamp
DEMO_REPORT := $(CURDIR)/.demo/report.html
RUST_SRC := $(shell find rust -name '*.rs') Cargo.toml Cargo.lock pyproject.toml

.PHONY: help demo test test-rust test-py lint fmt bench campaign fuzz release build clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(DEV_STAMP): requirements/dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $@

$(EXT_STAMP): $(DEV_STAMP) $(RUST_SRC)
	$(BIN)/maturin develop --release --quiet
	touch $@

# promtool (Debian's prometheus) and chromium, for tests/monitoring: apt-get installs them when missing (as root, or sudo)
$(SYS_STAMP): | $(BIN)/python
	@command -v promtool >/dev/null && command -v chromium >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq prometheus chromium >/dev/null; }
	touch $@

build: $(EXT_STAMP) ## build the extension into .venv (maturin develop --release)

test: lint test-rust test-py ## everything CI runs: cargo test, clippy, fmt, ruff, mypy, stubtest, pytest

test-rust: $(DEV_STAMP)
	cargo test --locked --quiet

test-py: $(EXT_STAMP) $(SYS_STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: $(EXT_STAMP) ## clippy -D warnings, rustfmt --check, ruff (complexity too), file/function sizes, mypy --strict, stubtest
	cargo clippy --locked --all-targets --features python --quiet -- -D warnings
	cargo clippy --locked --all-targets --quiet -- -D warnings
	cargo fmt --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/check_sizes.py
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest trader._core

fmt: $(DEV_STAMP) ## format Rust and Python in place
	cargo fmt
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(BENCH_STAMP): requirements/bench.txt | $(DEV_STAMP)
	$(BIN)/pip install --quiet -r requirements/bench.txt
	touch $@

bench: $(EXT_STAMP) $(BENCH_STAMP) ## run the benches (release build) and print the ratio table
	$(BIN)/python -m pytest benches -q -p no:randomly --benchmark-enable --benchmark-only \
		--benchmark-columns=median,iqr,ops,rounds --benchmark-sort=name

campaign: $(EXT_STAMP) ## the fault campaign (not in CI): fault mixes, kill, canary, bad input; prints the figures
	$(BIN)/python -m tests.campaign

fuzz: $(EXT_STAMP) ## property tests with fresh random examples (2,000 each; make test replays fixed ones)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -n 2 --dist loadfile $$(grep -rl "@given" tests --include="*.py" | sort)

release: $(DEV_STAMP) ## build the optimized abi3 wheel into dist/ and install it into .venv
	rm -rf dist
	$(BIN)/maturin build --release --out dist
	$(BIN)/pip install --quiet --force-reinstall --no-deps dist/*.whl
	rm -f $(EXT_STAMP)
	@echo "installed $$(ls dist/*.whl); try ./bin/trader --version"

demo: $(EXT_STAMP) ## rehearse on six simulated venues under one gate: market makers, arbitrage, basis (no credentials)
	@mkdir -p $(dir $(DEMO_REPORT))
	$(BIN)/trader paper --sim --exchange=binance,okx,bybit --strategy=mm,xarb,basis --duration=30 --seed=7 --report=$(DEMO_REPORT)
	@echo "the session's report: $(DEMO_REPORT) (open it in a browser)"

clean: ## remove build outputs (keeps the cargo cache)
	rm -rf dist $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .benchmarks
