"""Tables as people have them: a browser's second download, a European spreadsheet's export, a
tab-separated file with a BOM, gzip, Excel, dates, a target with gaps, a class named `None`.

Each file is a real table of tests/data written the way such files come. What inference must
decide is written here by hand from the data (tests/data/README.md), not read from the code's own
output. One hostile project then runs the pipeline end to end: file and column names that are
shell and YAML syntax, survey headers, unlabeled rows scored with `make predict`."""

from __future__ import annotations

import gzip
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import DVC, TEST_DATA, bake, run
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

WEATHER = pd.read_csv(TEST_DATA / "seattle-weather.csv")
PENGUINS = TEST_DATA / "penguins.csv"
WEATHER_CLASSES = ["drizzle", "fog", "rain", "snow", "sun"]
MEASURES = ["precipitation", "temp_max", "temp_min", "wind"]
# German headers, as a spreadsheet in Germany exports them.
GERMAN = {
    "date": "Datum",
    "precipitation": "Niederschlag (mm)",
    "temp_max": "Höchsttemperatur (°C)",
    "temp_min": "Tiefsttemperatur (°C)",
    "wind": "Wind (m/s)",
    "weather": "Wetter",
}


def german_export(path: Path) -> None:
    """Excel's CSV in Germany: `;` between fields, decimal commas, day-first dates, CP1252."""
    frame = WEATHER.rename(columns=GERMAN)
    frame["Datum"] = pd.to_datetime(WEATHER["date"]).dt.strftime("%d.%m.%Y")
    frame.to_csv(path, sep=";", decimal=",", encoding="cp1252", index=False)


def tab_separated_with_bom(path: Path) -> None:
    with gzip.open(path, "wt", encoding="utf-8-sig", newline="") as file:
        WEATHER.to_csv(file, sep="\t", index=False)


def workbook(path: Path) -> None:
    """An Excel workbook whose first sheet holds the table, dates as Excel dates."""
    frame = WEATHER.assign(date=pd.to_datetime(WEATHER["date"]))
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name="Seattle 2012-2015", index=False)
        pd.DataFrame({"note": ["daily observations, Sea-Tac airport"]}).to_excel(writer, sheet_name="About")


# file name -> (how it is written, target, what inference must decide)
CASES = {
    "seattle-weather (1).csv": (
        lambda path: path.write_bytes((TEST_DATA / "seattle-weather.csv").read_bytes()),
        "weather",
        {
            "raw": "data/raw/seattle-weather-1.csv",
            "format": {"type": "csv", "delimiter": ",", "decimal": ".", "encoding": "utf-8"},
            "date": {"role": "feature", "kind": "datetime", "format": "%Y/%m/%d"},
            "classes": WEATHER_CLASSES,
        },
    ),
    "Wetter Seattle; Export.csv": (
        german_export,
        "Wetter",
        {
            "raw": "data/raw/Wetter-Seattle-Export.csv",
            "format": {"type": "csv", "delimiter": ";", "decimal": ",", "encoding": "cp1252"},
            "Datum": {"role": "feature", "kind": "datetime", "format": "%d.%m.%Y"},
            "Höchsttemperatur (°C)": {"role": "feature", "kind": "number"},
            "classes": WEATHER_CLASSES,
        },
    ),
    "weather.tsv.gz": (
        tab_separated_with_bom,
        "weather",
        {
            "raw": "data/raw/weather.tsv.gz",
            "format": {"type": "csv", "delimiter": "\t", "decimal": ".", "encoding": "utf-8-sig"},
            "date": {"role": "feature", "kind": "datetime", "format": "%Y/%m/%d"},
            "classes": WEATHER_CLASSES,
        },
    ),
    "Weather.xlsx": (
        workbook,
        "weather",
        {
            "raw": "data/raw/Weather.xlsx",
            "format": {"type": "excel", "sheet": "Seattle 2012-2015"},
            "date": {"role": "feature", "kind": "datetime", "format": "ISO8601"},
            "classes": WEATHER_CLASSES,
        },
    ),
    # sun renamed None: a frequent word that pandas reads as missing, alongside real classes
    "weather events.csv": (
        lambda path: WEATHER.replace({"weather": {"sun": "None"}}).to_csv(path, index=False),
        "weather",
        {
            "raw": "data/raw/weather-events.csv",
            "classes": ["None", "drizzle", "fog", "rain", "snow"],
            "note": "714 cells of 'weather' hold 'None', kept as a class",
        },
    ),
    # penguins' sex: 11 of 344 rows written NA; the rarer class has 165
    "penguins.csv": (
        lambda path: path.write_bytes(PENGUINS.read_bytes()),
        "sex",
        {
            "raw": "data/raw/penguins.csv",
            "sex": {"role": "target", "nullable": True, "missing": ["NA"]},
            "bill_length_mm": {"role": "feature", "kind": "number", "nullable": True, "missing": ["NA"]},
            "classes": ["female", "male"],
            "note": "11 rows have no 'sex' (empty, or 'NA'): left out of training",
        },
    ),
}


@pytest.mark.parametrize("file_name", list(CASES))
def test_inference_decides_what_the_data_says(
    file_name: str, tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    write, target, expected = CASES[file_name]
    table = tmp_path / "downloads" / file_name
    table.parent.mkdir()
    write(table)
    output = tmp_path / "out"
    project = bake(output, dataset=str(table), target=target, project_name="real file")
    described = yaml.safe_load((project / "data" / "schema.yaml").read_text(encoding="utf-8"))
    assert described["raw"] == expected["raw"] and (project / expected["raw"]).is_file()
    assert described["source"] == file_name
    assert described["task"] == "classification"
    if "format" in expected:
        assert described["format"] == expected["format"]
    columns = described["columns"]
    assert columns[target]["categories"] == expected["classes"]
    for name, decided in expected.items():
        if name in columns:
            assert {key: columns[name].get(key) for key in decided} == decided, name
    said = capfd.readouterr().out  # what the post-generation hook printed
    if "note" in expected:
        assert f"NOTE: {expected['note']}" in said
    else:
        assert "NOTE:" not in said


# A survey export's headers: whole questions, with the punctuation YAML, shells and DVC read as syntax.
SURVEY = {
    "date": "On which day? (DD.MM.YYYY) — please use the calendar",
    "precipitation": 'How much rain fell, in mm (incl. snow, hail, "sleet")?',
    "temp_max": "Highest temperature: °C #1",
    "temp_min": "  lowest temperature, °C ${x} ",
    "wind": "Wind [m/s] {average} & gusts? " + "(details) " * 110,  # over YAML's 1024-character key
    "weather": "What was the weather like: sun, rain, fog…?",
}
HOSTILE_FILE = 'weather "export" (1) $(touch PWNED) `touch PWNED`; & |.csv'
UNLABELED_EVERY = 25  # every 25th row has no answer to the last question: 59 rows of 1461


@pytest.fixture(scope="module")
def hostile_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project generated from HOSTILE_FILE (German dialect, SURVEY headers, unlabeled rows), after
    `dvc repro`."""
    downloads = tmp_path_factory.mktemp("downloads")
    frame = WEATHER.assign(date=pd.to_datetime(WEATHER["date"]).dt.strftime("%d.%m.%Y"))
    frame.loc[frame.index % UNLABELED_EVERY == 0, "weather"] = ""
    frame.rename(columns=SURVEY).to_csv(
        downloads / HOSTILE_FILE, sep=";", decimal=",", encoding="cp1252", index=False
    )
    project = bake(
        tmp_path_factory.mktemp("hostile"), dataset=str(downloads / HOSTILE_FILE), target=SURVEY["weather"]
    )
    run([*DVC, "repro"], cwd=project)
    return project


@pytest.mark.xdist_group("hostile")
def test_hostile_names_run_the_whole_pipeline_and_unlabeled_rows_are_scored(
    hostile_project: Path, tmp_path: Path
) -> None:
    project = hostile_project
    assert not list(project.parent.parent.rglob("PWNED")) and not Path("PWNED").exists()
    described = yaml.safe_load((project / "data" / "schema.yaml").read_text(encoding="utf-8"))
    assert list(described["columns"]) == list(SURVEY.values())  # every header as it was, in order
    assert described["columns"][SURVEY["date"]]["kind"] == "datetime"
    decision = json.loads((project / "reports" / "registration.json").read_text())
    assert decision["registered"], decision
    unlabeled = len(range(0, len(WEATHER), UNLABELED_EVERY))
    with closing(sqlite3.connect(project / "mlflow.db")) as store:
        (count,) = store.execute("SELECT value FROM tags WHERE key = 'data_unlabeled_rows'").fetchone()
    assert int(count) == unlabeled
    scores = tmp_path / "unlabeled scores.csv"
    model = f"models:/{decision['model_name']}@staging"
    run(
        ["make", "predict", f"MODEL={model}", "INPUT=data/prepared/unlabeled.parquet", f"OUTPUT={scores}"],
        project,
    )
    predicted = pd.read_csv(scores, keep_default_na=False)
    assert len(predicted) == unlabeled
    assert set(predicted["prediction"]) <= set(WEATHER_CLASSES)
    # New rows as the survey tool exports them (same dialect, raw date strings), without the answer.
    rows = tmp_path / "new answers (2).csv"
    new = WEATHER.drop(columns="weather").head(10)
    new.assign(date=pd.to_datetime(new["date"]).dt.strftime("%d.%m.%Y")).rename(columns=SURVEY).to_csv(
        rows, sep=";", decimal=",", encoding="cp1252", index=False
    )
    outputs = []
    for source in (model, "models/model.skops"):
        output = tmp_path / f"scores-{len(outputs)}.csv"
        run(["make", "predict", f"MODEL={source}", f"INPUT={rows}", f"OUTPUT={output}"], project)
        outputs.append(output.read_bytes())
    assert outputs[0] == outputs[1] and len(pd.read_csv(tmp_path / "scores-0.csv")) == 10


# Names drawn from what shells, make, YAML and DVC's ${} read as syntax, and any other character.
SYNTAX = list("\n\t :#,'\"[]{}&*!|>%@`$();\\/-?~=.") + [
    "${x}",
    "$(touch PWNED)",
    "`touch PWNED`",
    "$(shell touch PWNED)",
]
NAME = st.lists(
    st.one_of(st.sampled_from(SYNTAX), st.characters(exclude_categories=("Cs", "Cc"))),
    min_size=1,
    max_size=12,
).map("".join)
MISSING_WORDS = {"", "NA", "N/A", "NULL", "NaN", "None", "n/a", "nan", "null", "<NA>", "#N/A", "-nan", "-NaN"}


@pytest.mark.xdist_group("hostile")
@settings(
    max_examples=4,  # each example adopts a table and runs prepare and train: ~15 s
    deadline=None,
    derandomize=True,  # the same examples on every run
    phases=(Phase.explicit, Phase.generate),  # no shrinking: each step runs the real pipeline
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    file_stem=NAME,
    names=st.lists(NAME.filter(lambda name: name.strip() not in MISSING_WORDS), min_size=3, max_size=3,
                   unique_by=lambda name: name.strip().casefold()),
    classes=st.lists(NAME, min_size=2, max_size=2, unique=True),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
)  # fmt: skip
def test_any_file_and_column_names_adopt_train_and_predict(
    hostile_project: Path,
    tmp_path: Path,
    file_stem: str,
    names: list[str],
    classes: list[str],
    delimiter: str,
) -> None:
    project = hostile_project
    number, category, target = names
    labels = [f"c{label}" for label in classes]  # text classes, never a missing-value word
    rows = 60
    frame = pd.DataFrame(
        {
            number: [float(row % 7) + (0.5 if row % 2 else 0.0) for row in range(rows)],
            category: [f"k{label}" for label in (labels * rows)[:rows]],
            target: [labels[row % 2] for row in range(rows)],
        }
    )
    table = tmp_path / f"{file_stem.replace('/', '-')[:60]}.csv"
    frame.to_csv(table, sep=delimiter, index=False)
    run(["make", "adopt", f"DATA={table}", f"TARGET={target}"], project)
    run([*DVC, "repro", "train"], project)
    scores = tmp_path / "scores.csv"
    run(["make", "predict", "MODEL=models/model.skops", f"INPUT={table}", f"OUTPUT={scores}"], project)
    predicted = pd.read_csv(scores, keep_default_na=False, dtype=str)
    assert len(predicted) == rows and set(predicted["prediction"]) <= set(labels)
    assert not list(project.rglob("PWNED")) and not list(tmp_path.rglob("PWNED"))
