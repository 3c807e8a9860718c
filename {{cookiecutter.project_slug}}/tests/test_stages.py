"""Each stage on tiny data, in a temporary folder, with an MLflow store of its own."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import joblib
import pandas as pd
import pytest
from conftest import TABLE, TARGET

from {{ cookiecutter.package_name }} import schema, tracking
from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.errors import PipelineError, run_main
from {{ cookiecutter.package_name }}.files import write_atomic, write_json
from {{ cookiecutter.package_name }}.promote import beats, promote
from {{ cookiecutter.package_name }}.stages.evaluate import evaluate
from {{ cookiecutter.package_name }}.stages.prepare import prepare
from {{ cookiecutter.package_name }}.stages.register import CANDIDATE_ALIAS, record, register
from {{ cookiecutter.package_name }}.stages.train import train
from {{ cookiecutter.package_name }}.tasks import current

TASK = current()
METRICS, RANKING = TASK.METRICS, TASK.RANKING


def run_pipeline(raw: Path, out: Path, params: Params) -> tuple[dict, dict]:
    """prepare -> train -> evaluate -> the MLflow run of `register` on `raw`; return (run ids, metrics)."""
    prepare(raw, out / "prepared", params.prepare)
    train(out / "prepared" / "train.parquet", out / "model.joblib", params.train)
    paths = {"train": out / "prepared" / "train.parquet", "test": out / "prepared" / "test.parquet"}
    metrics = evaluate(paths | {"model": out / "model.joblib"}, out / "live", params.evaluate)
    return record_run(raw, out, params, metrics), metrics


def record_run(raw: Path, out: Path, params: Params, metrics: dict) -> dict:
    """`register`'s MLflow run for what run_pipeline wrote to `out`."""
    paths = {
        "raw": raw,
        "schema": schema.SCHEMA_FILE,
        "test": out / "prepared" / "test.parquet",
        "unlabeled": out / "prepared" / "unlabeled.parquet",
        "model": out / "model.joblib",
        "images": out / "live" / "plots" / "images",
    }
    return record(tracking.connect(), params, paths, tracking.file_md5(raw), metrics, TASK)


def test_prepare_splits_all_rows_reproducibly(tiny_raw: Path, tmp_path: Path, params: Params) -> None:
    n_train, n_test, _ = prepare(tiny_raw, tmp_path / "a", params.prepare)
    prepare(tiny_raw, tmp_path / "b", params.prepare)
    assert n_train + n_test == len(pd.read_csv(tiny_raw))
    for name in ("train.parquet", "test.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_prepare_holds_out_test_size_of_each_class(tiny_raw: Path, tmp_path: Path, params: Params) -> None:
    """For classification, `test_size` of every class's rows (a stratified split); for regression,
    of all rows."""
    frame = pd.read_csv(tiny_raw)
    group = (lambda rows: rows[TARGET]) if TASK.STRATIFIED else (lambda rows: pd.Series(0, index=rows.index))
    expected = frame.groupby(group(frame)).size().mul(params.prepare.test_size).round().astype(int)
    for seed in range(5):  # a split at random matches the shares for some seeds, not for all
        prepare(tiny_raw, tmp_path, params.prepare.model_copy(update={"seed": seed}))
        test = pd.read_parquet(tmp_path / "test.parquet")
        assert test.groupby(group(test)).size().to_dict() == expected.to_dict(), f"seed {seed}"


def test_prepare_refuses_a_test_size_that_leaves_a_split_empty(
    tiny_raw: Path, tmp_path: Path, params: Params
) -> None:
    too_small = params.prepare.model_copy(update={"test_size": 0.001})
    with pytest.raises(PipelineError, match=r"prepare.test_size=0.001 leaves the test split with no rows"):
        prepare(tiny_raw, tmp_path / "out", too_small)
    assert not (tmp_path / "out").exists()


def test_prepare_rejects_a_missing_file_with_the_fix(tmp_path: Path, params: Params) -> None:
    with pytest.raises(PipelineError, match="dvc pull"):
        prepare(tmp_path / "absent.csv", tmp_path / "out", params.prepare)


def test_prepare_rejects_data_without_the_target(tiny_raw: Path, tmp_path: Path, params: Params) -> None:
    pd.read_csv(tiny_raw).drop(columns=TARGET).to_csv(tiny_raw, index=False)
    with pytest.raises(PipelineError, match=f"columns missing: '{TARGET}'"):
        prepare(tiny_raw, tmp_path / "out", params.prepare)
    assert not (tmp_path / "out" / "train.parquet").exists()


def test_prepare_leaves_rows_without_a_target_out_and_keeps_them_to_score(
    tiny_raw: Path, tmp_path: Path, params: Params
) -> None:
    frame = pd.read_csv(tiny_raw)
    unlabeled = frame.index % 7 == 3
    frame.assign(**{TARGET: frame[TARGET].where(~unlabeled)}).to_csv(tiny_raw, index=False)
    n_train, n_test, n_unlabeled = prepare(tiny_raw, tmp_path, params.prepare)
    assert (n_train + n_test, n_unlabeled) == ((~unlabeled).sum(), unlabeled.sum())
    for split in ("train", "test"):
        assert pd.read_parquet(tmp_path / f"{split}.parquet")[TARGET].notna().all()
    kept = pd.read_parquet(tmp_path / "unlabeled.parquet")
    assert TARGET not in kept.columns
    pd.testing.assert_frame_equal(kept, frame.loc[unlabeled].drop(columns=TARGET).reset_index(drop=True))


def test_train_writes_a_model_that_predicts(tiny_raw: Path, tmp_path: Path, params: Params) -> None:
    prepare(tiny_raw, tmp_path, params.prepare)
    train(tmp_path / "train.parquet", tmp_path / "model.joblib", params.train)
    test = pd.read_parquet(tmp_path / "test.parquet")
    predictions = joblib.load(tmp_path / "model.joblib").predict(schema.conform(test, TABLE))
    assert len(predictions) == len(test)
    if TABLE.task == "classification":  # the data's own labels
        assert set(predictions) <= set(pd.read_parquet(tmp_path / "train.parquet")[TARGET])


def test_evaluate_and_register_log_one_run_with_lineage(
    tiny_raw: Path, tmp_path: Path, params: Params, mlflow_store: str
) -> None:
    run, metrics = run_pipeline(tiny_raw, tmp_path, params)
    assert set(metrics) == {*METRICS, f"baseline_{RANKING[0]}"}
    assert json.loads((tmp_path / "live" / "metrics.json").read_text()) == pytest.approx(metrics)
    logged = tracking.client().get_run(run["mlflow_run_id"])
    assert logged.data.metrics == pytest.approx(metrics)
    assert logged.data.params["train.n_estimators"] == str(params.train.n_estimators)
    assert logged.data.tags["dvc_data_md5"] == tracking.file_md5(tiny_raw)
    assert logged.inputs.dataset_inputs[0].dataset.digest == tracking.file_md5(tiny_raw)
    artifacts = {item.path for item in tracking.client().list_artifacts(run["mlflow_run_id"], "plots")}
    assert "plots/feature_importances.png" in artifacts
    assert logged.data.tags["data_schema_md5"] == tracking.file_md5(schema.SCHEMA_FILE)
    assert logged.data.tags["data_source"] == tiny_raw.as_posix()
    # In the MLflow UI: named after where it ran, described in one line
    commit = logged.data.tags.get("git_commit", "")
    assert logged.info.run_name == logged.data.tags.get("dvc_exp_name", f"workspace@{commit[:7]}")
    main = RANKING[0]
    described = f"{params.train.model} on {tiny_raw.name} (data {tracking.file_md5(tiny_raw)[:8]}): "
    assert logged.data.tags["mlflow.note.content"].startswith(f"{described}{main}={metrics[main]:.4f}; ")
    from mlflow.models import get_model_info

    inputs = {spec.name: spec for spec in get_model_info(run["model_uri"]).signature.inputs.inputs}
    assert list(inputs) == TABLE.features()  # the table's feature columns, as the schema types them
    for name, spec in inputs.items():
        column = TABLE.columns[name]
        assert spec.type.name == ("double" if column.kind == "number" else "string")
        assert spec.required == (not column.nullable)


def test_register_passes_the_gate_once_per_run(
    tiny_raw: Path, tmp_path: Path, params: Params, mlflow_store: str
) -> None:
    run, metrics = run_pipeline(tiny_raw, tmp_path, params)
    lenient = params.registry.model_copy(update={"gate": {}, "beat_baseline": False})
    first = register(run, metrics, lenient, TASK)
    again = register(run, metrics, lenient, TASK)  # DVC's run cache can replay the stage
    assert first["registered"] and first["model_version"] == again["model_version"] == 1
    version = tracking.version_by_alias(lenient.model_name, CANDIDATE_ALIAS)
    assert version.run_id == run["mlflow_run_id"]
    # The registry says where the version came from without opening the run.
    logged = tracking.client().get_run(run["mlflow_run_id"])
    assert version.description == logged.data.tags["mlflow.note.content"]
    assert version.tags["dvc_data_md5"] == tracking.file_md5(tiny_raw)
    assert version.tags["model"] == params.train.model
    assert {name: float(version.tags[name]) for name in RANKING} == pytest.approx(
        {name: metrics[name] for name in RANKING}, abs=1e-4
    )
    registered = tracking.client().get_registered_model(lenient.model_name)
    assert registered.description == tracking.pyproject()["project"]["description"]


def test_a_rerun_on_the_same_inputs_reuses_the_run_and_its_version(
    tiny_raw: Path, tmp_path: Path, params: Params, mlflow_store: str
) -> None:
    run, metrics = run_pipeline(tiny_raw, tmp_path, params)
    lenient = params.registry.model_copy(update={"gate": {}, "beat_baseline": False})
    first = register(run, metrics, lenient, TASK)
    # register rerun after it registered but died before writing its decision (or `dvc repro -f`)
    again = register(record_run(tiny_raw, tmp_path, params, metrics), metrics, lenient, TASK)
    assert again == first
    experiment = tracking.connect()
    assert len(tracking.client().search_runs([experiment])) == 1
    other = params.model_copy(update={"evaluate": params.evaluate.model_copy(update={"top_features": 2})})
    assert record_run(tiny_raw, tmp_path, other, metrics)["mlflow_run_id"] != run["mlflow_run_id"]


def test_register_refuses_a_model_below_the_gate(
    tiny_raw: Path, tmp_path: Path, params: Params, mlflow_store: str
) -> None:
    run, metrics = run_pipeline(tiny_raw, tmp_path, params)
    name = next(n for n, m in METRICS.items() if m.higher_is_better)
    strict = params.registry.model_copy(update={"gate": {name: METRICS[name].high}})
    metrics[name] = min(metrics[name], METRICS[name].high - 0.01)
    decision = register(run, metrics, strict, TASK)
    assert not decision["registered"] and name in decision["reason"]
    main = RANKING[0]
    no_better = metrics | {main: metrics[f"baseline_{main}"]}  # no better than the trivial baseline
    decision = register(run, no_better, params.registry.model_copy(update={"gate": {}}), TASK)
    assert not decision["registered"] and "does not beat the baseline's" in decision["reason"]
    assert tracking.client().search_model_versions(f"name = '{strict.model_name}'") == []


def test_promote_takes_the_workspace_model_not_the_last_registered(
    tiny_raw: Path, tmp_path: Path, params: Params, mlflow_store: str
) -> None:
    """Two experiments register versions 1 and 2 (2 holds `staging`); the workspace holds 1's
    decision (`dvc exp apply`): promote moves `production` to 1, and re-checks gate and production."""
    lenient = params.model_copy(
        update={"registry": params.registry.model_copy(update={"gate": {}, "beat_baseline": False})}
    )
    decision_file = tmp_path / "registration.json"
    with pytest.raises(PipelineError, match="registration.json not found"):
        promote(lenient, decision_file=decision_file)
    decisions = []
    for top_features in (3, 4):  # two runs of the same model: equal metrics
        changed = lenient.evaluate.model_copy(update={"top_features": top_features})
        variant = lenient.model_copy(update={"evaluate": changed})
        run, metrics = run_pipeline(tiny_raw, tmp_path / str(top_features), variant)
        decisions.append(register(run, metrics, lenient.registry, TASK))
    name = lenient.registry.model_name
    assert int(tracking.version_by_alias(name, CANDIDATE_ALIAS).version) == 2
    write_json(decision_file, decisions[0])

    assert promote(lenient, decision_file=decision_file) == f"models:/{name}@production -> version 1"
    assert int(tracking.version_by_alias(name, "production").version) == 1
    assert "already" in promote(lenient, decision_file=decision_file)
    with pytest.raises(PipelineError, match=r"version 2 \(.*\) does not beat production version 1"):
        promote(lenient, version=2)
    metric, rule = next(iter(METRICS.items()))
    value = tracking.run_metrics(decisions[1]["mlflow_run_id"])[metric]
    unreachable = {metric: value + 0.5 if rule.higher_is_better else value - 0.5}
    strict_gate = lenient.registry.model_copy(update={"gate": unreachable})
    strict = lenient.model_copy(update={"registry": strict_gate})
    with pytest.raises(PipelineError, match=f"version 2 fails the gate: {metric}="):
        promote(strict, version=2)
    no_contest = lenient.promote.model_copy(update={"must_beat_production": False})
    anyway = lenient.model_copy(update={"promote": no_contest})
    assert promote(anyway, version=2).endswith("-> version 2")
    with pytest.raises(PipelineError, match="has no version 3"):
        promote(lenient, version=3)
    write_json(decision_file, decisions[0] | {"mlflow_run_id": "0" * 32})  # a decision of another store
    with pytest.raises(PipelineError, match="is not the model of MLflow run 0+ that"):
        promote(anyway, decision_file=decision_file)


def test_a_model_beats_another_by_the_first_ranking_metric_then_the_next() -> None:
    first, second = RANKING
    base = {first: 0.5, second: 0.5}

    def changed(name: str, step: float) -> dict[str, float]:
        """`base` with metric `name` better by `step` (worse if negative)."""
        return base | {name: base[name] + (step if METRICS[name].higher_is_better else -step)}

    assert beats(changed(first, 0.1), base, TASK) and not beats(base, changed(first, 0.1), TASK)
    assert beats(changed(second, 0.1), base, TASK) and not beats(
        base, changed(second, 0.1), TASK
    )  # a tie broken
    assert beats(
        changed(first, 0.1) | {second: changed(second, -0.3)[second]}, base, TASK
    )  # the first decides
    assert not beats(base, base, TASK)  # a full tie does not beat
    assert not beats({first: base[first]}, changed(second, -0.1), TASK)  # a metric one run lacks is skipped


def unusable_data_cases() -> list:
    """Ways to spoil the raw data, each with the message prepare must give; only those this table
    allows (a table of text alone has no number column to put text or infinity in)."""
    number = next(iter(TABLE.features("number")), None)
    required = next((name for name in TABLE.features() if not TABLE.columns[name].nullable), None)
    cases = [
        pytest.param(lambda frame: frame.iloc[:0], "has a header but no rows", id="no-rows"),
        pytest.param(
            lambda frame: frame.assign(**{TARGET: frame[TARGET].iloc[0]}),
            "single class|is constant",
            id="one-target-value",
        ),
        pytest.param(
            lambda frame: frame.assign(**{TARGET: frame[TARGET].where(frame.index < 12)}),
            f"12 rows have a '{TARGET}' \\([0-9]+ have none\\); at least 20 are needed",
            id="too-few-labeled-rows",
        ),
    ]
    if number:
        cases += [
            pytest.param(
                lambda frame: frame.astype({number: object}).assign(**{number: "abc"}),
                f"column '{number}' should hold numbers, but [0-9]+ rows hold text: 'abc' \\(row 1\\)",
                id="text-in-a-number-column",
            ),
            pytest.param(
                lambda frame: frame.assign(**{number: float("-inf")}),
                f"column '{number}' has [0-9]+ infinite values",
                id="infinite-number",
            ),
        ]
    if required:
        cases.append(
            pytest.param(
                lambda frame: frame.assign(**{required: None}),
                f"column '{required}' has [0-9]+ empty cells \\(rows 1, 2, 3 and [0-9]+ more\\)",
                id="gaps-where-the-schema-allows-none",
            )
        )
    return cases


@pytest.mark.parametrize(("corrupt", "expected"), unusable_data_cases())
def test_prepare_rejects_unusable_data(
    tiny_raw: Path, tmp_path: Path, params: Params, corrupt, expected: str
) -> None:
    corrupt(pd.read_csv(tiny_raw)).to_csv(tiny_raw, index=False)
    with pytest.raises(PipelineError, match=expected):
        prepare(tiny_raw, tmp_path / "out", params.prepare)
    assert not (tmp_path / "out").exists()


def test_prepare_lists_every_problem_at_once(tiny_raw: Path, tmp_path: Path, params: Params) -> None:
    frame = pd.read_csv(tiny_raw)
    first_feature = TABLE.features()[0]
    frame.drop(columns=first_feature).assign(surprise=1.0).to_csv(tiny_raw, index=False)
    with pytest.raises(PipelineError) as raised:
        prepare(tiny_raw, tmp_path / "out", params.prepare)
    lines = str(raised.value).splitlines()
    assert lines[0] == f"{tiny_raw} does not match data/schema.yaml:"
    assert f"  - columns missing: '{first_feature}'" in lines
    assert any(line.startswith("  - columns not in the schema: 'surprise'") for line in lines)


def test_prepare_rejects_an_empty_file(tmp_path: Path, params: Params) -> None:
    (tmp_path / "raw.csv").write_text("")
    with pytest.raises(PipelineError, match="is empty"):
        prepare(tmp_path / "raw.csv", tmp_path / "out", params.prepare)


def test_prepare_rejects_a_malformed_csv(tiny_raw: Path, tmp_path: Path, params: Params) -> None:
    """(A file in another encoding is read as detected: see test_table.py.)"""
    lines = tiny_raw.read_text().splitlines()
    lines[3] += ",1,2"  # a row with more fields than the header
    tiny_raw.write_text("\n".join(lines) + "\n")
    malformed = "is not well-formed text with .,. between fields: .*Expected .* fields in line 4"
    with pytest.raises(PipelineError, match=malformed):
        prepare(tiny_raw, tmp_path / "out", params.prepare)
    assert not (tmp_path / "out").exists()


def test_runs_of_killed_processes_are_ended_before_a_new_run(mlflow_store: str) -> None:
    experiment_id = tracking.connect()
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid now belongs to no process, as after a kill -9
    host = socket.gethostname()
    abandoned = tracking.client().create_run(experiment_id, tags={"host": host, "pid": str(gone.pid)})
    alive = tracking.client().create_run(experiment_id, tags={"host": host, "pid": str(os.getpid())})
    tracking.end_abandoned_runs(experiment_id)
    assert tracking.client().get_run(abandoned.info.run_id).info.status == "KILLED"
    assert tracking.client().get_run(alive.info.run_id).info.status == "RUNNING"


@contextmanager
def another_run_inserts_first(database: str, table: str, row: dict) -> Iterator[list[str]]:
    """Stage a race between parallel runs: just before MLflow's first insert into `table`, another
    connection inserts `row` there, as the run that wins would. Yields the statements raced."""
    import sqlite3

    from sqlalchemy import Engine, event

    raced: list[str] = []

    def insert_first(connection, cursor, statement, parameters, context, executemany) -> None:
        if statement.startswith(f"INSERT INTO {table} ") and not raced:
            raced.append(statement)
            with closing(sqlite3.connect(database)) as other, other:
                columns = ", ".join(row)
                other.execute(
                    f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(row))})",
                    list(row.values()),
                )

    event.listen(Engine, "before_cursor_execute", insert_first)
    try:
        yield raced
    finally:
        event.remove(Engine, "before_cursor_execute", insert_first)
    assert raced, f"MLflow never inserted into {table}: the race was not staged"


def test_data_another_run_just_added_to_the_store_is_linked_not_an_error(
    tiny_raw: Path, mlflow_store: str
) -> None:
    """Parallel experiments on data new to the store race to add its dataset row."""
    import sqlite3

    import mlflow

    experiment_id = tracking.connect()
    md5 = tracking.file_md5(tiny_raw)
    database = mlflow_store.removeprefix("sqlite:///")
    winner = {
        "dataset_uuid": "winner",
        "experiment_id": int(experiment_id),
        "name": tiny_raw.name,
        "digest": md5,
        "dataset_source_type": "local",
        "dataset_source": "{}",
    }
    with (
        another_run_inserts_first(database, "datasets", winner),
        mlflow.start_run(experiment_id=experiment_id) as run,
    ):
        tracking.log_data_source(tiny_raw, md5)
    logged = tracking.client().get_run(run.info.run_id)
    assert logged.info.status == "FINISHED"
    assert [item.dataset.digest for item in logged.inputs.dataset_inputs] == [md5]
    with closing(sqlite3.connect(database)) as store:
        assert store.execute("SELECT dataset_uuid FROM datasets").fetchall() == [("winner",)]


def test_an_alias_another_run_just_set_is_moved_not_an_error(tmp_path: Path, mlflow_store: str) -> None:
    """Parallel experiments that pass the gate on a new registry race to set `staging` first."""
    tracking.connect()
    name = "raced-model"
    tracking.client().create_registered_model(name)
    first, second = (
        tracking.client().create_model_version(name, source=(tmp_path / folder).as_uri())
        for folder in ("first", "second")
    )
    winner = {"workspace": "default", "name": name, "alias": CANDIDATE_ALIAS, "version": int(first.version)}
    with another_run_inserts_first(
        mlflow_store.removeprefix("sqlite:///"), "registered_model_aliases", winner
    ):
        tracking.set_alias(name, CANDIDATE_ALIAS, second.version)
    assert tracking.version_by_alias(name, CANDIDATE_ALIAS).version == second.version


def test_a_failed_write_leaves_the_previous_output_intact(tmp_path: Path) -> None:
    output = tmp_path / "model.joblib"
    output.write_text("previous model")

    def crash(path: Path) -> None:
        path.write_text("half a mod")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomic(output, crash)
    assert output.read_text() == "previous model"
    assert list(tmp_path.iterdir()) == [output]  # no temporary file left behind


def test_a_system_error_is_reported_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    def disk_full() -> None:
        raise OSError(28, "No space left on device", "models/model.joblib")

    with pytest.raises(SystemExit) as exit_info:
        run_main(disk_full)
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == "error: [Errno 28] No space left on device: 'models/model.joblib'\n"


def test_the_positive_class_is_a_param_and_must_be_a_class(
    tiny_raw: Path, tmp_path: Path, params: Params
) -> None:
    """With two classes, roc_auc and the curves score `evaluate.positive_class` (default: the rarer
    class), which must be one of the classes; with more classes, or for regression, it is unused."""
    prepare(tiny_raw, tmp_path, params.prepare)
    train(tmp_path / "train.parquet", tmp_path / "model.joblib", params.train)
    paths = {
        "train": tmp_path / "train.parquet",
        "test": tmp_path / "test.parquet",
        "model": tmp_path / "model.joblib",
    }
    wrong = params.evaluate.model_copy(update={"positive_class": "no such class"})
    classes = (
        sorted(pd.read_parquet(paths["train"])[TARGET].unique()) if TABLE.task == "classification" else []
    )
    if len(classes) == 2:
        with pytest.raises(PipelineError, match="evaluate.positive_class 'no such class' is not a class"):
            evaluate(paths, tmp_path / "live", wrong)
        scores = [
            evaluate(
                paths, tmp_path / str(label), params.evaluate.model_copy(update={"positive_class": label})
            )
            for label in classes
        ]
        assert scores[0]["roc_auc"] == pytest.approx(scores[1]["roc_auc"])  # either side of one ranking
    else:
        assert set(evaluate(paths, tmp_path / "live", wrong)) == {*METRICS, f"baseline_{RANKING[0]}"}
