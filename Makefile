# Two commands for a fresh machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Every test runs in a private network namespace holding only loopback (127.0.0.1 and 127.0.0.2: aioice
# skips 127.0.0.1 when it gathers candidates). Root gets a plain net namespace; others a user namespace too.
NETNS := $(shell [ "$$(id -u)" = 0 ] && echo "unshare -n" || echo "unshare -rn")
PYTEST_ARGS ?=

.PHONY: run test lint bench bench-deps bench-forwarding bench-capacity bench-recording-vs-janus bench-recording \
	bench-sync bench-report clean system-deps web-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.runtime

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

web-deps: web/node_modules/.package-lock.json

system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v ffmpeg >/dev/null || missing="$$missing ffmpeg"; \
	command -v ip >/dev/null || missing="$$missing iproute2"; \
	command -v unshare >/dev/null || missing="$$missing util-linux"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

run: $(VENV)/.runtime web-deps
	$(BIN)/aula serve

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(VENV)/.dev web-deps system-deps lint
	$(NETNS) bash -c 'ip link set lo up && ip addr add 127.0.0.2/8 dev lo && exec $(BIN)/pytest $(PYTEST_ARGS)'

# Benchmarks print a table and write JSON to bench/results/<part>-<date>.json; `make bench` runs every part
# (about 75 minutes, 30 of them the sync recording) and then bench.report, which writes
# bench/results/<date>.json, <date>.md and forwarding-cpu.png. Parts carrying WebRTC media run in the same
# loopback-only namespace as the tests. Janus (Debian's janus + janus-tools) is the side-by-side reference.
IN_NETNS = $(NETNS) bash -c 'ip link set lo up && ip addr add 127.0.0.2/8 dev lo && exec "$$@"' netns

bench-deps: $(VENV)/.dev web-deps system-deps
	@missing=""; \
	command -v janus >/dev/null || missing="$$missing janus"; \
	command -v janus-pp-rec >/dev/null || missing="$$missing janus-tools"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

bench-forwarding: bench-deps
	$(IN_NETNS) $(BIN)/python -m bench.forwarding

bench-capacity: bench-deps
	$(IN_NETNS) $(BIN)/python -m bench.capacity

bench-recording-vs-janus: bench-deps
	$(IN_NETNS) $(BIN)/python -m bench.recording_vs_janus

bench-recording: $(VENV)/.dev
	$(BIN)/python -m bench.recording

bench-sync: bench-deps
	$(IN_NETNS) $(BIN)/python -m bench.sync

bench-report: $(VENV)/.dev
	$(BIN)/python -m bench.report

# One after the other: the parts measure CPU and must not share the machine with each other.
bench: bench-deps
	$(MAKE) bench-forwarding bench-capacity bench-recording-vs-janus bench-recording bench-sync
	$(MAKE) bench-report

clean:
	rm -rf $(VENV) web/node_modules .mypy_cache .ruff_cache .pytest_cache
