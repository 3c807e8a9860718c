"""The hooks: bad options are refused before anything is written; odd but valid values work."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import OPTIONS, TEMPLATE, bake, run

spec = importlib.util.spec_from_file_location("pre_gen_project", TEMPLATE / "hooks" / "pre_gen_project.py")
pre_gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pre_gen)

DEFAULTS = {
    **{key: value[0] if isinstance(value, list) else value for key, value in OPTIONS.items()},
    "project_slug": "wine-quality",
    "package_name": "wine_quality",
    "registered_model_name": "wine-quality",
    "mlflow_tracking_uri": "",
    "dvc_remote_url": "",
    "s3_endpoint_url": "",
}

BAD_OPTIONS = [
    ("project_name", "   "),
    ("project_slug", "my project"),
    ("project_slug", "MyProject"),
    ("project_slug", "1st-project"),
    ("package_name", "class"),
    ("package_name", "my-package"),
    ("package_name", "mlflow"),
    ("package_name", "json"),
    ("python_version", "3.9"),
    ("dataset", "iris"),
    ("model", "svm"),
    ("registered_model_name", "my model"),
    ("mlflow_tracking_uri", "localhost:5000"),
    ("mlflow_tracking_uri", "http://"),
    ("mlflow_tracking_uri", "http://user:secret@mlflow.example.com"),
    ("mlflow_tracking_uri", "http://127.0.0.1:99999"),
    ("dvc_remote_url", "gs://bucket/path"),
    ("dvc_remote_url", "relative/dir"),
    ("dvc_remote_url", "s3://A_Bucket"),
    ("s3_endpoint_url", "minio:9000"),
    ("s3_endpoint_url", "http://127.0.0.1:9000"),  # with no s3:// remote
    ("team_stack", "maybe"),
]


@pytest.mark.parametrize(("option", "value"), BAD_OPTIONS, ids=[f"{o}={v}" for o, v in BAD_OPTIONS])
def test_each_bad_option_gets_one_message_naming_it(option: str, value: str) -> None:
    problems = pre_gen.check_options({**DEFAULTS, option: value})
    assert len(problems) == 1
    assert problems[0].startswith(f"{option}={value!r} is not valid: ")


def test_default_options_are_valid() -> None:
    assert pre_gen.check_options(DEFAULTS) == []


def test_model_that_does_not_fit_the_task_is_refused() -> None:
    models = {"random_forest": ["classification", "regression"], "linear_only": ["regression"]}
    problems = pre_gen.check_options({**DEFAULTS, "_models": models, "model": "linear_only"})
    assert problems == [
        "model='linear_only' is not valid: data set 'wine' is a classification task; choose one of random_forest"
    ]


def cookiecutter_cli(output_dir: Path, *options: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`cookiecutter --no-input` of this template, as a user runs it."""
    command = [
        sys.executable,
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
        assert f"ERROR: {option}={value!r} is not valid" in result.stderr + result.stdout
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_quotes_and_unicode_in_free_text_survive(tmp_path: Path) -> None:
    name = 'Ünïcode "Quoted" Project: #1'
    author = "Zoë O'Brien \\ {braces}"
    description = 'Predicts "things": fast, {reliably} & with a # sign'
    project = bake(
        tmp_path, project_name=name, project_slug="odd-values", author_name=author, description=description
    )
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["description"] == description
    assert pyproject["project"]["authors"] == [{"name": author}]
    assert yaml.safe_load((project / "params.yaml").read_text())["register"]["model_name"] == "odd-values"
    assert yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    assert author in (project / "LICENSE").read_text()
    assert name in (project / "README.md").read_text()
    run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_config.py"], project)


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
    repro = subprocess.run(
        [sys.executable, "-m", "dvc", "repro"], cwd=project, capture_output=True, text=True, env=env
    )
    assert repro.returncode == 0, repro.stdout + repro.stderr
    assert '"registered": true' in (project / "reports" / "registration.json").read_text()
