# The template's own commands. Needs only python3 (3.11+), git and make.
PYTHON3 ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# One lock for the template and the projects it generates (tools/lock.py: how it is shared).
LOCK := {{cookiecutter.project_slug}}/uv.lock
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: help demo test lint venv clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

# uv installs the pinned tools far faster than pip; where uv is not on PATH, pip puts this
# version of it into .venv first, so a fresh machine needs only Python, git and make.
UV_VERSION := 0.13.9
# Where Python may not cache compiled modules (PYTHONDONTWRITEBYTECODE, as on many CI machines),
# `make test` compiles all of .venv once (the tests start a thousand processes), `make demo` only
# what the pipeline imports (the project's ops.bytecode): compiling everything takes longer than the demo.

$(VENV)/.installed: requirements.txt $(LOCK) tools/lock.py
	test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	command -v uv >/dev/null || $(PY) -m pip install --quiet "uv==$(UV_VERSION)"
	$(PY) tools/lock.py constraints > $(VENV)/constraints.txt
	uv pip install --quiet --python $(PY) -r requirements.txt -c $(VENV)/constraints.txt
	touch $@

$(VENV)/.compiled: $(VENV)/.installed
	$(PY) -m compileall -q -j 0 $(VENV)/lib
	touch $@

venv: $(VENV)/.installed  ## create .venv with the pinned tools

demo: venv  ## generate a project into demo/ and run its whole pipeline
	$(PY) tools/demo.py

test: venv $(if $(PYTHONDONTWRITEBYTECODE),$(VENV)/.compiled)  ## the template's tests: hooks, then every option combination generated and run
	$(PY) -m pytest

lint: venv  ## ruff on the template's own code
	$(PY) -m ruff check hooks tests tools bench local_extensions.py template_paths.py
	$(PY) -m ruff format --check hooks tests tools bench local_extensions.py template_paths.py

clean:  ## remove demo/ and caches (keeps .venv)
	rm -rf demo .pytest_cache .ruff_cache
