"""The user's path through a new project: make setup (and its git hooks), repro, test, lint, promote, compare."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE, assert_every_test_passed, bake, load_module, locked_versions, run
from team_stack import free_port, listening_addresses, served

pytestmark = pytest.mark.xdist_group("setup")
SUPPORTED_PYTHON = load_module(TEMPLATE / "hooks" / "pre_gen_project.py").SUPPORTED_PYTHON


# What a fresh machine lacks: a bare `python` (macOS has python3 only), uv, DVC and the project's tools.
NOT_ON_A_FRESH_MACHINE = {"python", "uv", "uvx", "dvc", "mlflow", "ruff", "pytest", "pre-commit", "bentoml"}
NOT_ON_A_FRESH_MACHINE |= {"jupyter", "cookiecutter", "pip", "pip3"}


def fresh_machine_path(tmp_path: Path) -> str:
    """PATH of a machine with Python 3, git and make only: one folder linking the system's commands
    (/usr/bin, /bin) but none of NOT_ON_A_FRESH_MACHINE, so a recipe that looks a tool up on PATH
    instead of calling it by path fails here, as it does under macOS's make."""
    folder = tmp_path / "fresh-machine-bin"
    folder.mkdir(exist_ok=True)
    for system in (Path("/usr/bin"), Path("/bin")):
        for command in system.iterdir():
            link = folder / command.name
            if command.name in NOT_ON_A_FRESH_MACHINE or link.exists() or not os.access(command, os.X_OK):
                continue
            link.symlink_to(command)
    assert not [tool for tool in NOT_ON_A_FRESH_MACHINE if shutil.which(tool, path=str(folder))]
    return str(folder)


@contextlib.contextmanager
def listening_socket() -> Iterator[int]:
    """A port another program listens on, on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_no_makefile_exports_path() -> None:
    """macOS's make (3.81) does not look commands up on an exported PATH: each tool goes by path."""
    for makefile in (TEMPLATE / "Makefile", TEMPLATE / "{{cookiecutter.project_slug}}" / "Makefile"):
        assert not re.search(r"^\s*export\s+PATH\b", makefile.read_text(), re.MULTILINE), makefile


def interpreter(python_version: str) -> str | None:
    """A Python of this minor version on this machine (PATH, then pyenv's versions), or None."""
    candidates = [shutil.which(f"python{python_version}") or ""]
    candidates += sorted(
        map(str, (Path.home() / ".pyenv" / "versions").glob(f"{python_version}.*/bin/python3"))
    )
    for candidate in filter(None, candidates):
        found = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
        )
        if found.returncode == 0 and found.stdout.strip() == str(tuple(map(int, python_version.split(".")))):
            return candidate
    return None


def test_make_venv_takes_the_newest_python_that_runs(tmp_path: Path) -> None:
    """python3.13 first, but a pyenv shim of a version not selected exists and fails: it is passed over."""
    path = fresh_machine_path(tmp_path)
    shim = Path(path) / "python3.13"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    newest = next(filter(None, (shutil.which(f"python3.{minor}", path=path) for minor in (12, 11))))
    chosen = subprocess.run(
        [newest, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True
    )
    planned = run(["make", "-n", "-B", "venv"], TEMPLATE, env={**os.environ, "PATH": path}).stdout
    assert f'venv --quiet --python "{chosen.stdout.strip()}" .venv' in planned, planned


def test_make_venv_refuses_a_python_older_than_3_11_in_one_line(tmp_path: Path) -> None:
    """Before .venv exists (Xcode's python3 is 3.9): the version found, and how to get 3.11+."""
    older = interpreter("3.10") or interpreter("3.9")
    if older is None:
        pytest.skip("this machine has no Python 3.9 or 3.10 to refuse")
    for name in ("Makefile", "requirements.txt", "tools/lock.py", "{{cookiecutter.project_slug}}/uv.lock"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(TEMPLATE / name, tmp_path / name)
    refused = run(["make", "venv", f"PYTHON3={older}"], tmp_path, check=False)
    assert refused.returncode != 0
    (line,) = [line for line in refused.stderr.splitlines() if line.startswith("error: ")]
    found = run([older, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], tmp_path).stdout.strip()
    assert f"{older} is Python {found}; the template needs 3.11+" in line and "make PYTHON3=" in line, line
    assert not (tmp_path / ".venv").exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_works_in_a_fresh_clone_on_a_machine_with_python_git_and_make(tmp_path: Path) -> None:
    """The README's first command: .venv made with the newest python3.x on PATH and a uv that pip
    puts into the user cache, then the default project generated, set up with its own .venv and
    its whole pipeline run; the command it prints next works there."""
    clone = tmp_path / "template"
    listed = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], TEMPLATE).stdout
    for name in filter(None, listed.split("\0")):
        if (TEMPLATE / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TEMPLATE / name, clone / name)
    # An empty user cache for the uv that pip bootstraps, but uv's own package cache as it was
    uv_cache = os.environ.get("UV_CACHE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "uv"
    )
    env = {
        **os.environ,
        "PATH": fresh_machine_path(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "UV_CACHE_DIR": uv_cache,
    }
    env.pop("VIRTUAL_ENV", None)
    demo = run(["make", "demo"], clone, env=env).stdout
    assert "== Registration:   passed the gate" in demo, demo
    assert "== Model registry: models:/wine-quality version 1, aliases ['staging']" in demo
    # No uv on this PATH: pip put one into the user cache, and .venv links it for the tests.
    (uv,) = (tmp_path / "cache" / "uv-bootstrap").glob("*/bin/uv")
    assert (clone / ".venv" / "bin" / "uv").resolve() == uv.resolve()
    project = clone / "demo" / "wine-quality"
    assert (project / "dvc.lock").exists()
    # "== MLflow UI: cd demo/wine-quality && make ui": the project's own .venv has what it runs
    assert (project / ".venv" / "bin" / "mlflow").exists()
    assert "Data and pipelines are up to date." in run(["make", "repro"], project, env=env).stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_targets_work_in_a_fresh_project(tmp_path: Path) -> None:
    project = bake(tmp_path)
    # Only the system's tools on PATH (no python, uv or dvc): `make setup` bootstraps uv with pip
    # into the user cache (here an empty one), then builds the project's own environment from uv.lock.
    # Where Python may not cache compiled modules (as in many Docker images), setup compiles what
    # the pipeline imports, and installs neither BentoML nor JupyterLab (added on first use).
    env = {
        **os.environ,
        "PATH": fresh_machine_path(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("VIRTUAL_ENV", None)

    def make(target: str) -> str:
        result = run(["make", target], project, env=env)
        return result.stdout

    # The shipped module list matches the lock and the package's imports: compiled as listed, not
    # recorded anew (else `python tools/lock.py modules` renews it).
    setup = make("setup")
    assert re.search(r"bytecode: \d+ library modules compiled by \d processes", setup), setup
    assert run(["git", "status", "--porcelain"], project).stdout == ""
    assert (tmp_path / "cache" / "uv-bootstrap").is_dir()
    assert (project / ".venv" / "bin" / "dvc").exists()
    site_packages = next((project / ".venv" / "lib").glob("python3*/site-packages"))
    for module in ("mlflow/__init__", "sklearn/ensemble/_forest", "dvc/cli/__init__", "pandas/__init__"):
        folder, name = (site_packages / module).parent, (site_packages / module).name
        assert list(folder.glob(f"__pycache__/{name}.cpython-*.pyc")), module
    assert not list(site_packages.glob("ruff/__pycache__/*.pyc"))  # a dev tool: left to compile itself
    assert not (site_packages / "bentoml").exists() and not (site_packages / "jupyterlab").exists()
    uv = next((tmp_path / "cache" / "uv-bootstrap").glob("*/bin/uv"))
    frozen = run([str(uv), "pip", "freeze", "--python", ".venv/bin/python"], project)
    pins = dict(line.split("==") for line in frozen.stdout.splitlines() if "==" in line)
    assert {name: pins[name] for name in ("mlflow", "dvc", "scikit-learn")} == {
        name: locked_versions(project / "uv.lock")[name] for name in ("mlflow", "dvc", "scikit-learn")
    }
    for hook in ("pre-commit", "post-checkout"):  # installed by make setup
        assert "pre-commit" in (project / ".git" / "hooks" / hook).read_text()
    hooks_env = {**env, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache")}
    checked = run([".venv/bin/pre-commit", "run", "--all-files"], project, env=hooks_env).stdout
    assert "ruff check" in checked and "Passed" in checked and "Failed" not in checked
    # A notebook saved with outputs: the nbstripout hook strips them back to the committed file.
    notebook = project / "notebooks" / "explore.ipynb"
    committed = notebook.read_text()
    executed = json.loads(committed)
    code = next(cell for cell in executed["cells"] if cell["cell_type"] == "code")
    code.update(execution_count=1, outputs=[{"output_type": "stream", "name": "stdout", "text": ["rows\n"]}])
    notebook.write_text(json.dumps(executed))
    stripped = run(
        [".venv/bin/pre-commit", "run", "nbstripout", "--all-files"], project, check=False, env=hooks_env
    )
    assert stripped.returncode == 1 and "files were modified by this hook" in stripped.stdout, stripped.stdout
    assert notebook.read_text() == committed
    # make setup compiled all the pipeline loads: its first run, allowed to cache, compiles nothing.
    compiled_by_setup = set(project.rglob("*.pyc"))
    caching = {key: value for key, value in env.items() if key != "PYTHONDONTWRITEBYTECODE"}
    repro = run(["make", "repro"], project, env=caching).stdout
    assert "register: models:/wine-quality@staging -> version 1" in repro
    compiled_by_repro = set(project.rglob("*.pyc")) - compiled_by_setup
    assert sorted(str(path.relative_to(project)) for path in compiled_by_repro) == []
    assert_every_test_passed(run(["make", "test"], project, check=False, env=env))
    make("lint")
    assert "models:/wine-quality@production -> version 1" in make("promote")
    assert "1 (production, staging)" in make("compare")
    make("gate")
    make("doctor")
    # A server's port taken by another program (AirPlay's 5000 on a Mac): refused before it starts.
    with listening_socket() as busy:
        for target, variable in (("ui", "PORT"), ("serve", "SERVE_PORT")):
            refused = run(["make", target, f"{variable}={busy}"], project, check=False, env=env)
            assert refused.returncode != 0, refused.stdout
            expected = f"error: port {busy} on 127.0.0.1 is taken by another program: pick another, e.g. make {target} {variable}="
            assert expected in refused.stderr, refused.stderr
            assert "http://" not in refused.stdout  # no address printed for a server that never started
    # JupyterLab: added to .venv on first use, on 127.0.0.1 only, behind a token.
    port = free_port()
    target = ["notebook", f"NOTEBOOK_PORT={port}"]
    log = tmp_path / "notebook.log"
    with served(project, target, port, "/login", log, env) as url:
        assert listening_addresses(port) == {"127.0.0.1"}
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/api/contents/explore.ipynb", timeout=10)
        assert refused.value.code == 403  # no token, no notebook
        token = re.search(r"[?&]token=([0-9a-f]+)", log.read_text())
        assert token, log.read_text()
        with urllib.request.urlopen(f"{url}/api/contents?token={token[1]}", timeout=10) as listing:
            names = {item["name"] for item in json.load(listing)["content"]}
        assert {"explore.ipynb", "compare.ipynb"} <= names
    assert run([".venv/bin/python", "-c", "import jupyterlab"], project).returncode == 0
    with listening_socket() as busy:
        refused = run(["make", "notebook", f"NOTEBOOK_PORT={busy}"], project, check=False, env=env)
        assert "make notebook NOTEBOOK_PORT=" in refused.stderr and refused.returncode != 0, refused.stderr
    # A checkout runs DVC's hook only: ruff checks commits, not checkouts.
    checkout = run(["git", "checkout", "--", "params.yaml"], project, env=hooks_env)
    output = checkout.stdout + checkout.stderr
    assert "dvc checkout" in output and "ruff" not in output, output
    assert run(["git", "status", "--porcelain", "uv.lock", "pyproject.toml"], project).stdout == ""


@pytest.mark.parametrize("python_version", SUPPORTED_PYTHON[1:])  # the first: the test above
def test_each_offered_python_version_sets_up_and_passes_its_tests(
    tmp_path: Path, python_version: str
) -> None:
    """With uv on PATH: the project's .venv is of the Python it was generated for, from the same
    lock, and the project's own tests (the stages, then the whole pipeline) pass there."""
    python = interpreter(python_version)
    if python is None:
        pytest.skip(f"this machine has no Python {python_version}")
    project = bake(tmp_path, project_name=f"py{python_version}", python_version=python_version)
    env = {**os.environ, "UV_PYTHON": python}
    env.pop("VIRTUAL_ENV", None)
    run(["make", "setup"], project, env=env)
    made = run([".venv/bin/python", "-c", "import sys; print(sys.version)"], project).stdout
    assert made.startswith(f"{python_version}.")
    assert_every_test_passed(
        run(["make", "test"], project, check=False, env={**env, "PATH": fresh_machine_path(tmp_path)})
    )


def test_make_setup_refuses_a_python_older_than_the_project_needs(tmp_path: Path) -> None:
    """Before creating .venv: a .venv of the wrong Python would leave every target broken."""
    if sys.version_info >= (3, 13):
        pytest.skip("the template offers no Python newer than 3.13 (python_version)")
    newer = f"3.{sys.version_info.minor + 1}"
    project = bake(tmp_path, python_version=newer)
    env = {**os.environ, "UV_PYTHON": sys.executable}
    result = run(["make", "setup"], project, check=False, env=env)
    assert result.returncode != 0
    assert f"resolved to Python {sys.version.split()[0]}" in result.stderr
    assert f"the project's Python requirement: `>={newer}`" in result.stderr
    assert not (project / ".venv").exists()


def test_pre_commit_pins_the_ruff_and_nbstripout_of_the_lock(tmp_path: Path) -> None:
    project = bake(tmp_path)
    lock = locked_versions(project / "uv.lock")
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    ruff_hooks = [hook for repo in config["repos"] for hook in repo["hooks"] if hook["id"].startswith("ruff")]
    assert len(ruff_hooks) == 2
    assert all(hook["additional_dependencies"] == [f"ruff=={lock['ruff']}"] for hook in ruff_hooks)
    (stripper,) = [hook for repo in config["repos"] for hook in repo["hooks"] if hook["id"] == "nbstripout"]
    assert stripper["additional_dependencies"] == [f"nbstripout=={lock['nbstripout']}"]
    assert "pre-push" not in config["default_install_hook_types"]  # no remote: nothing to push to
