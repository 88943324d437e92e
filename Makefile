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

.PHONY: run test lint constraints bench bench-deps bench-forwarding bench-capacity bench-recording-vs-janus \
	bench-recording bench-sync bench-report bench-system-deps clean system-deps run-deps venv-deps node-deps web-deps \
	screenshots

# Prerequisites are made in the order they are listed (system packages, then the venv, then pip, then npm ci),
# and two apt-get runs must never overlap: no parallel make here.
.NOTPARALLEL:

# Debian packages: each check adds the package it names to `missing` when what it needs is absent; a target then
# runs one `apt-get update` and one `apt-get install` for all of them, and nothing when nothing is missing.
# python3-venv: `python3 -m venv` needs ensurepip, which Debian ships apart (a pyenv or python.org build has it).
CHECK_VENV = [ -x $(BIN)/python ] || $(PYTHON) -m ensurepip --version >/dev/null 2>&1 || missing="$$missing python3-venv";
CHECK_NODE = command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm";
# fonts-dejavu-core: the font the recorder robot letters names in (Latin, Greek, Cyrillic).
CHECK_FONTS = [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$$missing fonts-dejavu-core";
CHECK_TEST = command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v ffmpeg >/dev/null || missing="$$missing ffmpeg"; \
	command -v ip >/dev/null || missing="$$missing iproute2"; \
	command -v unshare >/dev/null || missing="$$missing util-linux";
define apt_install
	@missing=""; $(1) \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
endef

venv-deps:
	$(call apt_install,$(CHECK_VENV))
node-deps:
	$(call apt_install,$(CHECK_NODE))
# What `make run` uses: Python's venv, and Node.js + npm for the browser's socket.io client.
run-deps:
	$(call apt_install,$(CHECK_VENV) $(CHECK_NODE) $(CHECK_FONTS))
# Everything `make test` uses: the above, Chromium for the browser tests, ffmpeg, and ip + unshare for the
# tests' network namespace.
system-deps:
	$(call apt_install,$(CHECK_VENV) $(CHECK_NODE) $(CHECK_FONTS) $(CHECK_TEST))

# Python packages install from constraints.txt: every package of the runtime and dev dependencies, transitive
# ones included, and pip itself, pinned (pyproject.toml pins the direct ones and the build backend).
# To change a dependency: edit pyproject.toml, `.venv/bin/pip install -e '.[dev]'` (without the constraints, so
# pip may move what the change needs), run the tests, then `make constraints` rewrites constraints.txt from the
# venv; commit both files.
CONSTRAINTS := constraints.txt
PIP_INSTALL = $(BIN)/python -m pip install -q -c $(CONSTRAINTS)

$(BIN)/python: | venv-deps
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }

$(VENV)/.runtime: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP_INSTALL) --upgrade pip
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.dev: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP_INSTALL) --upgrade pip
	$(PIP_INSTALL) -e '.[dev]'
	touch $@ $(VENV)/.runtime

constraints:
	@$(BIN)/python -c 'import server, pytest' 2>/dev/null || \
		{ echo "make constraints pins what $(VENV) holds: install Aula with its dev tools there first"; exit 1; }
	{ printf '%s\n' \
		'# Every Python package Aula installs, pinned: `pip install -c constraints.txt -e .[dev]` (the Makefile' \
		'# does this). Written by `make constraints` from pip freeze of .venv; see the Makefile to change a pin.'; \
	  $(BIN)/python -m pip freeze --all --exclude-editable | grep -i '^pip=='; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v -i '^aula[=@ ]'; \
	} > $(CONSTRAINTS).tmp
	mv $(CONSTRAINTS).tmp $(CONSTRAINTS)

web/node_modules/.package-lock.json: web/package.json web/package-lock.json | node-deps
	cd web && npm ci --no-audit --no-fund --loglevel=error

web-deps: web/node_modules/.package-lock.json

run: run-deps $(VENV)/.runtime web-deps
	$(BIN)/aula serve

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: system-deps $(VENV)/.dev web-deps lint
	$(NETNS) bash -c 'ip link set lo up && ip addr add 127.0.0.2/8 dev lo && exec $(BIN)/pytest $(PYTEST_ARGS)'

# Screenshots of every page at 1280x720 and 375x812 into docs/screenshots/ (tests/screenshots.py): a fresh
# server with a small school, the classroom live on Chromium's fake cameras, in the tests' namespace.
screenshots: system-deps $(VENV)/.dev web-deps
	$(IN_NETNS) $(BIN)/python -m tests.screenshots docs/screenshots

# Benchmarks print a table and write JSON to bench/results/<part>-<date>.json; `make bench` runs every part
# (about 75 minutes, 30 of them the sync recording) and then bench.report, which writes
# bench/results/<date>.json, <date>.md and forwarding-cpu.png. Parts carrying WebRTC media run in the same
# loopback-only namespace as the tests. Janus (Debian's janus + janus-tools) is the side-by-side reference.
IN_NETNS = $(NETNS) bash -c 'ip link set lo up && ip addr add 127.0.0.2/8 dev lo && exec "$$@"' netns

CHECK_JANUS = command -v janus >/dev/null || missing="$$missing janus"; \
	command -v janus-pp-rec >/dev/null || missing="$$missing janus-tools";
bench-system-deps:
	$(call apt_install,$(CHECK_VENV) $(CHECK_NODE) $(CHECK_TEST) $(CHECK_JANUS))

bench-deps: bench-system-deps $(VENV)/.dev web-deps

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
