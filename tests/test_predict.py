"""Using the model: batch predictions from the registry or the model file, the scoring server, a
Bento; and the MLflow UI's pages of the run and the registered model, in a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
import yaml
from conftest import DVC, bake, locked_versions, run
from team_stack import free_port, listening_addresses, served

if TYPE_CHECKING:
    pass

pytestmark = pytest.mark.xdist_group("predict")


@pytest.fixture(scope="module")
def promoted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classification project whose first model is registered and promoted to production."""
    project = bake(tmp_path_factory.mktemp("predict"), project_name="scored", dataset="breast_cancer")
    run([*DVC, "repro"], project)
    run(["make", "promote"], project)
    return project


def predict(project: Path, model: str, rows: Path, output: Path, check: bool = True):
    command = ["make", "predict", f"MODEL={model}", f"INPUT={rows}", f"OUTPUT={output}"]
    return run(command, project, check=check)


def test_predict_from_registry_alias_and_from_model_file_agree(promoted: Path, tmp_path: Path) -> None:
    raw = promoted / "data" / "raw" / "breast_cancer.csv"
    predict(promoted, "models:/scored@production", raw, tmp_path / "registry.csv")
    predict(promoted, "models/model.skops", raw, tmp_path / "file.csv")
    scores = pd.read_csv(tmp_path / "registry.csv")
    assert list(scores.columns) == ["prediction", "probability_0", "probability_1"]
    assert len(scores) == len(pd.read_csv(raw))
    assert scores[["probability_0", "probability_1"]].sum(axis=1).round(6).eq(1).all()
    assert (tmp_path / "registry.csv").read_bytes() == (tmp_path / "file.csv").read_bytes()


def test_predict_names_missing_columns_and_writes_nothing(promoted: Path, tmp_path: Path) -> None:
    raw = pd.read_csv(promoted / "data" / "raw" / "breast_cancer.csv")
    rows = tmp_path / "rows.csv"
    raw.drop(columns=["mean_radius", "worst_area"]).to_csv(rows, index=False)
    failed = predict(promoted, "models:/scored@production", rows, tmp_path / "out.csv", check=False)
    assert failed.returncode != 0
    assert (
        f"error: {rows} does not fit the model: columns missing: 'mean_radius', 'worst_area'" in failed.stderr
    )
    assert not (tmp_path / "out.csv").exists()
    failed = predict(promoted, "models:/scored@nonexistent", rows, tmp_path / "out.csv", check=False)
    assert failed.returncode != 0
    assert "error: can't load models:/scored@nonexistent: " in failed.stderr
    assert not (tmp_path / "out.csv").exists()
    unnamed = run(["make", "predict"], promoted, check=False)
    assert unnamed.returncode != 0 and "make predict INPUT=new.csv OUTPUT=scores.csv" in unnamed.stderr


def test_serve_names_a_model_the_store_lacks_before_starting(promoted: Path) -> None:
    result = run(
        ["make", "serve", "MODEL=models:/scored@nonexistent", f"SERVE_PORT={free_port()}"],
        promoted,
        check=False,
    )
    assert result.returncode != 0
    assert "error: can't serve models:/scored@nonexistent: " in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_answers_like_batch_predict(promoted: Path, tmp_path: Path) -> None:
    port = free_port()
    rows = pd.read_csv(promoted / "data" / "raw" / "breast_cancer.csv").drop(columns="target").head(7)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    predict(promoted, "models:/scored@production", tmp_path / "rows.csv", tmp_path / "batch.csv")
    server = subprocess.Popen(
        ["make", "serve", f"SERVE_PORT={port}"],
        cwd=promoted, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        body = json.dumps({"dataframe_split": rows.to_dict(orient="split", index=False)}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        answer = post_when_up(request, server)
        assert answer["predictions"] == pd.read_csv(tmp_path / "batch.csv")["prediction"].tolist()
        assert listening_addresses(port) == {"127.0.0.1"}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def post_when_up(request: urllib.request.Request, server: subprocess.Popen, timeout: float = 120) -> dict:
    """POST once the server listens; fail with its output if it exits or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    server.terminate()
    raise AssertionError(f"the scoring server never answered:\n{server.stdout.read().decode()}")


def post(url: str, payload: object) -> tuple[int, object]:
    """POST `payload` as JSON; (status, the answer's JSON)."""
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def bento_served(project: Path, port: int, log: Path, *settings: str) -> AbstractContextManager[str]:
    """`make serve-bento` on `port` with these `settings` (VAR=value), ready once /readyz answers
    (see served)."""
    return served(project, ["serve-bento", f"BENTO_PORT={port}", *settings], port, "/readyz", log)


def build_bento(project: Path, model: str) -> Path:
    """`make bento MODEL=model`; the Bento's folder, checked to carry the lock's pins."""
    built = run(["make", "bento", f"MODEL={model}"], project).stdout
    name, version = re.search(r"^bento: built (\S+):(\S+) ", built, re.MULTILINE).groups()
    bento = project / ".bentoml" / "bentos" / name / version
    locked = locked_versions(project / "uv.lock")
    pins = (bento / "env" / "python" / "requirements.txt").read_text().splitlines()
    for package in ("bentoml", "scikit-learn", "pandas", "mlflow-skinny"):
        assert f"{package}=={locked[package]}" in pins
    assert not any(line.startswith(("dvc==", "mlflow==")) for line in pins)  # serving needs neither
    return bento


def served_models(bento: Path) -> list[str]:
    """The tags of the models inside the Bento, from its bento.yaml."""
    return [
        model["tag"] for model in yaml.safe_load((bento / "bento.yaml").read_text())["services"][0]["models"]
    ]


def answers_of(batch: pd.DataFrame) -> list[dict]:
    """`make predict`'s output as the services answer it: prediction, and probabilities by class."""
    classes = [column.removeprefix("probability_") for column in batch.columns[1:]]
    return [
        {"prediction": row[0], "probabilities": dict(zip(classes, row[1:], strict=True)) if classes else None}
        for row in batch.itertuples(index=False)
    ]


def test_a_bento_of_the_production_model_answers_like_batch_predict(promoted: Path, tmp_path: Path) -> None:
    assert served_models(build_bento(promoted, "models:/scored@production")) == ["scored:v1"]
    rows = pd.read_csv(promoted / "data" / "raw" / "breast_cancer.csv").drop(columns="target").head(7)
    rows.iloc[2, 3] = None  # an empty cell
    rows.to_csv(tmp_path / "rows.csv", index=False)
    predict(promoted, "models:/scored@production", tmp_path / "rows.csv", tmp_path / "batch.csv")
    expected = answers_of(pd.read_csv(tmp_path / "batch.csv"))
    records = json.loads(rows.to_json(orient="records"))  # the empty cell as null
    port = free_port()
    with bento_served(promoted, port, tmp_path / "serve.log", "BENTO_MAX_ROWS=50") as url:
        assert post(f"{url}/predict", {"rows": records}) == (200, expected)
        assert listening_addresses(port) == {"127.0.0.1"}
        # More rows than the cap: 413, with a JSON error that names the cap's setting.
        assert post(f"{url}/predict", {"rows": (records * 8)[:51]}) == (
            413,
            [{"error": "51 rows in one request; at most 50 (BENTO_MAX_ROWS)"}],
        )
        # A missing or mistyped column is the client's error, named with its row.
        missing, mistyped = dict(records[0]), dict(records[1])
        del missing["mean_radius"]
        mistyped["worst_area"] = "large"
        status, error = post(f"{url}/predict", {"rows": [missing, mistyped]})
        assert status == 400
        assert {(tuple(item["loc"]), item["type"]) for item in error["detail"]} == {
            (("rows", 0, "mean_radius"), "missing"),
            (("rows", 1, "worst_area"), "float_parsing"),
        }
        # 200 requests from 8 threads: every one answered, alike.
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: post(f"{url}/predict", {"rows": records[:3]}), range(200)))
        assert answers == [(200, expected[:3])] * 200


# MLflow's UI asks who the user is, for its optional authentication; without it, a 404.
UI_PROBES = ("/ajax-api/2.0/mlflow/users/current",)


def test_the_mlflow_ui_shows_where_runs_and_versions_came_from(promoted: Path, tmp_path: Path) -> None:
    """`make ui`, opened in headless Chromium: the experiment's runs by name, a run's description,
    lineage tags and plots, the registered model's versions with aliases and lineage, a DVC
    experiment's run named after it; no script error, no failed request. Each page's screenshot is
    kept in this test's tmp_path."""
    browser = shutil.which("chromium")
    if browser is None:
        reason = "headless Chromium is needed (Debian: apt-get install chromium)"
        pytest.fail(f"{reason}; .ci/run installs it") if os.environ.get("CI") else pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    dvc = DVC
    run([*dvc, "exp", "run", "--name", "more-trees", "-S", "train.n_estimators=150"], promoted)
    decision = json.loads((promoted / "reports" / "registration.json").read_text())  # the experiment's
    head = run(["git", "rev-parse", "HEAD"], promoted).stdout.strip()
    data_md5 = yaml.safe_load((promoted / "data" / "raw" / "breast_cancer.csv.dvc").read_text())["outs"][0][
        "md5"
    ]
    experiment = decision["mlflow_experiment_id"]
    port = free_port()
    problems: list[str] = []
    with (
        served(promoted, ["ui", f"PORT={port}"], port, "/health", tmp_path / "ui.log") as url,
        sync_playwright() as playwright,
    ):
        assert listening_addresses(port) == {"127.0.0.1"}
        chromium = playwright.chromium.launch(
            executable_path=browser,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        page.on(
            "response",
            lambda response: (
                problems.append(f"{response.status} {response.url}")
                if response.status >= 400 and not response.url.endswith(UI_PROBES)
                else None
            ),
        )

        def visit(name: str, fragment: str, *texts: str) -> str:
            """Open a page of the UI; wait until it shows each of `texts`; return its text."""
            page.goto(f"{url}/#/{fragment}")
            try:
                for text in texts:
                    page.get_by_text(text, exact=False).first.wait_for(timeout=60_000)
            finally:
                page.screenshot(path=tmp_path / f"{name}.png", full_page=True)
            return page.inner_text("body")

        runs = visit("experiment", f"experiments/{experiment}?workflowType=machine_learning", "more-trees")
        assert f"workspace@{head[:7]}" in runs  # the run of `dvc repro`, beside the experiment's
        run_page = visit(
            "run",
            f"experiments/{experiment}/runs/{decision['mlflow_run_id']}",
            f"random_forest on breast_cancer.csv (data {data_md5[:8]})",
            "dvc_exp_name",
        )
        for shown in ("more-trees", head, data_md5, "git_commit", "dvc_data_md5"):
            assert shown in run_page, shown
        visit(
            "plot",
            f"experiments/{experiment}/runs/{decision['mlflow_run_id']}/artifacts/plots/confusion_matrix.png",
            "plots/confusion_matrix.png",
        )
        page.wait_for_function(
            "[...document.images].some(i => i.src.startsWith('blob:') && i.naturalWidth > 0)"
        )
        model = visit("model", "models/scored", "@ production", "@ staging")
        description = tomllib.loads((promoted / "pyproject.toml").read_text())["project"]["description"]
        assert description in model
        for shown in ("Version 1", "Version 2", "git_commit", head, "dvc_exp_name", "more-trees", "f1_macro"):
            assert shown in model, shown
        visit("version", f"models/scored/versions/{decision['model_version']}", "Source Run", "more-trees")
        chromium.close()
    assert problems == []


@pytest.mark.parametrize("model", ["xgboost", "lightgbm"])
def test_an_xgboost_or_lightgbm_experiment_registers_a_version_predict_and_a_bento_answer_with(
    promoted: Path, tmp_path: Path, model: str
) -> None:
    """`dvc exp run -S train.model=...` (in a temporary copy, so the workspace and production stay as
    they were for the tests above) registers a version of that model @staging; batch predict and a
    Bento of it answer alike."""
    from mlflow import MlflowClient

    run([*DVC, "exp", "run", "--temp", "-S", f"train.model={model}"], promoted)
    client = MlflowClient(tracking_uri=f"sqlite:///{promoted / 'mlflow.db'}")
    version = client.get_model_version_by_alias("scored", "staging")
    logged = client.get_run(version.run_id).data
    assert logged.params["train.model"] == model
    # Its training curve: the test split's log loss after each of the 100 iterations, the last one
    # the log loss evaluate measured.
    curve = sorted(
        (point.step, point.value) for point in client.get_metric_history(version.run_id, "loss/test")
    )
    assert [step for step, _ in curve] == list(range(1, int(logged.params["train.n_estimators"]) + 1))
    assert curve[-1][1] == pytest.approx(logged.metrics["log_loss"], rel=1e-4)
    raw = pd.read_csv(promoted / "data" / "raw" / "breast_cancer.csv")
    raw.drop(columns="target").to_csv(tmp_path / "rows.csv", index=False)
    predict(promoted, "models:/scored@staging", tmp_path / "rows.csv", tmp_path / "batch.csv")
    batch = pd.read_csv(tmp_path / "batch.csv")
    assert (batch["prediction"] == raw["target"]).mean() > 0.95  # 3 of 4 rows are its training rows
    bento = build_bento(promoted, "models:/scored@staging")
    assert served_models(bento) == [f"scored:v{version.version}"]
    library = "lightgbm" if model == "lightgbm" else "xgboost-cpu"
    locked = locked_versions(promoted / "uv.lock")
    pins = (bento / "env" / "python" / "requirements.txt").read_text().splitlines()
    assert any(line.split(";")[0] == f"{library}=={locked[library]}" for line in pins)  # with its marker
    records = json.loads(raw.drop(columns="target").head(5).to_json(orient="records"))
    with bento_served(promoted, free_port(), tmp_path / "serve.log") as url:
        assert post(f"{url}/predict", {"rows": records}) == (200, answers_of(batch.head(5)))
