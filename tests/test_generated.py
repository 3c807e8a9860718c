"""Every combination of options generates a project that is clean, runs, registers and traces."""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import COMBOS, Combo, bake, dvc, dvc_lock_hashes, project_tests, run
from mlflow import MlflowClient

STAGES = ("environment", "prepare", "train", "evaluate", "register")


def tracking_md5(path: Path) -> str:
    """The MD5 that DVC and the run's tags record for a file."""
    return hashlib.md5(path.read_bytes()).hexdigest()


GITHUB_EXPRESSION = re.compile(r"\$\{\{ [A-Za-z_.]+ \}\}")  # ${{ secrets.X }} in the CI workflow is GitHub's

combos = pytest.mark.parametrize(
    "combo", [pytest.param(c, id=c.id, marks=pytest.mark.xdist_group(c.id)) for c in COMBOS]
)
# A local remote changes only DVC's config, the git hooks and the README, none of the code or the
# tests: a project's own tests and lint run once per data set and model, without it.
combos_without_remote = pytest.mark.parametrize(
    "combo",
    [pytest.param(c, id=c.id, marks=pytest.mark.xdist_group(c.id)) for c in COMBOS if not c.local_remote],
)


@combos
def test_generated_files_are_fully_rendered(combo: Combo, generated) -> None:
    project = generated(combo)
    leftovers = []
    for path in project.rglob("*"):
        data = path.parent == project / "data" / "raw" and path.suffix not in (".dvc", "")  # DVC's bytes
        if path.is_file() and ".git" not in path.parts and ".dvc" not in path.parts and not data:
            text = GITHUB_EXPRESSION.sub("", path.read_text(errors="ignore"))
            if "{{" in text or "{%" in text:
                leftovers.append(str(path.relative_to(project)))
    assert leftovers == []
    assert not list(project.rglob("*cookiecutter*"))
    schema = yaml.safe_load((project / "data" / "schema.yaml").read_text())
    assert (schema["raw"], schema["target"], schema["task"]) == (combo.raw, combo.target, combo.task)
    raw_files = sorted(p.name for p in (project / "data" / "raw").iterdir())
    name = combo.raw.split("/")[-1]
    assert raw_files == sorted([".gitignore", name, f"{name}.dvc"])  # the chosen data alone


@combos
def test_generation_makes_one_clean_commit_with_dvc_tracked_data(combo: Combo, generated) -> None:
    project = generated(combo)
    assert run(["git", "status", "--porcelain"], project).stdout == ""
    assert run(["git", "log", "--oneline"], project).stdout.count("\n") == 1
    tracked = run(["git", "ls-files"], project).stdout.split()
    assert f"{combo.raw}.dvc" in tracked and "data/schema.yaml" in tracked
    assert ".gitattributes" in tracked  # LF line endings from the first commit on, whatever the clone
    assert combo.raw not in tracked  # the data itself is DVC's
    assert "mlflow.db" not in tracked and (project / "mlflow.db").exists()
    # the templates dvc.yaml names by task (confusion counts; scatter), committed where `dvc plots` looks
    plots_templates = [path for path in tracked if path.startswith(".dvc/plots/")]
    assert plots_templates == [".dvc/plots/classification.json", ".dvc/plots/regression.json"]
    assert not (project / ".dvc-plots").exists()
    config = (project / ".dvc" / "config").read_text()
    assert (f"url = {project.parent / 'dvc-remote'}" in config) == combo.local_remote


@combos
def test_repro_registers_a_model_that_traces_back(combo: Combo, reproduced) -> None:
    project = reproduced(combo)
    decision = json.loads((project / "reports" / "registration.json").read_text())
    run_id = decision["mlflow_run_id"]
    assert decision["registered"] is True, decision["reason"]
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    model = client.get_registered_model(decision["model_name"])
    assert model.aliases == {"staging": 1}
    assert client.get_model_version(model.name, "1").run_id == run_id
    run_data = client.get_run(run_id).data
    head = run(["git", "rev-parse", "HEAD"], project).stdout.strip()
    raw_md5 = yaml.safe_load((project / f"{combo.raw}.dvc").read_text())["outs"][0]["md5"]
    assert run_data.tags["git_commit"] == head
    assert run_data.tags["git_dirty"] == "false"  # run on the generated commit as it is
    assert run_data.tags["dvc_model_md5"] == dvc_lock_hashes(project)["models/model.skops"]
    assert run_data.tags["dvc_data_md5"] == raw_md5
    assert run_data.params["train.model"] == combo.model
    assert run_data.tags["data_source"] == combo.raw
    assert run_data.tags["data_schema_md5"] == tracking_md5(project / "data" / "schema.yaml")
    assert run_data.tags["environment_md5"] == tracking_md5(project / "pipeline-requirements.txt")
    # The MLflow UI's run and model pages tell the lineage too: the run's name and description,
    # the version's description and tags, the registered model's description.
    assert client.get_run(run_id).info.run_name == f"workspace@{head[:7]}"
    description = run_data.tags["mlflow.note.content"]
    assert description.startswith(f"{combo.model} on {Path(combo.raw).name} (data {raw_md5[:8]}): ")
    assert description.endswith(f"; commit {head[:7]}")
    version = client.get_model_version(model.name, "1")
    assert version.description == description
    assert {key: version.tags[key] for key in ("git_commit", "dvc_data_md5", "model")} == {
        "git_commit": head,
        "dvc_data_md5": raw_md5,
        "model": combo.model,
    }
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert model.description == pyproject["project"]["description"]
    metrics = json.loads((project / "dvclive" / "metrics.json").read_text())
    # A boosted model's run also holds its training curve's last losses (train's dvclive summary).
    curve = json.loads((project / "dvclive" / "training" / "metrics.json").read_text()).get("loss", {})
    assert run_data.metrics == pytest.approx(
        metrics | {f"loss/{split}": value for split, value in curve.items()}
    )
    assert bool(curve) == (combo.model == "gradient_boosting")
    assert "Data and pipelines are up to date" in dvc(project, "repro")
    output = (project.parent / "repro.log").read_text()
    assert "warning" not in output.lower() and "Traceback" not in output, output
    # each stage says what it did in one line of its own; no library chatter
    stage_lines = [line for line in output.splitlines() if line.split(":")[0] in STAGES]
    assert [line.split(":")[0] for line in stage_lines] == list(STAGES), output
    for chatter in ("Successfully registered", "Created version", "Waiting up to", "INFO", "🏃"):
        assert chatter not in output, output


@combos
def test_repro_is_deterministic_and_data_reaches_the_remote(combo: Combo, reproduced) -> None:
    project = reproduced(combo)
    before = dvc_lock_hashes(project)
    dvc(project, "repro", "--force")
    after = dvc_lock_hashes(project)
    for path in (
        "data/prepared/train.parquet",
        "data/prepared/test.parquet",
        "models/model.skops",
        "dvclive/metrics.json",
    ):
        assert after[path] == before[path], path
    if combo.local_remote:
        dvc(project, "push")
        assert "in sync" in dvc(project, "status", "--cloud")
        remote_files = {
            p.parent.name + p.name for p in (project.parent / "dvc-remote").rglob("*") if p.is_file()
        }
        assert before["models/model.skops"] in remote_files


@combos_without_remote
def test_generated_project_passes_its_own_tests_and_lint(combo: Combo, reproduced) -> None:
    project = reproduced(combo)
    project_tests(project)
    run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], project)
    run([sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."], project)


def test_names_chosen_apart_from_the_slug_reach_every_command(tmp_path: Path) -> None:
    """A package and a registered model named otherwise than the slug: the pipeline registers that
    model, promote and predict find it by default, and the project's own tests pass with that package."""
    project = bake(
        tmp_path, project_name="Named Apart", package_name="core_pkg", registered_model_name="Custom.Model_1"
    )
    assert (project / "core_pkg" / "stages" / "train.py").exists()
    dvc(project, "repro")
    decision = json.loads((project / "reports" / "registration.json").read_text())
    assert decision["model_name"] == "Custom.Model_1" and decision["registered"] is True
    assert "models:/Custom.Model_1@production -> version 1" in run(["make", "promote"], project).stdout
    rows = project / "data" / "raw" / "wine.csv"
    run(["make", "predict", f"INPUT={rows}", f"OUTPUT={tmp_path / 'scores.csv'}"], project)
    assert len((tmp_path / "scores.csv").read_text().splitlines()) == len(rows.read_text().splitlines())
    project_tests(project)
