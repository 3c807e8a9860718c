"""The pictures: every plot evaluate makes is in DVC's plots page, which renders in a real browser,
and in the MLflow run."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import DVC, TEMPLATE, Combo, bake, dvc, dvc_lock_hashes, run
from dvc_render.vega_templates import ConfusionTemplate, ScatterTemplate

IMAGES = {
    "classification": {"confusion_matrix", "roc_curve", "precision_recall", "feature_importances"},
    "regression": {"predicted_vs_actual", "residuals", "feature_importances"},
}
CDN_SCRIPT = re.compile(r'<script src="https://cdn\.jsdelivr\.net/npm/(vega[a-z-]*)@([0-9.]+)"></script>')
# Written first into the page copy under test: collect errors (scripts, failed loads), and after
# loading put what rendered into the title.
PROBE = """<script>
window.__errors = [];
window.addEventListener("error", (event) => window.__errors.push(String(event.message || event.target.src)), true);
window.addEventListener("unhandledrejection", (event) => window.__errors.push(String(event.reason)));
window.addEventListener("load", () => setTimeout(() => {
  document.title = JSON.stringify({
    images: [...document.images].map((image) => image.naturalWidth),
    vega: document.querySelectorAll(".vega-embed canvas, .vega-embed svg").length,
    errors: window.__errors,
  });
}, 3000));
</script>"""

COMBOS = [Combo("breast_cancer", "random_forest", False), Combo("diabetes", "random_forest", False)]
pytestmark = pytest.mark.xdist_group("plots")


@pytest.mark.parametrize("combo", COMBOS, ids=[c.task for c in COMBOS])
def test_each_plot_goes_to_dvc_and_to_the_mlflow_run(reproduced, combo: Combo) -> None:
    project = reproduced(combo)
    images = {path.stem for path in (project / "dvclive" / "plots" / "images").glob("*.png")}
    assert images == IMAGES[combo.task]
    run_id = json.loads((project / "reports" / "registration.json").read_text())["mlflow_run_id"]
    with sqlite3.connect(project / "mlflow.db") as store:
        (artifact_uri,) = store.execute(
            "select artifact_uri from runs where run_uuid = ?", (run_id,)
        ).fetchone()
    logged = Path(artifact_uri.removeprefix("file://")) / "plots"
    assert {path.stem for path in logged.glob("*.png")} == IMAGES[combo.task]
    dvc(project, "plots", "show")  # its page, in dvc_plots/, is not for git
    assert (project / "dvc_plots" / "index.html").exists()
    assert "dvc_plots" not in run(["git", "status", "--porcelain", "--untracked-files=all"], project).stdout


def test_confusion_matrix_data_counts_the_test_split(reproduced) -> None:
    """The confusion matrix DVC draws is data of counts: one cell per pair of labels, adding up
    to the test split, with the accuracy evaluate reported on its diagonal; `dvc plots` draws it
    with the project's template, which sums the counts."""
    project = reproduced(COMBOS[0])
    cells = json.loads((project / "dvclive" / "plots" / "custom" / "test_predictions.json").read_text())
    labels = sorted({cell["actual"] for cell in cells})
    assert sorted((cell["actual"], cell["predicted"]) for cell in cells) == [
        (a, p) for a in labels for p in labels
    ]
    test_rows = pq.ParquetFile(project / "data" / "prepared" / "test.parquet").metadata.num_rows
    assert sum(cell["count"] for cell in cells) == test_rows
    correct = sum(cell["count"] for cell in cells if cell["actual"] == cell["predicted"])
    accuracy = json.loads((project / "dvclive" / "metrics.json").read_text())["accuracy"]
    assert correct / test_rows == pytest.approx(accuracy) and accuracy < 1  # the test sees some errors
    vega = json.loads(
        run(
            [
                sys.executable,
                "-m",
                "dvc",
                "plots",
                "show",
                "--show-vega",
                "dvclive/plots/custom/test_predictions.json",
            ],
            project,
        ).stdout
    )
    assert [{key: row[key] for key in cells[0]} for row in vega["data"]["values"]] == cells
    assert vega["spec"]["transform"][0]["aggregate"] == [{"op": "sum", "field": "count", "as": "xy_count"}]


def test_a_large_regression_test_split_plots_the_same_sample_of_it(tmp_path: Path) -> None:
    """Predicted against actual for `dvc plots` stays at 1,000 points however large the test split:
    real (actual, predicted) pairs of the split, the same ones when evaluate runs again."""
    import numpy as np
    import pandas as pd

    project = bake(tmp_path, dataset="diabetes")
    raw = project / "data" / "raw" / "diabetes.csv"
    rows = pd.read_csv(raw)
    larger = rows.sample(n=8_000, replace=True, random_state=0)
    larger += np.random.default_rng(0).normal(scale=1e-3, size=larger.shape)  # no two rows alike
    larger.to_csv(raw, index=False)
    dvc(project, "add", "--quiet", "data/raw/diabetes.csv")
    dvc(project, "repro", "evaluate")

    plotted = project / "dvclive" / "plots" / "custom" / "test_predictions.json"
    points = json.loads(plotted.read_text())
    test = pd.read_parquet(project / "data" / "prepared" / "test.parquet")
    assert len(test) == 2_000 and len(points) == 1_000
    import skops.io

    file = project / "models" / "model.skops"  # the project's own, of scikit-learn types only
    model = skops.io.load(file, trusted=skops.io.get_untrusted_types(file=file))
    pairs = dict(zip(test["target"], model.predict(test.drop(columns="target")), strict=True))  # all numbers
    assert len(pairs) == len(test)
    for point in points:
        assert point["predicted"] == pytest.approx(pairs[point["actual"]])

    first, pictures = plotted.read_bytes(), dvc_lock_hashes(project)["dvclive/plots/images"]
    dvc(project, "repro", "--force", "evaluate")
    assert plotted.read_bytes() == first
    assert dvc_lock_hashes(project)["dvclive/plots/images"] == pictures


def test_the_counts_template_is_dvcs_confusion_template_summing_counts() -> None:
    """The shipped classification template draws what DVC's own `confusion` template draws (kept in
    step with the locked dvc-render), with one change: it sums the rows' `count` where DVC's counts
    rows. The regression template is DVC's `scatter` as it is."""
    templates = TEMPLATE / "{{cookiecutter.project_slug}}" / ".dvc" / "plots"
    shipped = json.loads((templates / "classification.json").read_text())
    assert shipped.pop("description")
    expected = copy.deepcopy(ConfusionTemplate.DEFAULT_CONTENT)
    assert expected["spec"]["transform"][0]["aggregate"] == [{"op": "count", "as": "xy_count"}]
    expected["spec"]["transform"][0]["aggregate"] = [{"op": "sum", "field": "count", "as": "xy_count"}]
    assert shipped == expected
    scatter = json.loads((templates / "regression.json").read_text())
    assert scatter.pop("description")
    assert scatter == ScatterTemplate.DEFAULT_CONTENT


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.parametrize("combo", COMBOS, ids=[c.task for c in COMBOS])
def test_dvc_plots_page_renders_in_headless_chromium(reproduced, combo: Combo, tmp_path: Path) -> None:
    browser = chromium()
    if browser is None or shutil.which("npm") is None:
        reason = "headless Chromium (Debian: apt-get install chromium) and npm are needed"
        pytest.fail(f"{reason}; .ci/run installs them") if os.environ.get("CI") else pytest.skip(reason)
    project = reproduced(combo)
    page_dir = tmp_path / "plots"
    run([*DVC, "plots", "show", "--out", str(page_dir)], project)
    page = (page_dir / "index.html").read_text()

    # The page loads Vega from a CDN, which this machine can't reach: give it the very same
    # releases from the npm registry, as local files.
    scripts = CDN_SCRIPT.findall(page)
    assert {name for name, _ in scripts} == {"vega", "vega-lite", "vega-embed"}
    for name, version in scripts:
        packed = (
            run(["npm", "pack", "--silent", f"{name}@{version}"], tmp_path).stdout.strip().splitlines()[-1]
        )
        with tarfile.open(tmp_path / packed) as archive:
            member = archive.extractfile(f"package/build/{name}.min.js")
            (page_dir / "static" / f"{name}.min.js").write_bytes(member.read())
        page = page.replace(f"https://cdn.jsdelivr.net/npm/{name}@{version}", f"static/{name}.min.js")
    (page_dir / "index.html").write_text(page.replace("<head>", "<head>" + PROBE, 1))

    result = subprocess.run(
        [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000",
            "--dump-dom", (page_dir / "index.html").as_uri(),
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    title = re.search(r"<title>(.*?)</title>", result.stdout, re.DOTALL)
    assert title and title.group(1).startswith("{"), f"the page did not finish:\n{result.stderr[-2000:]}"
    rendered = json.loads(title.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert rendered["errors"] == []
    assert len(rendered["images"]) == len(IMAGES[combo.task]) and all(
        width > 0 for width in rendered["images"]
    )
    assert rendered["vega"] >= 1  # the interactive plot (confusion matrix, or predicted vs actual)
