"""Benchmark a generated project: what the template costs on top of DVC and of the ML work itself.

    .venv/bin/python bench/run.py [--repeats 3] [--sizes 10000,100000,1000000] [--only 1,2,4,5,7,8,9,10,11,12]
                                  [--baseline <git ref>]

Measures 5, 6, 7 and 10 use a synthetic table of 20 feature columns (15 numbers, 5 text categories)
with 10% of the cells empty, brought in as a user brings a table. Each figure is the median of
--repeats runs (the sweeps: one run each); the two sides of every ratio are measured in this one
run, on this machine, and where they are repeated, in turns, so the machine's drift affects both
alike. Prints a Markdown table (paste it into docs/performance.md).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from cookiecutter.main import cookiecutter

if TYPE_CHECKING:
    import pandas as pd

TEMPLATE = Path(__file__).resolve().parents[1]
PACKAGE = "wine_quality"  # the default options' package
ENV = {
    **os.environ,
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    "DVC_NO_ANALYTICS": "1",
}
ENV.pop("MLFLOW_TRACKING_URI", None)
SYNTHETIC = "synthetic.csv"  # the scale table's name at every size, so the schema's raw path stays
CATEGORY_VALUES = (3, 5, 10, 30, 200)  # distinct values of its 5 text columns (200: beyond max_categories)

# The four stages' computations in one process, without DVC or MLflow: the floor for (3).
# BARE_METRICS stops at the metrics and the gate; BARE_ML adds what else evaluate computes, its
# pictures (saved as PNG files). Neither has what only exists for DVC and MLflow: dvclive's
# files, the MLflow run and model, the registry.
BARE_METRICS = textwrap.dedent(
    f"""
    from pathlib import Path
    import pandas as pd
    from {PACKAGE} import model_file, schema, tasks
    from {PACKAGE}.config import load_params
    from {PACKAGE}.stages.prepare import prepare
    from {PACKAGE}.gate import gate_failures
    from {PACKAGE}.stages.train import train
    table, params = schema.load(), load_params()
    task = tasks.load(table.task)
    out = Path("bench-bare")
    prepare(Path(table.raw), out, params.prepare)
    train(out / "train.parquet", out / "model.skops", params.train)
    test = pd.read_parquet(out / "test.parquet")
    model = model_file.load(out / "model.skops")
    features, target = schema.conform(test, table), test[table.target]
    predictions = task.predict(model, features, target, params.evaluate.positive_class)
    metrics = task.score(target, predictions)
    train_target = pd.read_parquet(out / "train.parquet", columns=[table.target])[table.target]
    metrics[f"baseline_{{task.RANKING[0]}}"] = task.baseline(train_target, target)
    gate_failures(metrics, params.registry, task)
    """
)
BARE_ML = BARE_METRICS + textwrap.dedent(
    f"""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from {PACKAGE}.stages.evaluate import importances, plot_importances
    importance = plot_importances(importances(model, features, target), params.evaluate.top_features)
    for name, figure in (*task.figures(target, predictions), ("feature_importances.png", importance)):
        figure.savefig(out / name)
        plt.close(figure)
    """
)
# (6): the schema inferred from the project's raw table (read untimed), median of argv[1] runs.
INFER = textwrap.dedent(
    f"""
    import statistics, sys, time
    from {PACKAGE} import inference, schema
    from {PACKAGE}.tables.table import read_table
    frame = read_table(schema.load().raw)
    taken = []
    for _ in range(int(sys.argv[1])):
        start = time.perf_counter()
        inference.infer(frame, "target")
        taken.append(time.perf_counter() - start)
    print(statistics.median(taken))
    """
)
# (10): the .csv.gz at argv[1] read by pandas' own read_csv and by the project's reader (format
# detection included), in turns for argv[2] rounds, then detection alone: the three medians.
READ = textwrap.dedent(
    f"""
    import statistics, sys, time
    import pandas as pd
    from {PACKAGE}.tables.table import detect_format, read_table
    path, rounds = sys.argv[1], int(sys.argv[2])
    actions = [
        lambda: pd.read_csv(path), lambda: read_table(path, detect_format(path)), lambda: detect_format(path)
    ]
    taken = [[] for _ in actions]
    for _ in range(rounds):
        for action, times in zip(actions, taken):
            start = time.perf_counter()
            action()
            times.append(time.perf_counter() - start)
    print(*(statistics.median(times) for times in taken))
    """
)


def commit(project: Path, message: str) -> None:
    """Commit what is staged (possibly nothing) in the project."""
    identity = ("-c", "user.name=bench", "-c", "user.email=bench@invalid")
    sh("git", *identity, "commit", "--allow-empty", "-qm", message, cwd=project)


def sh(*command: str, cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def dvc(project: Path, *args: str) -> str:
    return sh(sys.executable, "-m", "dvc", *args, cwd=project)


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def interleaved_medians(
    actions: list[Callable[[], object]], repeats: int, before_round: Callable[[], object] | None = None
) -> list[float]:
    """Median seconds of each action, run in turns (one of each per round), so that the machine's
    drift during the measurement affects them alike. `before_round` runs untimed before each round."""
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(repeats):
        if before_round is not None:
            before_round()
        for action, taken in zip(actions, times, strict=True):
            taken.append(seconds(action))
    return [statistics.median(taken) for taken in times]


def generate(folder: Path, options: dict[str, str] | None = None, template: Path = TEMPLATE) -> Path:
    """Generate a project from `template` into the empty `folder`, with `options` beyond the defaults."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return Path(
        cookiecutter(str(template), no_input=True, output_dir=str(folder), extra_context=options or {})
    )


def first_model(workdir: Path) -> Path:
    """A generated project after its first `dvc repro` (see first_model_parts)."""
    return first_model_parts(workdir)[0]


def sweep(project: Path, first: int, jobs: int) -> None:
    """`make sweep` over 8 new values of train.n_estimators (new, so DVC's run cache can't replay them)."""
    values = ",".join(str(n) for n in range(first, first + 8))
    sh(
        sys.executable,
        "-m",
        f"{PACKAGE}.experiments.sweep",
        "-S",
        f"train.n_estimators={values}",
        "--jobs",
        str(jobs),
        cwd=project,
    )


def peak_run(command: list[str], cwd: Path) -> tuple[float, float]:
    """Run `command`; return (seconds, peak resident memory in MB)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        sys.exit(f"{' '.join(command)} failed: {process.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


def synthetic_table(rows: int, seed: int = 0) -> pd.DataFrame:
    """A 3-class table of `rows` rows: 15 numbers (4 decimals), 5 text categories binned from
    informative features (so they carry signal; CATEGORY_VALUES values each, "a0", "a1", ...), 10% of
    these 20 columns' cells empty, and the target as text labels ("class_0", ...)."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    # shuffle=False: the first 10 columns are the informative ones (the first 5 become categories),
    # and the rows come sorted by class: shuffled here.
    values, labels = make_classification(
        n_samples=rows, n_features=20, n_informative=10, n_classes=3, shuffle=False, random_state=seed
    )
    rng = np.random.default_rng(seed)
    order = rng.permutation(rows)
    values, labels = values[order], labels[order]
    frame = pd.DataFrame(values[:, 5:].round(4), columns=[f"x{i}" for i in range(15)])
    for column, (letter, count) in enumerate(zip("abcde", CATEGORY_VALUES, strict=True)):
        codes = pd.qcut(values[:, column], count, labels=False)
        frame[f"cat_{letter}"] = np.char.add(letter, codes.astype(str))
    frame = frame.mask(rng.random(frame.shape) < 0.1)
    frame["target"] = np.char.add("class_", labels.astype(str))
    return frame


def write_synthetic(project: Path, rows: int) -> None:
    """Switch the project to synthetic_table(rows) as a user does, with `<package>.adopt`: the CSV
    copied into data/raw/ (as SYNTHETIC at every size) and added to DVC, data/schema.yaml inferred."""
    source = project.parent / SYNTHETIC
    synthetic_table(rows).to_csv(source, index=False)
    sh(sys.executable, "-m", f"{PACKAGE}.ops.adopt", "--data", str(source), "--target", "target", cwd=project)
    source.unlink()


def set_params(project: Path, **train: object) -> None:
    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["train"].update(train)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def first_model_parts(
    workdir: Path, options: dict[str, str] | None = None, template: Path = TEMPLATE
) -> tuple[Path, dict[str, float]]:
    """Generate a project (with `options` beyond the defaults) and run its first `dvc repro` (which
    must register a model); return the project and the seconds of each part: generation, DVC's
    start until the first stage, and each stage from the line where DVC starts it to the next one
    (so with DVC's lock and cache work after it); `total` is the whole."""
    start = time.perf_counter()
    project = generate(workdir, options, template)
    parts = {"generate": time.perf_counter() - start}
    command = [sys.executable, "-m", "dvc", "repro"]
    env = {**ENV, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as repro:
        current, since = "DVC start", time.perf_counter()
        output = []
        for line in repro.stdout:
            output.append(line)
            if line.startswith("Running stage '"):
                now = time.perf_counter()
                parts[current], current, since = now - since, line.split("'")[1], now
    parts[current] = time.perf_counter() - since
    if repro.returncode != 0:
        sys.exit(f"dvc repro failed:\n{''.join(output)}")
    assert '"registered": true' in (project / "reports" / "registration.json").read_text()
    parts["total"] = time.perf_counter() - start
    return project, parts


def first_model_rows(
    label: str, workdir: Path, repeats: int, options: dict[str, str] | None = None
) -> list[tuple[str, str, str]]:
    """Generate -> first registered model (see first_model_parts), `repeats` times: the median of the
    whole and of each part."""
    return parts_rows(label, [first_model_parts(workdir, options)[1] for _ in range(repeats)])


def parts_rows(label: str, runs: list[dict[str, float]]) -> list[tuple[str, str, str]]:
    """The rows of (1) for these runs of first_model_parts: the median of the whole and of each part."""
    median = {part: statistics.median(run[part] for run in runs) for part in runs[0]}
    parts = ", ".join(f"{part} {taken:.2f} s" for part, taken in median.items() if part != "total")
    return [
        (f"{label} generate -> first registered model", f"{median['total']:.1f} s", "<= 10 s"),
        (f"{label} its parts (medians)", parts, ""),
    ]


def measure_first_model(scratch: Path, repeats: int) -> list[tuple[str, str, str]]:
    return first_model_rows("(1)", scratch / "first", repeats)


def baseline_template(scratch: Path, ref: str) -> Path:
    """The template as it was at git `ref`, extracted into `scratch` (once)."""
    baseline = scratch / "baseline-template"
    if not baseline.is_dir():
        baseline.mkdir()
        archive = subprocess.run(
            ["git", "archive", ref], cwd=TEMPLATE, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "x"], input=archive, cwd=baseline, check=True)
    return baseline


def measure_against(scratch: Path, repeats: int, ref: str) -> list[tuple[str, str, str]]:
    """(1) for this template and for the template at git `ref`, in turns: a change's before and after."""
    baseline = baseline_template(scratch, ref)
    now, before = [], []
    for round_number in range(repeats):  # which side goes first alternates, so neither is favoured
        sides = [(now, TEMPLATE, "now"), (before, baseline, "before")][:: 1 if round_number % 2 == 0 else -1]
        for runs, template, folder in sides:
            runs.append(first_model_parts(scratch / folder, template=template)[1])
    return [*parts_rows("(1) this template:", now), *parts_rows(f"(1) the template at {ref}:", before)]


def measure_own_table(scratch: Path, repeats: int) -> list[tuple[str, str, str]]:
    """(7): (1) for a user's 1,000-row CSV (synthetic_table's mix of numbers, text and gaps)."""
    source = scratch / "own.csv"
    synthetic_table(1_000).to_csv(source, index=False)
    options = {"dataset": str(source), "target": "target", "project_name": "own"}
    return first_model_rows("(7) a user's 1,000-row CSV:", scratch / "own", repeats, options)


def measure_overhead(
    project: Path, data: str, target: str, repeats: int, digits: int
) -> list[tuple[str, str, str]]:
    """(3): `dvc repro -f` against the bare ML work, with and without the pictures, run in turns.

    register reuses the MLflow run of a rerun on the same inputs and commit, so each round starts
    on a new (empty) commit: every measured `dvc repro -f` logs a whole new run."""
    forced, bare, metrics_only = interleaved_medians(
        [
            lambda: dvc(project, "repro", "--force"),
            lambda: sh(sys.executable, "-c", BARE_ML, cwd=project),
            lambda: sh(sys.executable, "-c", BARE_METRICS, cwd=project),
        ],
        repeats,
        before_round=lambda: commit(project, "bench: a new commit, so that register logs a new run"),
    )
    return [
        (
            f"(3) `dvc repro -f` / bare ML work, {data}",
            f"{forced:.{digits}f} s / {bare:.{digits}f} s = {forced / bare:.2f}",
            target,
        ),
        (
            "(3) the same / bare ML work without the pictures",
            f"{forced:.{digits}f} s / {metrics_only:.{digits}f} s = {forced / metrics_only:.2f}",
            "(stricter)",
        ),
    ]


def measure_overhead_against(scratch: Path, repeats: int, ref: str) -> list[tuple[str, str, str]]:
    """(3) on the bundled data for a project of this template and one of the template at git
    `ref`, their `dvc repro -f` and the bare ML work in turns: a change's before and after."""
    now = first_model(scratch / "overhead-now")
    before = first_model_parts(scratch / "overhead-before", template=baseline_template(scratch, ref))[0]

    def new_commits() -> None:
        for project in (now, before):
            commit(project, "bench: a new commit, so that register logs a new run")

    forced_now, forced_before, bare = interleaved_medians(
        [
            lambda: dvc(now, "repro", "--force"),
            lambda: dvc(before, "repro", "--force"),
            lambda: sh(sys.executable, "-c", BARE_ML, cwd=now),
        ],
        repeats,
        before_round=new_commits,
    )
    return [
        (
            f"(3) `dvc repro -f` / bare ML work, bundled data: this template / the template at {ref}",
            f"{forced_now:.2f} s / {bare:.2f} s = {forced_now / bare:.2f}; "
            f"{forced_before:.2f} s / {bare:.2f} s = {forced_before / bare:.2f}",
            "<= 6",
        )
    ]


def measure_repro(scratch: Path, repeats: int) -> list[tuple[str, str, str]]:
    project = first_model(scratch / "project")
    noop, dry = interleaved_medians(
        [lambda: dvc(project, "repro"), lambda: dvc(project, "repro", "--dry")], repeats + 2
    )
    return [
        (
            "(2) no-op `dvc repro` / `dvc repro --dry`",
            f"{noop:.2f} s / {dry:.2f} s = {noop / dry:.2f}",
            "<= 1.3",
        ),
        *measure_overhead(project, "bundled data", "<= 6", repeats, digits=2),
    ]


def measure_sweep(scratch: Path) -> list[tuple[str, str, str]]:
    project = first_model(scratch / "sweep")
    sh("git", "add", "--all", cwd=project)
    commit(project, "baseline")
    parallel = seconds(lambda: sweep(project, first=11, jobs=2))
    serial = seconds(lambda: sweep(project, first=21, jobs=1))
    return [
        (
            "(4) 8 experiments via `make sweep`: 1 job / 2 jobs",
            f"{serial:.0f} s / {parallel:.0f} s = {serial / parallel:.2f}x",
            ">= 1.7x",
        )
    ]


def tune(project: Path, study: str, jobs: int) -> float:
    """`make tune` for 16 trials of a new study; return the study's own work per trial (asking,
    queueing, telling), as it prints it."""
    command = ["--trials", "16", "--jobs", str(jobs), "--study", study]
    output = sh(sys.executable, "-m", f"{PACKAGE}.experiments.tune", *command, cwd=project)
    return float(re.search(r"\(asking, queueing, telling\) ([0-9.]+) s per trial", output)[1])


def measure_tune(scratch: Path) -> list[tuple[str, str, str]]:
    project = first_model(scratch / "tune")
    sh("git", "add", "--all", cwd=project)
    commit(project, "baseline")
    own_work = []
    parallel = seconds(lambda: own_work.append(tune(project, "two-jobs", jobs=2)))
    serial = seconds(lambda: own_work.append(tune(project, "one-job", jobs=1)))
    return [
        (
            "(9) 16 trials via `make tune`: 1 job / 2 jobs",
            f"{serial:.0f} s / {parallel:.0f} s = {serial / parallel:.2f}x",
            ">= 1.7x",
        ),
        ("(9) the study's own work per trial (asking, queueing, telling), the larger of the two", f"{max(own_work):.2f} s", "<= 0.5 s"),
    ]  # fmt: skip


def measure_shared(scratch: Path) -> list[tuple[str, str, str]]:
    from shared_study import measure_shared_study

    project = first_model(scratch / "shared")
    sh("git", "add", "--all", cwd=project)
    commit(project, "baseline")
    return measure_shared_study(project, ENV, PACKAGE)


def measure_live_run(scratch: Path, repeats: int) -> list[tuple[str, str, str]]:
    """(12): `train` of XGBoost (200 iterations, its curve written as it trains) on the bundled
    data, with `train.live_run` off and on (the MLflow run opened as training starts), in turns."""
    project = first_model(scratch / "live")

    def train(live: bool) -> Callable[[], object]:
        def run() -> None:
            set_params(project, model="xgboost", n_estimators=200, live_run=live)
            dvc(project, "repro", "--force", "--single-item", "train")

        return run

    off, on = interleaved_medians([train(False), train(True)], repeats)
    return [
        (
            "(12) train, XGBoost 200 iterations: `train.live_run` true / false",
            f"{on:.2f} s / {off:.2f} s = {on / off:.2f}",
            "",
        )
    ]


def measure_scale(scratch: Path, sizes: list[int], repeats: int) -> list[tuple[str, str, str]]:
    rows = []
    scale = first_model(scratch / "scale")
    set_params(scale, n_estimators=10)
    stage = [sys.executable, "-m"]
    schema = ["--schema", "data/schema.yaml"]
    prepare = [*stage, f"{PACKAGE}.stages.prepare", *schema]
    train = [*stage, f"{PACKAGE}.stages.train", "--train", "data/prepared/train.parquet", *schema]
    for size in sizes:
        write_synthetic(scale, size)
        prep_s, prep_mb = peak_run([*prepare, "--out", "data/prepared"], scale)
        train_s, train_mb = peak_run([*train, "--model", "models/model.skops"], scale)
        rows.append(
            (
                f"(5) {size:,} rows x 20 columns: prepare, train (10 trees)",
                f"{prep_s:.1f} s {prep_mb:.0f} MB, {train_s:.1f} s {train_mb:.0f} MB",
                "linear, <= 2 GB",
            )
        )
    evaluate = [
        *stage, f"{PACKAGE}.stages.evaluate", *schema, "--train", "data/prepared/train.parquet",
        "--test", "data/prepared/test.parquet", "--model", "models/model.skops", "--live", "dvclive",
    ]  # fmt: skip
    register = [
        *stage, f"{PACKAGE}.stages.register", *schema, "--test", "data/prepared/test.parquet",
        "--unlabeled", "data/prepared/unlabeled.parquet", "--model", "models/model.skops",
        "--metrics", "dvclive/metrics.json", "--images", "dvclive/plots/images", "--out", "reports/registration.json",
    ]  # fmt: skip
    eval_s, eval_mb = peak_run(evaluate, scale)
    reg_s, reg_mb = peak_run(register, scale)
    rows.append(
        (
            f"(5) {sizes[-1]:,} rows x 20 columns: evaluate, register",
            f"{eval_s:.1f} s {eval_mb:.0f} MB, {reg_s:.1f} s {reg_mb:.0f} MB",
            "<= 2 GB",
        )
    )
    infer = float(sh(sys.executable, "-c", INFER, str(repeats), cwd=scale))
    rows.append((f"(6) infer the schema of {sizes[-1]:,} rows", f"{infer:.2f} s", "<= 3 s"))
    rows += measure_overhead(scale, f"{sizes[-1]:,} rows", "<= 1.3", repeats, digits=1)
    return rows


def measure_read(scratch: Path, repeats: int) -> list[tuple[str, str, str]]:
    """(10): a user's 1 M-row .csv.gz (synthetic_table's) read by the project's reader, its format
    detected first (delimiter, decimal mark, encoding), side by side with pandas' own read_csv."""
    project = generate(scratch / "read")
    source = scratch / "synthetic.csv.gz"
    synthetic_table(1_000_000).to_csv(source, index=False)
    output = sh(sys.executable, "-c", READ, str(source), str(repeats), cwd=project)
    pandas_s, ours, detection = (float(value) for value in output.split())
    return [
        (
            "(10) read a 1,000,000-row .csv.gz: `read_table(path, detect_format(path))` / pandas' `read_csv`",
            f"{ours:.2f} s / {pandas_s:.2f} s = {ours / pandas_s:.2f}",
            "<= 1.2",
        ),
        ("(10) its format detection alone", f"{detection * 1000:.0f} ms", ""),
    ]


def system_env(**extra: str) -> dict[str, str]:
    """The environment of a machine with Python, git and make only: no .venv (and so no uv) on PATH;
    PYTHONDONTWRITEBYTECODE only when `extra` sets it."""
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if ".venv" not in p)
    env = {key: value for key, value in ENV.items() if key not in ("VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")}
    return {**env, "PATH": path, **extra}


def timed_make(folder: Path, target: str, env: dict[str, str]) -> float:
    """Seconds `make target` takes in `folder`."""

    def make() -> None:
        result = subprocess.run(["make", target], cwd=folder, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"make {target} in {folder} failed:\n{result.stdout}\n{result.stderr}")

    return seconds(make)


# Where Python may not cache compiled modules, and where it may: set-up is measured both ways.
BYTECODE_VARIANTS = {"PYTHONDONTWRITEBYTECODE=1": {"PYTHONDONTWRITEBYTECODE": "1"}, "unset": {}}


def measure_setup(scratch: Path, repeats: int) -> list[tuple[str, str, str]]:
    """(8): the template's `make demo` from a fresh clone, and a generated project's `make setup`,
    with uv's caches warm and empty (a new UV_CACHE_DIR, and a new user cache for the uv that pip
    bootstraps), on a PATH without uv, with PYTHONDONTWRITEBYTECODE set and unset (run in turns);
    side by side with pip installing the project into a new venv (its cache warm)."""
    warm = scratch / "uv-cache"
    bootstrap = scratch / "user-cache"  # where `make venv` and `make setup` keep the uv that pip installs

    def demo(cache: Path, user_cache: Path, bytecode: dict[str, str]) -> float:
        clone = scratch / "clone"
        shutil.rmtree(clone, ignore_errors=True)
        sh("git", "clone", "--quiet", str(TEMPLATE), str(clone), cwd=scratch)
        env = system_env(UV_CACHE_DIR=str(cache), XDG_CACHE_HOME=str(user_cache), **bytecode)
        return timed_make(clone, "demo", env)

    set_var = BYTECODE_VARIANTS["PYTHONDONTWRITEBYTECODE=1"]
    demo_cold = statistics.median(
        demo(scratch / f"uv-cache-empty-{n}", scratch / f"user-cache-empty-{n}", set_var)
        for n in range(repeats)
    )
    demo(warm, bootstrap, set_var)  # fills the warm caches
    demo_warm = dict(
        zip(
            BYTECODE_VARIANTS,
            interleaved_medians(
                [lambda b=b: demo(warm, bootstrap, b) for b in BYTECODE_VARIANTS.values()], repeats
            ),
            strict=True,
        )
    )

    project = generate(scratch / "setup")
    venv = project / ".venv"

    def setup(cache: Path, bytecode: dict[str, str]) -> float:
        shutil.rmtree(venv, ignore_errors=True)
        env = system_env(UV_CACHE_DIR=str(cache), XDG_CACHE_HOME=str(bootstrap), **bytecode)
        return timed_make(project, "setup", env)

    def pip_setup() -> None:
        shutil.rmtree(venv, ignore_errors=True)
        python = str(venv / "bin" / "python")
        env = system_env()
        for command in (
            ["python3", "-m", "venv", str(venv)],
            [python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
            [python, "-m", "pip", "install", "--quiet", "-e", ".", "--group", "dev"],
        ):
            subprocess.run(command, cwd=project, env=env, check=True, capture_output=True)

    setup_cold = statistics.median(setup(scratch / f"uv-cache-setup-{n}", set_var) for n in range(repeats))
    pip_setup()  # fills pip's cache
    actions = [lambda b=b: setup(warm, b) for b in BYTECODE_VARIANTS.values()]
    *setups, pip_warm = interleaved_medians([*actions, pip_setup], repeats)
    setup_warm = dict(zip(BYTECODE_VARIANTS, setups, strict=True))
    setup(warm, set_var)
    size = sh("du", "-sm", str(venv), cwd=project).split()[0]
    both = " / ".join(BYTECODE_VARIANTS)
    return [
        (f"(8) `make demo` from a fresh clone, no uv on PATH, warm uv cache: {both}", " / ".join(f"{v:.1f} s" for v in demo_warm.values()), "<= 30 s"),
        ("(8) `make demo` from a fresh clone, empty uv cache, PYTHONDONTWRITEBYTECODE=1", f"{demo_cold:.1f} s", "<= 60 s"),
        (f"(8) a project's `make setup`, warm uv cache: {both}", " / ".join(f"{v:.1f} s" for v in setup_warm.values()), "<= 15 s"),
        ("(8) a project's `make setup`, empty uv cache, PYTHONDONTWRITEBYTECODE=1", f"{setup_cold:.1f} s", ""),
        ("(8) pip instead (new venv, pip install -e . --group dev), warm cache", f"{pip_warm:.1f} s: {pip_warm / setup_warm['unset']:.1f}x make setup", ""),
        ("(8) the project's .venv", f"{size} MB", ""),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument(
        "--only",
        default="1,2,4,5,7,8,10",
        help="which measures: 1, 2 (measures 2 and 3), 4, 5 (the scale check, and 6 and 3 at its "
        "largest size), 7, 8 (set-up: make demo from a clone, make setup), 9 (make tune), "
        "10 (reading a 1 M-row .csv.gz), 11 (one study on PostgreSQL, 1 clone against 2), "
        "12 (train with its live MLflow run)",
    )
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="measure (1), and (3) instead of (2), also for the template at this git ref, in turns",
    )
    args = parser.parse_args()
    chosen = set(args.only.split(","))
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        scratch = Path(scratch)
        if "1" in chosen and args.baseline:
            rows += measure_against(scratch, args.repeats, args.baseline)
        elif "1" in chosen:
            rows += measure_first_model(scratch, args.repeats)
        if "2" in chosen and args.baseline:
            rows += measure_overhead_against(scratch, args.repeats, args.baseline)
        elif "2" in chosen:
            rows += measure_repro(scratch, args.repeats)
        if "4" in chosen:
            rows += measure_sweep(scratch)
        if "5" in chosen:
            rows += measure_scale(scratch, [int(size) for size in args.sizes.split(",")], args.repeats)
        if "7" in chosen:
            rows += measure_own_table(scratch, args.repeats)
        if "8" in chosen:
            rows += measure_setup(scratch, args.repeats)
        if "9" in chosen:
            rows += measure_tune(scratch)
        if "10" in chosen:
            rows += measure_read(scratch, args.repeats)
        if "11" in chosen:
            rows += measure_shared(scratch)
        if "12" in chosen:
            rows += measure_live_run(scratch, args.repeats)

    print(
        f"\nMachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; medians of {args.repeats} runs\n"
    )
    print("| measure | result | target |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
