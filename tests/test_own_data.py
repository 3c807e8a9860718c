"""A project from the user's own table: real public tables with text, gaps and text labels; bad
tables refused in one line before anything is written; `make adopt`; a table brought in by URL."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import COMBOS, TEST_DATA, Combo, bake, dvc, run
from team_stack import AWS_ENV, TeamStack, aws_kwargs, free_port
from test_hooks import cookiecutter_cli
from test_predict import answers_of, bento_served, build_bento, post, post_when_up, served_models

OWN = [pytest.param(c, id=c.id, marks=pytest.mark.xdist_group(c.id)) for c in COMBOS if c.own]


def raw_rows(project: Path, combo: Combo, count: int = 25) -> tuple[pd.DataFrame, dict]:
    """`count` rows of the project's table as a user sends them: without the target and the
    ignored columns, a gap in each feature's column (one row each), and in one row a category the
    model never saw. Also the schema."""
    schema = yaml.safe_load((project / "data" / "schema.yaml").read_text())
    columns = schema["columns"]
    features = [name for name, column in columns.items() if column["role"] == "feature"]
    table = pd.read_csv(project / combo.raw) if ".csv" in combo.raw else pd.read_parquet(project / combo.raw)
    rows = table[features].sample(n=count, random_state=1).reset_index(drop=True).astype(object)
    for number, name in enumerate(features):
        rows.loc[number % count, name] = None
    category = next(name for name in features if columns[name]["kind"] == "category")
    rows.loc[count - 1, category] = "never seen before"
    return rows, schema


@pytest.mark.parametrize("combo", OWN)
def test_raw_rows_are_predicted_through_the_registry_and_the_model_file(
    combo: Combo, reproduced, tmp_path: Path
) -> None:
    project = reproduced(combo)
    rows, schema = raw_rows(project, combo)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    name = json.loads((project / "reports" / "registration.json").read_text())["model_name"]
    outputs = {}
    for model, file_name in ((f"models:/{name}@staging", "staging.csv"), ("models/model.skops", "file.csv")):
        output = tmp_path / file_name
        result = run(
            ["make", "predict", f"MODEL={model}", f"INPUT={tmp_path / 'rows.csv'}", f"OUTPUT={output}"],
            project,
        )
        assert "categories the model never saw" in result.stderr and ": 1 rows)" in result.stderr
        outputs[model] = output.read_bytes()
    assert len(set(outputs.values())) == 1  # the same answers from both
    scores = pd.read_csv(tmp_path / "staging.csv", keep_default_na=False)
    assert len(scores) == len(rows)
    if combo.task == "classification":
        classes = [str(label) for label in schema["columns"][combo.target]["categories"]]
        assert list(scores.columns) == ["prediction", *(f"probability_{label}" for label in classes)]
        assert set(scores["prediction"].astype(str)) <= set(classes)  # the data's own labels
    else:
        assert pd.to_numeric(scores["prediction"]).notna().all()


@pytest.mark.parametrize("combo", OWN)
def test_the_gate_and_the_run_show_the_baseline(combo: Combo, reproduced) -> None:
    project = reproduced(combo)
    decision = json.loads((project / "reports" / "registration.json").read_text())
    assert decision["registered"] and decision["reason"] == "passed the gate"
    metrics = json.loads((project / "dvclive" / "metrics.json").read_text())
    main = "f1_macro" if combo.task == "classification" else "r2"
    assert metrics[main] > metrics[f"baseline_{main}"]
    compared = run(
        [sys.executable, "-m", f"{project.name.replace('-', '_')}.experiments.compare"], project
    ).stdout
    header, first = compared.splitlines()[:2]
    assert f"baseline_{main}" in header.split()
    assert f"{metrics[f'baseline_{main}']:.4f}" in first.split()  # this run's baseline


def test_a_served_model_answers_raw_rows_like_batch_predict(reproduced, tmp_path: Path) -> None:
    combo = next(c for c in COMBOS if c.dataset == "penguins.csv")
    project = reproduced(combo)
    rows, _ = raw_rows(project, combo, count=8)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    name = json.loads((project / "reports" / "registration.json").read_text())["model_name"]
    model = f"models:/{name}@staging"
    run(
        [
            "make",
            "predict",
            f"MODEL={model}",
            f"INPUT={tmp_path / 'rows.csv'}",
            f"OUTPUT={tmp_path / 'batch.csv'}",
        ],
        project,
    )
    port = free_port()
    server = subprocess.Popen(
        ["make", "serve", f"MODEL={model}", f"SERVE_PORT={port}"],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        split = json.loads(rows.to_json(orient="split", index=False))  # gaps as null
        body = json.dumps({"dataframe_split": split}).encode()
        import urllib.request

        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        answer = post_when_up(request, server)
        assert answer["predictions"] == pd.read_csv(tmp_path / "batch.csv")["prediction"].tolist()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    # The same rows, text categories and empty cells included, through a Bento of the same model.
    (served,) = served_models(build_bento(project, model))
    assert served.endswith(":v1")
    records = json.loads(rows.to_json(orient="records"))
    expected = answers_of(pd.read_csv(tmp_path / "batch.csv"))
    with bento_served(project, free_port(), tmp_path / "bento.log") as url:
        assert post(f"{url}/predict", {"rows": records}) == (200, expected)


def table_file(tmp_path: Path, name: str, frame: pd.DataFrame) -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def penguins() -> pd.DataFrame:
    return pd.read_csv(TEST_DATA / "penguins.csv")


BAD_TABLES = {
    # name: (file name, frame or raw text, target, task, the message's words)
    "empty-file": ("empty.csv", "", "species", "auto", "is empty"),
    "header-only": ("header.csv", "species,island\n", "species", "auto", "has a header but no rows"),
    "broken-workbook": ("table.xlsx", "PK", "species", "auto", "can't read"),
    "not-a-table": ("notes.docx", "PK", "species", "auto", "is not a table this project reads"),
    "credentials-in-the-url": (
        "https://ann:s3cr3t-Pa55@example.org/t.csv",
        None,
        "species",
        "auto",
        "the URL holds a user or password",
    ),
    "duplicate-columns": (
        "dup.csv",
        "a,b,a\n" + "1,x,2\n" * 30,
        "b",
        "auto",
        "has duplicate column names: 'a'",
    ),
    "no-such-target": (
        "p.csv",
        penguins,
        "Species",
        "auto",
        "target 'Species' is not a column; the columns are: 'species', 'island'",
    ),
    "empty-target": (
        "p.csv",
        lambda: penguins().assign(label=None),
        "label",
        "auto",
        "target 'label' is empty in every row",
    ),
    "single-class": (
        "p.csv",
        lambda: penguins().assign(species="Adelie"),
        "species",
        "auto",
        "has a single class ('Adelie')",
    ),
    "constant-target": (
        "p.csv",
        lambda: penguins().assign(mass=1.5),
        "mass",
        "regression",
        "is constant (1.5)",
    ),
    "too-few-rows": (
        "p.csv",
        lambda: penguins().head(12),
        "species",
        "auto",
        "12 rows have a 'species'; at least 20",
    ),
    "every-feature-ignored": (
        "ids.csv",
        lambda: pd.DataFrame({"id": [f"row-{i}" for i in range(30)], "same": 1, "y": [0, 1] * 15}),
        "y",
        "auto",
        "every column besides the target is ignored ('id': an identifier",
    ),
    "regression-on-text": (
        "p.csv",
        penguins,
        "species",
        "regression",
        "task=regression needs a numeric target",
    ),
}


@pytest.mark.parametrize("case", list(BAD_TABLES))
def test_a_bad_table_stops_generation_in_one_line_and_writes_nothing(case: str, tmp_path: Path) -> None:
    name, content, target, task, words = BAD_TABLES[case]
    source = tmp_path / "source" / (name if content is not None else "none")  # None: `name` is a URL
    source.parent.mkdir()
    if isinstance(content, str):
        source.write_text(content)
    elif content is not None:
        content().to_csv(source, index=False)
    dataset = name if content is None else str(source)
    before = source.read_bytes() if source.exists() else None
    result = cookiecutter_cli(tmp_path / "out", f"dataset={dataset}", f"target={target}", f"task={task}")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR: dataset")]
    assert len(errors) == 1 and words in errors[0], result.stderr[-2000:]
    assert "Traceback" not in errors[0] and "s3cr3t" not in result.stdout + result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # no folder left
    assert before is None or source.read_bytes() == before  # the user's file untouched


def test_a_relative_path_is_taken_from_where_cookiecutter_runs(tmp_path: Path) -> None:
    shutil.copy(TEST_DATA / "titanic.csv", tmp_path / "titanic.csv")
    command = [sys.executable, "-m", "cookiecutter", "--no-input", str(Path(__file__).parents[1])]
    options = ["project_name=Relative", "dataset=titanic.csv", "target=survived"]
    result = subprocess.run(
        [*command, *options],
        cwd=tmp_path,
        env={**os.environ, "PWD": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    project = tmp_path / "relative"
    assert (project / "data" / "raw" / "titanic.csv").read_bytes() == (tmp_path / "titanic.csv").read_bytes()
    assert yaml.safe_load((project / "data" / "schema.yaml").read_text())["task"] == "classification"


def test_adopt_switches_a_project_to_another_table_as_generating_with_it_does(
    generated, tmp_path: Path
) -> None:
    """A wine project adopts penguins: the same schema as a project generated from penguins, the
    wine data leaves the workspace but stays in DVC's cache, and the pipeline registers a model of
    the new table. A bad table first changes nothing."""
    project = bake(tmp_path, project_name="Switched")
    wine_md5 = yaml.safe_load((project / "data" / "raw" / "wine.csv.dvc").read_text())["outs"][0]["md5"]
    refused = run(
        ["make", "adopt", f"DATA={TEST_DATA / 'penguins.csv'}", "TARGET=nope"], project, check=False
    )
    assert refused.returncode != 0 and "error: target 'nope' is not a column" in refused.stderr
    assert run(["git", "status", "--porcelain"], project).stdout == ""  # nothing changed
    adopted = run(["make", "adopt", f"DATA={TEST_DATA / 'penguins.csv'}", "TARGET=species"], project)
    assert "adopt: data/raw/penguins.csv (classification of 'species'" in adopted.stdout
    generated_penguins = generated(next(c for c in COMBOS if c.dataset == "penguins.csv"))
    assert (project / "data" / "schema.yaml").read_text() == (
        generated_penguins / "data" / "schema.yaml"
    ).read_text()
    assert not (project / "data" / "raw" / "wine.csv").exists()
    assert (project / ".dvc" / "cache" / "files" / "md5" / wine_md5[:2] / wine_md5[2:]).is_file()
    dvc(project, "repro")
    decision = json.loads((project / "reports" / "registration.json").read_text())
    assert decision["registered"], decision["reason"]
    run(["git", "add", "--all"], project)
    run(["git", "commit", "--quiet", "-m", "Adopt penguins"], project)
    assert "up to date" in dvc(project, "status")


@pytest.fixture
def http_tables() -> Iterator[str]:
    """tests/data served over HTTP on 127.0.0.1 (what a user's https:// URL does); the base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(TEST_DATA))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_table_from_a_url_is_imported_with_its_source(http_tables: str, tmp_path: Path) -> None:
    url = f"{http_tables}/penguins.csv"
    project = bake(tmp_path, project_name="From URL", dataset=url, target="species")
    dvc_file = yaml.safe_load((project / "data" / "raw" / "penguins.csv.dvc").read_text())
    assert dvc_file["deps"][0]["path"] == url  # `dvc update` fetches it again
    dvc(project, "repro")
    decision = json.loads((project / "reports" / "registration.json").read_text())
    from mlflow import MlflowClient

    tags = MlflowClient(f"sqlite:///{project / 'mlflow.db'}").get_run(decision["mlflow_run_id"]).data.tags
    assert tags["data_source"] == url and tags["data_source_checksum"] == str(dvc_file["deps"][0]["checksum"])
    missing = cookiecutter_cli(tmp_path / "none", f"dataset={http_tables}/absent.csv", "target=species")
    assert missing.returncode != 0 and f"{http_tables}/absent.csv not found (HTTP Error 404" in missing.stderr
    assert not (tmp_path / "none").exists() or not any((tmp_path / "none").iterdir())
    closed = f"http://127.0.0.1:{free_port()}/penguins.csv"  # nothing listens there
    unreachable = cookiecutter_cli(tmp_path / "none", f"dataset={closed}", "target=species")
    assert (
        unreachable.returncode != 0
        and f"ERROR: dataset='{closed}': {closed} is unreachable" in unreachable.stderr
    )


def test_a_table_on_s3_is_imported_through_the_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s3://bucket/key on an S3-compatible server (moto's, on 127.0.0.1): read and checked at
    generation, then imported with `dvc import-url` through `s3_endpoint_url`."""
    import boto3

    stack = TeamStack(tmp_path / "stack")
    stack.root.mkdir()
    server = stack.start_s3()
    try:
        for name, value in AWS_ENV.items():
            monkeypatch.setenv(name, value)
        s3 = boto3.client("s3", endpoint_url=stack.s3_endpoint, **aws_kwargs())
        s3.create_bucket(Bucket="tables")
        s3.upload_file(str(TEST_DATA / "titanic.csv"), "tables", "survey/titanic.csv")
        project = bake(
            tmp_path,
            project_name="From S3",
            dataset="s3://tables/survey/titanic.csv",
            target="survived",
            s3_endpoint_url=stack.s3_endpoint,
        )
        dvc_file = yaml.safe_load((project / "data" / "raw" / "titanic.csv.dvc").read_text())
        assert dvc_file["deps"][0]["path"] == "s3://tables/survey/titanic.csv"
        assert (project / "data" / "raw" / "titanic.csv").read_bytes() == (
            TEST_DATA / "titanic.csv"
        ).read_bytes()
        dvc(project, "repro")
        assert json.loads((project / "reports" / "registration.json").read_text())["registered"]
        missing = cookiecutter_cli(
            tmp_path / "none",
            "dataset=s3://tables/absent.csv",
            "target=survived",
            f"s3_endpoint_url={stack.s3_endpoint}",
        )
        assert missing.returncode != 0 and "ERROR: dataset='s3://tables/absent.csv': " in missing.stderr
        assert "not found" in missing.stderr
    finally:
        stack.stop(server)
