"""The table's description, `data/schema.yaml`: read and write it, check a frame against it.

Every column has a role: `feature` (the model learns from it), `target` (what it predicts) or
`ignored` (with the reason: an identifier, exported row names, a constant, an empty column).
A feature's kind is `number`, `category`, `boolean` (encoded like a category) or `datetime` (the
model learns from its parts: year, month, weekday...). The schema also says how to read the file
(`format:`) and which cell texts mean "empty" in each column (`missing:`). `inference.py` writes a
first version from the data; prepare checks the raw data against it, train builds the model's
column handling from it, and predict checks new rows against it: none of them looks at dtypes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .common.errors import PipelineError
from .common.files import read_yaml, write_atomic
from .common.one_line_yaml import yaml_value
from .common.project import SCHEMA_FILE

if TYPE_CHECKING:
    import pandas as pd

Role = Literal["feature", "target", "ignored"]
Kind = Literal["number", "category", "boolean", "datetime"]
KINDS = ("number", "category", "boolean", "datetime")
TASKS = ("classification", "regression")
EXAMPLES = 3  # example values and rows a problem names
MIN_ROWS = 20  # fewer labeled rows leave too few to hold out for evaluation
LONGEST_SIMPLE_KEY = 1000  # YAML allows 1024 characters in a key before `:`; longer ones need `? `
HEADER = """\
# The table's description: what `prepare` checks the raw data against, what the model learns from,
# and what `predict` accepts. Inferred from the data; edit it, then `dvc repro`:
#   raw:        the table's file in this project (DVC-tracked; dvc.yaml reads this)
#   source:     where it came from, as you gave it;  target: the column predicted
#   format:     how the file is read: type (csv, parquet, excel), delimiter, decimal, encoding, sheet
#   task:       classification or regression
#   role:       feature (learned from), target (predicted), or ignored (with the reason)
#   kind:       number, category, boolean (encoded like a category) or datetime (format: how to parse)
#   nullable:   whether empty cells are allowed (the model fills them; rows without a target are
#               left out of training, and prepare writes them to data/prepared/unlabeled.parquet)
#   missing:    cell texts read as empty besides an empty cell (e.g. NA); remove one to keep it as a value
#   categories: the values seen (predict warns about others); null when too many to list
"""


@dataclass(frozen=True)
class Column:
    """One column of the table."""

    role: Role
    kind: Kind | None = None  # features and the target
    nullable: bool = False
    format: str | None = None  # datetime: the format pandas parses it with (strftime codes, or ISO8601)
    missing: list[str] | None = None  # cell texts read as empty besides an empty cell (e.g. NA, None)
    categories: list | None = None
    reason: str | None = None  # why an ignored column is ignored


@dataclass(frozen=True)
class Schema:
    """The table: its target, the task, every column by name (in the table's order), the file that
    holds it (`raw`, which dvc.yaml reads from here), where that came from and how to read it."""

    target: str
    task: str
    columns: dict[str, Column] = field(default_factory=dict)
    raw: str = ""
    source: str = ""  # where the table came from: the user's file name or URL, as given
    format: dict = field(default_factory=dict)  # how to read `raw` (table.TableFormat's fields)

    def features(self, *kinds: Kind) -> list[str]:
        """The feature columns (of the given kinds, or all), in the table's order."""
        return [
            name
            for name, column in self.columns.items()
            if column.role == "feature" and (not kinds or column.kind in kinds)
        ]

    @property
    def categorical(self) -> list[str]:
        """Features encoded as categories (text and booleans)."""
        return self.features("category", "boolean")

    def missing_texts(self) -> dict[str, list[str]]:
        """Column -> the cell texts read as empty: an empty cell, and the column's `missing:`."""
        return {name: ["", *(column.missing or [])] for name, column in self.columns.items()}


def load(path: Path = SCHEMA_FILE) -> Schema:
    """Read `path`; a PipelineError naming what is wrong with it."""
    raw = read_yaml(path, "`make adopt DATA=... TARGET=...` writes it")
    try:
        columns = {str(name): Column(**spec) for name, spec in raw["columns"].items()}
        schema = Schema(
            target=str(raw["target"]),
            task=raw["task"],
            columns=columns,
            raw=str(raw["raw"]),
            source=str(raw.get("source") or ""),
            format=dict(raw.get("format") or {}),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise PipelineError(
            f"{path} must have raw:, target:, task: and columns: (name: role, kind, ...): {error}"
        ) from None
    for name, column in schema.columns.items():
        problem = column_problem(column)
        if problem:
            raise PipelineError(f"{path}: column {name!r} {problem}")
    if schema.task not in TASKS:
        raise PipelineError(f"{path}: task {schema.task!r} is not one of {', '.join(TASKS)}")
    if schema.columns.get(schema.target, Column("ignored")).role != "target":
        raise PipelineError(f"{path}: target {schema.target!r} must be a column with role: target")
    if not schema.features():
        raise PipelineError(f"{path}: no column has role: feature; the model needs at least one")
    return schema


def column_problem(column: Column) -> str | None:
    """What is wrong with one column's description, or None."""
    if column.role not in ("feature", "target", "ignored"):
        return f"has role {column.role!r}; use feature, target or ignored"
    if column.role != "ignored" and column.kind not in KINDS:
        return f"has kind {column.kind!r}; use {', '.join(KINDS)}"
    if column.kind == "datetime" and not column.format:
        return "has kind datetime but no format: give one, e.g. format: '%Y-%m-%d' or format: ISO8601"
    if column.missing is not None and not (
        isinstance(column.missing, list) and all(isinstance(text, str) for text in column.missing)
    ):
        return f"has missing: {column.missing!r}; give a list of texts, e.g. missing: ['NA', 'n/a']"
    return None


def dump(schema: Schema, path: Path = SCHEMA_FILE) -> None:
    """Write `schema` to `path` (atomically): the header that explains the fields, then one line per
    column. Any column name or value loads back as it was (see one_line_yaml)."""
    head = {"raw": schema.raw, "source": schema.source, "target": schema.target, "task": schema.task}
    lines = [f"{key}: {yaml_value(value)}\n" for key, value in head.items()]
    if schema.format:
        lines.append(f"format: {yaml_value(schema.format)}\n")
    lines.append("columns:\n")
    for name, column in schema.columns.items():
        spec = {key: value for key, value in asdict(column).items() if value is not None}
        if column.role == "ignored":
            del spec["nullable"]  # about features and the target only
        if not spec.get("missing", True):
            del spec["missing"]
        key = yaml_value(name)
        if len(key) > LONGEST_SIMPLE_KEY:
            lines.append(f"  ? {key}\n  : {yaml_value(spec)}\n")
        else:
            lines.append(f"  {key}: {yaml_value(spec)}\n")
    text = HEADER + "".join(lines)
    write_atomic(path, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"))


def labels_of(values: pd.Series) -> pd.Series:
    """The target's labeled rows: empty cells dropped, and whole numbers that pandas read as floats
    because of those cells (`3.0`) made whole again, so classes read `3` as in the file."""
    import pandas as pd

    labels = values.dropna()
    if pd.api.types.is_float_dtype(labels) and len(labels) and (labels == labels.round()).all():
        return labels.astype("int64")
    return labels


def as_plain(value: object) -> object:
    """A value as YAML writes it plainly: Python's int, float, bool or str."""
    for plain in (bool, int, float):
        if isinstance(value, plain) or type(value).__name__.startswith(plain.__name__):
            return plain(value)
    return str(value)


def problems(frame: pd.DataFrame, schema: Schema, with_target: bool = True) -> list[str]:
    """Every way `frame` departs from `schema`, one line each with counts and examples (empty: none).

    With the target (raw data for training): every column of the schema, no others, gaps only
    where `nullable` allows them. Without it (rows to predict): the features, of the right kinds;
    other columns and gaps are fine.
    """
    import pandas as pd

    found = []
    needed = [
        name
        for name, column in schema.columns.items()
        if column.role == "feature" or (with_target and column.role == "target")
    ]
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        found.append(f"columns missing: {', '.join(map(repr, missing))}")
    if with_target:
        unknown = [str(name) for name in frame.columns if str(name) not in schema.columns]
        if unknown:
            found.append(
                f"columns not in the schema: {', '.join(map(repr, unknown))} "
                "(add them to data/schema.yaml with role: feature or role: ignored)"
            )
    for name in needed:
        if name not in frame.columns:
            continue
        column, values = schema.columns[name], frame[name]
        if column.kind == "number" and not pd.api.types.is_numeric_dtype(values):
            numbers = pd.to_numeric(values, errors="coerce")
            text = values[numbers.isna() & values.notna()]
            found.append(
                f"column {name!r} should hold numbers, but {len(text)} rows hold text: {rows_and_values(text)}"
            )
        elif column.kind == "number" and not pd.api.types.is_bool_dtype(values):
            infinite = values[values.abs() == float("inf")]
            if len(infinite):
                found.append(
                    f"column {name!r} has {len(infinite)} infinite values: {rows_and_values(infinite)}"
                )
        elif column.kind == "datetime" and with_target and not pd.api.types.is_datetime64_any_dtype(values):
            text = values[values.notna()].astype(str)
            undated = text[~parses_as_dates(text, column.format)]
            if len(undated):
                found.append(
                    f"column {name!r} has {len(undated)} values that are no dates in format "
                    f"{column.format!r}: {rows_and_values(undated)} (correct them, or the format:)"
                )
        gaps = values[values.isna()]
        if len(gaps) and with_target and column.role == "feature" and not column.nullable:
            found.append(
                f"column {name!r} has {len(gaps)} {empty_cells(column)} (rows {row_numbers(gaps)}): fill "
                "them, or set nullable: true in data/schema.yaml to let the model fill them"
            )
    return found


def parses_as_dates(text: pd.Series, date_format: str | None) -> pd.Series:
    """Which texts read as dates in `date_format`, or in ISO 8601 (a typed date written as text),
    as the model's date step reads them (date_features.parse_dates, which needs scikit-learn)."""
    import pandas as pd

    parsed = pd.to_datetime(text, format=date_format, errors="coerce", utc=True)
    iso = pd.to_datetime(text.where(parsed.isna()), format="ISO8601", errors="coerce", utc=True)
    return parsed.notna() | iso.notna()


def empty_cells(column: Column) -> str:
    """How a column's gaps are written, for messages: `empty cells`, or `empty cells or cells holding 'NA'`."""
    if not column.missing:
        return "empty cells"
    return "empty cells or cells holding " + " or ".join(map(repr, column.missing))


def row_numbers(rows: pd.Series) -> str:
    """The first few rows' numbers (1 = the first data row), and how many more."""
    numbers = ", ".join(str(position + 1) for position in rows.index[:EXAMPLES])
    return numbers + (f" and {len(rows) - EXAMPLES} more" if len(rows) > EXAMPLES else "")


def rows_and_values(rows: pd.Series) -> str:
    """A few offending values with their row numbers, e.g. `'abc' (row 12), 'n/a' (row 40)`."""
    shown = ", ".join(
        f"{as_plain(value)!r} (row {position + 1})" for position, value in rows.head(EXAMPLES).items()
    )
    return shown + (f" and {len(rows) - EXAMPLES} more" if len(rows) > EXAMPLES else "")


def conform(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The feature columns of `frame` as the model takes them: numbers as floats, categories and
    dates as text (empty cells stay empty; the model parses dates itself), in the schema's order."""
    import pandas as pd

    features = frame[schema.features()].copy()
    for name in schema.features("number"):
        features[name] = pd.to_numeric(features[name], errors="coerce").astype("float64")
    for name in [*schema.categorical, *schema.features("datetime")]:
        features[name] = as_text(features[name])
    return features


def as_text(values: pd.Series) -> pd.Series:
    """Category values as text (object dtype, empty cells as NaN): whole numbers without a trailing
    `.0`, booleans as True/False, so a column reads the same from CSV, Parquet or JSON."""
    import numpy as np
    import pandas as pd

    present = values.dropna()
    if pd.api.types.is_float_dtype(values) and (present == present.round()).all():
        values = values.astype("Int64")
    text = values.map(str, na_action="ignore").astype(object)
    return text.where(values.notna(), np.nan)
