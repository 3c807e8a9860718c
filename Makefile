# The template's own commands. Needs only Python 3.11+, git and make.
# The newest of these Pythons that runs here (a pyenv shim may exist and not run); PYTHON3=path picks.
ifndef PYTHON3
PYTHON3 := $(firstword $(foreach name,python3.13 python3.12 python3.11 python3,\
	$(shell $(name) -c 'import sys; print(sys.executable)' 2>/dev/null)))
endif
VENV := .venv
PY := $(VENV)/bin/python
# One lock for the template and the projects it generates (tools/lock.py: how it is shared).
LOCK := {{cookiecutter.project_slug}}/uv.lock
# Tools are called by path, and what they start (DVC runs each stage's `python -m ...`) finds .venv/bin
# first on PATH: macOS's make looks a command up on the PATH it started with, whatever a Makefile
# exports, so an exported PATH would run a global tool there.
WITH_VENV := PATH="$(CURDIR)/$(VENV)/bin:$$PATH"
export DVC_NO_ANALYTICS := 1

.PHONY: help demo test lint venv clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

# uv installs the pinned tools far faster than pip; where uv is not on PATH, pip puts this
# version of it into the user cache first, once (where generated projects' `make setup` puts it
# too), so a fresh machine needs only Python, git and make.
UV_VERSION := 0.13.9
UV_BOOTSTRAP := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/uv-bootstrap/$(UV_VERSION)
# Where Python may not cache compiled modules (PYTHONDONTWRITEBYTECODE, as on many CI machines),
# `make test` compiles all of .venv once (the tests start a thousand processes); `make demo`
# compiles only what the pipeline loads (the project's ops.bytecode), as `make setup` does.

UV := $(or $(shell command -v uv 2>/dev/null),$(UV_BOOTSTRAP)/bin/uv)
NEEDS_3_11 := import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11) else \
	f"error: $(PYTHON3) is Python {v[0]}.{v[1]}; the template needs 3.11+: install one (uv python install 3.13, \
	or python.org, Homebrew, apt) and run make PYTHON3=python3.13")

NO_PYTHON := echo "error: no python3 on PATH: install Python 3.11+ (python.org, Homebrew, apt)" >&2; exit 1

$(UV_BOOTSTRAP)/bin/uv:
	@test -n "$(PYTHON3)" || { $(NO_PYTHON); }
	"$(PYTHON3)" -m venv "$(UV_BOOTSTRAP)"
	"$(UV_BOOTSTRAP)/bin/python" -m pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.installed: requirements.txt $(LOCK) tools/lock.py | $(UV)
	@test -n "$(PYTHON3)" || { $(NO_PYTHON); }
	@test -x $(PY) || "$(PYTHON3)" -c '$(NEEDS_3_11)'
	test -x $(PY) || "$(UV)" venv --quiet --python "$(PYTHON3)" $(VENV)
	test -e $(VENV)/bin/uv || ln -s "$(UV)" $(VENV)/bin/uv  # the tests' `uv`, found on PATH as the stages' python is
	$(PY) tools/lock.py constraints > $(VENV)/constraints.txt
	"$(UV)" pip install --quiet --python $(PY) -r requirements.txt -c $(VENV)/constraints.txt
	touch $@

$(VENV)/.compiled: $(VENV)/.installed
	$(PY) -m compileall -q -j 0 $(VENV)/lib
	touch $@

venv: $(VENV)/.installed  ## create .venv with the pinned tools

demo: venv  ## generate a project into demo/ and run its whole pipeline
	$(WITH_VENV) $(PY) tools/demo.py

test: venv $(if $(PYTHONDONTWRITEBYTECODE),$(VENV)/.compiled)  ## the template's tests: hooks, then every option combination generated and run
	$(WITH_VENV) $(PY) -m pytest

lint: venv  ## ruff on the template's own code
	$(PY) -m ruff check hooks tests tools bench local_extensions.py template_paths.py
	$(PY) -m ruff format --check hooks tests tools bench local_extensions.py template_paths.py

clean:  ## remove demo/ and caches (keeps .venv)
	rm -rf demo .pytest_cache .ruff_cache
