"""What reruns when: code reruns the stages that import it, the environment in uv.lock reruns every
stage (or stops `dvc repro` before any work when .venv does not match it), a dev tool nothing.
(That `dvc pull` refuses an object changed in an S3 remote: test_team.py.)"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import COMBOS, DVC, dvc, run
from mlflow import MlflowClient

COMBO = COMBOS[0]  # the wine sample: shares its generated, reproduced project with test_generated
pytestmark = pytest.mark.xdist_group(COMBO.id)


@pytest.fixture
def project(reproduced, tmp_path: Path) -> Path:
    """A copy of a project that has run its pipeline, for a test to change."""
    original = reproduced(COMBO)
    copy = tmp_path / original.name  # the folder's name is the MLflow experiment's
    shutil.copytree(original, copy, symlinks=True)
    return copy


def changed_stages(project: Path) -> list[str]:
    """The stages `dvc status` says have changed deps, in its order."""
    return re.findall(r"^(\w+):$", dvc(project, "status"), re.MULTILINE)


def ran_stages(output: str) -> list[str]:
    return re.findall(r"^Running stage '(\w+)':$", output, re.MULTILINE)


def set_locked_version(project: Path, package: str, new_version: str) -> None:
    lock = project / "uv.lock"
    text, found = re.subn(
        rf'^(name = "{package}"\nversion = )"[^"]+"', rf'\1"{new_version}"', lock.read_text(), flags=re.M
    )
    assert found == 1, package
    lock.write_text(text)


def runs(project: Path) -> list:
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    return client.search_runs([client.get_experiment_by_name(project.name).experiment_id])


def test_editing_a_module_reruns_the_stages_that_import_it_and_no_other(project: Path) -> None:
    package = next(path.parent.parent for path in project.glob("*/stages/prepare.py"))
    for module in ("serving/predict.py", "experiments/tune.py", "tracking/ui.py", "ops/adopt.py"):
        with (package / module).open("a") as file:
            file.write("# edited\n")
    assert changed_stages(project) == []
    for module, stages in {
        "tables/sniff.py": ["prepare"],
        "model.py": ["train"],  # evaluate and register load the fitted model, not the code that built it
        "model_file.py": ["train", "evaluate", "register"],  # writes and reads the model file
        "date_features.py": ["train", "evaluate", "register"],  # the fitted model runs its code
        "tracking/store.py": ["train", "register"],  # train: train.live_run's tracking/live.py imports it
        "tracking/registry.py": ["register"],
        "common/errors.py": ["environment", "prepare", "train", "evaluate", "register"],
    }.items():
        with (package / module).open("a") as file:
            file.write("# edited\n")
        assert changed_stages(project) == stages, module
        run(["git", "checkout", "--", str(package / module)], project)


def test_a_dev_tools_new_version_in_the_lock_reruns_nothing(project: Path) -> None:
    pins = (project / "pipeline-requirements.txt").read_text()
    set_locked_version(project, "ruff", "0.0.1")
    assert changed_stages(project) == ["environment"]
    assert ran_stages(dvc(project, "repro")) == ["environment"]
    assert (project / "pipeline-requirements.txt").read_text() == pins
    assert "Data and pipelines are up to date" in dvc(project, "repro")


def test_a_runtime_packages_new_version_in_the_lock_reruns_every_stage(project: Path) -> None:
    before = {logged.info.run_id for logged in runs(project)}
    # pywin32 is locked for Windows only, so .venv here matches the lock either way.
    set_locked_version(project, "pywin32", "1")
    output = dvc(project, "repro")
    assert ran_stages(output) == ["environment", "prepare", "train", "evaluate", "register"]
    assert "pywin32==1\n" in (project / "pipeline-requirements.txt").read_text()
    new = [logged for logged in runs(project) if logged.info.run_id not in before]
    assert len(new) == 1  # a new MLflow run records the new environment
    pins_md5 = run(["md5sum", "pipeline-requirements.txt"], project).stdout.split()[0]
    assert new[0].data.tags["environment_md5"] == pins_md5


def test_a_venv_that_does_not_match_the_lock_stops_repro_before_any_stage(project: Path) -> None:
    decision = (project / "reports" / "registration.json").read_text()
    before = len(runs(project))
    set_locked_version(project, "scikit-learn", "0.0.1")
    result = run([*DVC, "repro"], project, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert ran_stages(output) == ["environment"]
    assert re.search(
        r"^error: the environment does not match uv\.lock: scikit-learn \S+ installed, 0\.0\.1 locked: "
        r"run `make setup`$",
        output,
        re.MULTILINE,
    ), output
    assert "Traceback" not in output
    assert (project / "reports" / "registration.json").read_text() == decision
    assert len(runs(project)) == before
    doctor = run(["make", "doctor"], project, check=False)
    assert doctor.returncode != 0
    assert "problem: the environment does not match uv.lock: scikit-learn" in doctor.stdout
