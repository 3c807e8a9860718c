"""Generation with the hooks, as users run it: a bad option stops cookiecutter with one line and
leaves nothing; odd but valid values work. (The checks themselves, in-process: test_options.py.)"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tomllib
from contextlib import closing
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from conftest import (
    BAD_OPTIONS,
    DVC,
    OPTIONS,
    SECRETS,
    TEMPLATE,
    TEST_DATA,
    bake,
    dvc,
    load_module,
    locked_versions,
    project_tests,
    run,
)

pre_gen = load_module(TEMPLATE / "hooks" / "pre_gen_project.py")
dump_mlflow_schema = load_module(TEMPLATE / "tools" / "dump_mlflow_schema.py")
template_lock = load_module(TEMPLATE / "tools" / "lock.py")


def cookiecutter_cli(
    output_dir: Path, *options: str, env: dict | None = None, python: Path = Path(sys.executable)
) -> subprocess.CompletedProcess:
    """`cookiecutter --no-input` of this template, as a user runs it."""
    command = [
        str(python),
        "-m",
        "cookiecutter",
        "--no-input",
        "-o",
        str(output_dir),
        str(TEMPLATE),
        *options,
    ]
    return subprocess.run(command, capture_output=True, text=True, env=env)


@pytest.mark.parametrize(("option", "value"), BAD_OPTIONS, ids=[f"{o}={v}" for o, v in BAD_OPTIONS])
def test_cookiecutter_stops_with_the_message_and_leaves_nothing(
    tmp_path: Path, option: str, value: str
) -> None:
    result = cookiecutter_cli(tmp_path / "out", f"{option}={value}")
    assert result.returncode != 0
    if isinstance(OPTIONS[option], list):  # a choice: cookiecutter itself refuses it, naming the choices
        assert f"{value} provided for choice variable {option}, but the choices are" in result.stderr
    else:
        assert (
            f"ERROR: {option}={pre_gen.urls.redacted(value)!r} is not valid" in result.stderr + result.stdout
        )
    assert not any(secret in result.stderr + result.stdout for secret in SECRETS)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_a_url_with_credentials_stops_cookiecutter_in_one_line_hiding_them(tmp_path: Path) -> None:
    secret = "wJalrXUtn/K7MDENG+bPxRfiCY"  # an AWS secret access key may hold '/' and '+'
    result = cookiecutter_cli(tmp_path / "out", f"dataset=s3://AKIAEXAMPLE:{secret}@bucket/table.csv")
    assert result.returncode != 0
    first, *_ = result.stderr.splitlines()
    assert first.startswith("ERROR: dataset='s3://AKIAEXAMPLE:***@bucket/table.csv' is not valid: ")
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in first and first.endswith("give its path")
    assert [line for line in result.stderr.splitlines() if line.startswith("ERROR: dataset=")] == [first]
    output = result.stdout + result.stderr
    assert not any(part in output for part in secret.split("/")), output
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_quotes_and_unicode_in_free_text_survive(tmp_path: Path) -> None:
    """Quotes, backslashes, '#' and characters beyond the Basic Multilingual Plane (emoji, 𝒜), which
    Jinja's tojson wrote as surrogate pairs that TOML refuses."""
    name = 'Ünïcode "Quoted" Project: #1 🍷'
    author = "Zoë O'Brien \\ {braces} 🚀"
    description = 'Predicts "things": fast, {reliably} & with a # sign, \'\'\' """ \\" and 𝒜 🍷'
    project = bake(
        tmp_path, project_name=name, project_slug="odd-values", author_name=author, description=description
    )
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["description"] == description
    assert pyproject["project"]["authors"] == [{"name": author}]
    uv = shutil.which("uv")  # `make venv` puts it in .venv; uv's TOML reader is the one `uv sync` uses
    if uv:
        assert run([uv, "version", "--offline", "--frozen"], project).stdout.strip() == "odd-values 0.1.0"
    assert yaml.safe_load((project / "params.yaml").read_text())["register"]["model_name"] == "odd-values"
    assert yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    assert author in (project / "LICENSE").read_text()
    assert name in (project / "README.md").read_text()
    project_tests(project, "tests/test_config.py")


def test_proprietary_license_writes_no_license_file(tmp_path: Path) -> None:
    project = bake(tmp_path, license="Proprietary")
    assert not (project / "LICENSE").exists()


def test_without_git_the_project_still_runs(tmp_path: Path) -> None:
    """No git on PATH: a DVC project without SCM is generated, and its pipeline runs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("python", "dvc"):  # wrappers: a symlink to a venv's python leaves the venv
        wrapper = bin_dir / tool
        wrapper.write_text(f'#!/bin/sh\nexec "{Path(sys.executable).parent / tool}" "$@"\n')
        wrapper.chmod(0o755)
    env = {**os.environ, "PATH": str(bin_dir)}
    result = cookiecutter_cli(tmp_path / "out", env=env)
    assert result.returncode == 0, result.stderr
    assert "git not found" in result.stdout
    project = tmp_path / "out" / "wine-quality"
    assert not (project / ".git").exists() and (project / ".dvc").is_dir()
    repro = subprocess.run([*DVC, "repro"], cwd=project, capture_output=True, text=True, env=env)
    assert repro.returncode == 0, repro.stdout + repro.stderr
    assert '"registered": true' in (project / "reports" / "registration.json").read_text()


def test_generating_over_an_existing_project_stops_and_keeps_its_state(tmp_path: Path) -> None:
    """`cookiecutter -f` into the folder of a project generated before: the hook stops with a
    message naming what is there, and DVC's cache and the MLflow store are as they were."""
    project = bake(tmp_path)
    state = {
        path: path.read_bytes()
        for path in (project / "mlflow.db", *(project / ".dvc" / "cache").rglob("*"))
        if path.is_file()
    }
    again = cookiecutter_cli(tmp_path, "-f")
    assert again.returncode != 0
    assert "holds a project already" in again.stderr and ".dvc/config" in again.stderr
    assert {path: path.read_bytes() for path in state} == state and len(state) > 1
    assert (project / ".git").is_dir() and not (project / ".dvc-plots").exists()


WHO = {"NAME": "t", "EMAIL": "t@example.invalid"}


def test_cookiecutter_installed_on_its_own_makes_the_same_project(tmp_path: Path) -> None:
    """cookiecutter in an environment of its own (as `pipx install cookiecutter` makes): no DVC or
    MLflow there, so the hook uses the `dvc` on PATH. The project is the same as one generated
    where DVC is importable: DVC set up alike, the raw data added and committed, the MLflow store."""
    requirements = (TEMPLATE / "requirements.txt").read_text().splitlines()
    pinned = [line for line in requirements if "==" in line and "[" not in line]  # constraints take no extras
    lock = tmp_path / "constraints.txt"  # as `make venv` installs: the template's pins and the lock's
    lock.write_text("\n".join(pinned) + "\n" + template_lock.constraints())
    python = tmp_path / "cookiecutter-env" / "bin" / "python"
    uv = shutil.which("uv")  # `make venv` puts it in .venv; without it, the slower venv and pip
    if uv:
        run([uv, "venv", "--quiet", "--python", sys.executable, str(python.parents[1])], cwd=tmp_path)
        install = [uv, "pip", "install", "--quiet", "--python", str(python)]
    else:
        run([sys.executable, "-m", "venv", str(python.parents[1])], cwd=tmp_path)
        install = [str(python), "-m", "pip", "install", "--quiet"]
    run([*install, "-c", str(lock), "cookiecutter"], cwd=tmp_path)
    assert run([str(python), "-c", "import dvc"], cwd=tmp_path, check=False).returncode != 0
    remote = ("dvc_remote_url=s3://bucket/path", "s3_endpoint_url=http://127.0.0.1:9000")
    alone = cookiecutter_cli(tmp_path / "alone", *remote, python=python)
    assert alone.returncode == 0, alone.stdout + alone.stderr
    own = (f"dataset={TEST_DATA / 'titanic.csv'}", "target=survived")  # reading a table takes pandas
    no_pandas = cookiecutter_cli(tmp_path / "own", *own, python=python)
    assert no_pandas.returncode != 0 and "reading your table needs pandas, pyarrow" in no_pandas.stderr
    assert cookiecutter_cli(tmp_path / "with-dvc", *remote).returncode == 0
    projects = [tmp_path / folder / "wine-quality" for folder in ("alone", "with-dvc")]
    for project in projects:
        assert run(["git", "status", "--porcelain"], project).stdout == ""  # all committed
        status = run([*DVC, "status", "data/raw/wine.csv.dvc"], project).stdout
        assert "up to date" in status  # the raw data is in DVC's cache
        assert (project / "mlflow.db").is_file() and not (project / ".mlflow-store.sql").exists()
    shared_files = (
        ".dvc/config",
        ".dvc/plots/classification.json",
        ".dvc/plots/regression.json",
        "data/raw/wine.csv.dvc",
        "data/raw/.gitignore",
    )
    for shared in shared_files:
        assert (projects[0] / shared).read_text() == (projects[1] / shared).read_text(), shared

    # No DVC at all (only git on PATH): the hook commits the rest and says what to run once DVC is
    # installed; that makes the same DVC setup, committed, and the pipeline runs.
    git_only = tmp_path / "git-only"
    git_only.mkdir()
    (git_only / "git").symlink_to(shutil.which("git"))
    without = cookiecutter_cli(
        tmp_path / "no-dvc", *remote, python=python, env={**os.environ, "PATH": str(git_only)}
    )
    assert without.returncode == 0, without.stdout + without.stderr
    note = next(line for line in without.stdout.splitlines() if "DVC not found" in line)
    project = tmp_path / "no-dvc" / "wine-quality"
    assert not (project / ".dvc").exists()
    assert run(["git", "ls-files", "data/raw", ".dvc-plots"], project).stdout == ""  # left to DVC
    author = {f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER") for what, value in WHO.items()}
    for command in re.findall(r"`([^`]+)`", note.split("then", 1)[1]):
        words = shlex.split(command)
        command_line = [sys.executable, "-m", *words] if words[0] == "dvc" else words
        run(command_line, project, env={**os.environ, **author})
    assert not (project / ".dvc-plots").exists()
    for shared in shared_files:
        assert (project / shared).read_text() == (projects[1] / shared).read_text(), shared
    assert run(["git", "status", "--porcelain"], project).stdout == ""
    assert "register: models:/wine-quality@staging" in dvc(project, "repro")


def store_contents(database: Path) -> tuple[dict, dict]:
    """A SQLite database's tables, indexes and triggers (the lines of each one's SQL, in any order:
    MLflow's migrations order some constraints differently from run to run), and each table's rows."""
    with closing(sqlite3.connect(database)) as store:
        found = store.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
        objects = {
            (kind, name): sorted(line.strip().rstrip(",").strip() for line in sql.splitlines())
            for kind, name, sql in found
        }
        rows = {
            name: sorted(store.execute(f'SELECT * FROM "{name}"').fetchall())
            for kind, name, _ in found
            if kind == "table"
        }
    return objects, rows


def test_the_generated_store_is_the_one_mlflow_creates(tmp_path: Path) -> None:
    """The hook's `mlflow.db` (from .mlflow-store.sql) is what the locked MLflow's migrations make,
    less their Default experiment (MLflow adds it on first use); rerun tools/dump_mlflow_schema.py
    after changing MLflow's pin."""
    locked = locked_versions(TEMPLATE / "{{cookiecutter.project_slug}}" / "uv.lock")
    shipped = (TEMPLATE / "{{cookiecutter.project_slug}}" / ".mlflow-store.sql").read_text()
    assert locked["mlflow"] == version("mlflow")
    assert f"MLflow {version('mlflow')} tracking store" in shipped.splitlines()[0]
    migrated = tmp_path / "migrated.db"
    run(
        [sys.executable, "-c", dump_mlflow_schema.CREATE_STORE, f"sqlite:///{migrated}", tmp_path.as_uri()],
        tmp_path,
    )
    with closing(sqlite3.connect(migrated)) as store, store:
        assert store.execute("DELETE FROM experiments WHERE name = 'Default'").rowcount == 1
    generated_objects, generated_rows = store_contents(bake(tmp_path / "out") / "mlflow.db")
    migrated_objects, migrated_rows = store_contents(migrated)
    assert len(generated_objects) > 100 and generated_rows["alembic_version"]
    assert generated_objects == migrated_objects
    assert generated_rows == migrated_rows


NAMES = {
    # project name: the folder (and distribution, registered model) and package it defaults to
    'Café "Quoted" O\'Brien — ML': ("cafe-quoted-obrien-ml", "cafe_quoted_obrien_ml"),
    "Naïve Bayes, Revisited.": ("naive-bayes-revisited", "naive_bayes_revisited"),
    "1st Project": ("1st-project", "project_1st_project"),
    "Churn (2026)!": ("churn-2026", "churn_2026"),
    "机器学习": ("ji-qi-xue-xi", "ji_qi_xue_xi"),
    "Wine Quality": ("wine-quality", "wine_quality"),
}


@pytest.mark.parametrize("name", list(NAMES))
def test_any_project_name_generates_with_the_other_options_at_their_defaults(
    name: str, tmp_path: Path
) -> None:
    slug, package = NAMES[name]
    project = bake(tmp_path, project_name=name)
    assert project.name == slug and (project / package / "stages" / "train.py").is_file()
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["register"]["model_name"] == slug
    assert name in (project / "README.md").read_text()
    project_tests(project, "tests/test_config.py")


@pytest.mark.parametrize("name", ["!!!", "🚀🚀", " — "])
def test_a_name_with_nothing_left_for_a_folder_is_refused_in_one_line(name: str, tmp_path: Path) -> None:
    result = cookiecutter_cli(tmp_path / "out", f"project_name={name}")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR: project_name=")]
    assert len(errors) == 1 and "nothing of it is left for a folder name" in errors[0], result.stderr
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
