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

.PHONY: run test lint bench bench-forwarding bench-recording clean system-deps web-deps

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

# Benchmarks print a table and write JSON to bench/results/; the forwarding one carries WebRTC media, so it
# runs in the same loopback-only namespace as the tests.
bench-forwarding: $(VENV)/.dev web-deps system-deps
	$(NETNS) bash -c 'ip link set lo up && ip addr add 127.0.0.2/8 dev lo && exec $(BIN)/python -m bench.forwarding'

bench-recording: $(VENV)/.dev
	$(BIN)/python -m bench.recording

bench: bench-forwarding bench-recording

clean:
	rm -rf $(VENV) web/node_modules .mypy_cache .ruff_cache .pytest_cache
