"""The table's description, `data/schema.yaml`: infer it, read and write it, check a frame against it.

Every column has a role: `feature` (the model learns from it), `target` (what it predicts) or
`ignored` (with the reason: an identifier, exported row names, a constant, an empty column, dates).
A feature's kind is `number`, `category` or `boolean` (booleans are encoded like categories).
prepare checks the raw data against the schema, train builds the model's column handling from it,
and predict checks new rows against it: none of them looks at dtypes on its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml

from . import tasks
from .errors import PipelineError
from .files import read_yaml, write_atomic

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_FILE = Path("data", "schema.yaml")
Role = Literal["feature", "target", "ignored"]
Kind = Literal["number", "category", "boolean"]
TASKS = ("classification", "regression")
MIN_ROWS = 20  # fewer rows leave too few to hold out for evaluation
MAX_LISTED_CATEGORIES = 100  # more distinct values than this are not listed in the schema
MAX_CLASS_CODES = 20  # an integer target with at most this many values is read as classes (task=auto)
EXAMPLES = 3  # example values and rows a problem names
# Names that spreadsheet and R exports give the row-number column (pandas reads "" as "Unnamed: 0").
ROW_NAME_COLUMNS = ("Unnamed: 0", "rownames", "row.names")
HEADER = """\
# The table's description: what `prepare` checks the raw data against, what the model learns from,
# and what `predict` accepts. Inferred from the data; edit it, then `dvc repro`:
#   raw:        the table's file (DVC-tracked; dvc.yaml reads this), target: the column predicted
#   task:       classification or regression
#   role:       feature (learned from), target (predicted), or ignored (with the reason)
#   kind:       number, category or boolean (a boolean is encoded like a category)
#   nullable:   whether empty cells are allowed (the model fills them)
#   categories: the values seen (predict warns about others); null when too many to list
"""


@dataclass(frozen=True)
class Column:
    """One column of the table."""

    role: Role
    kind: Kind | None = None  # features and the target
    nullable: bool = False
    categories: list | None = None
    reason: str | None = None  # why an ignored column is ignored


@dataclass(frozen=True)
class Schema:
    """The table: its target, the task, every column by name (in the table's order), and the file
    that holds it (`raw`, which dvc.yaml reads from here)."""

    target: str
    task: str
    columns: dict[str, Column] = field(default_factory=dict)
    raw: str = ""

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


def load(path: Path = SCHEMA_FILE) -> Schema:
    """Read `path`; a PipelineError naming what is wrong with it."""
    raw = read_yaml(path, "`make adopt DATA=... TARGET=...` writes it")
    try:
        columns = {str(name): Column(**spec) for name, spec in raw["columns"].items()}
        schema = Schema(target=str(raw["target"]), task=raw["task"], columns=columns, raw=str(raw["raw"]))
    except (KeyError, TypeError, AttributeError) as error:
        raise PipelineError(
            f"{path} must have raw:, target:, task: and columns: (name: role, kind, ...): {error}"
        ) from None
    for name, column in schema.columns.items():
        if column.role not in ("feature", "target", "ignored"):
            raise PipelineError(
                f"{path}: column {name!r} has role {column.role!r}; use feature, target or ignored"
            )
        if column.role != "ignored" and column.kind not in ("number", "category", "boolean"):
            raise PipelineError(
                f"{path}: column {name!r} has kind {column.kind!r}; use number, category or boolean"
            )
    if schema.task not in TASKS:
        raise PipelineError(f"{path}: task {schema.task!r} is not one of {', '.join(TASKS)}")
    if schema.columns.get(schema.target, Column("ignored")).role != "target":
        raise PipelineError(f"{path}: target {schema.target!r} must be a column with role: target")
    if not schema.features():
        raise PipelineError(f"{path}: no column has role: feature; the model needs at least one")
    return schema


def dump(schema: Schema, path: Path = SCHEMA_FILE) -> None:
    """Write `schema` to `path` (atomically): the header that explains the fields, then one line per
    column."""
    head = yaml.safe_dump({"raw": schema.raw, "target": schema.target, "task": schema.task}, sort_keys=False)
    lines = []
    for name, column in schema.columns.items():
        spec = {key: value for key, value in asdict(column).items() if value is not None}
        if column.role == "ignored":
            del spec["nullable"]  # about features and the target only
        flow = yaml.safe_dump(
            spec, default_flow_style=True, sort_keys=False, allow_unicode=True, width=1 << 16
        )
        key = yaml.safe_dump(name, allow_unicode=True).removesuffix("\n...\n").strip()
        lines.append(f"  {key}: {flow.strip()}\n")
    text = HEADER + head + "columns:\n" + "".join(lines)
    write_atomic(path, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"))


def infer(frame: pd.DataFrame, target: str, task: str = "auto", raw: str = "") -> Schema:
    """Describe `frame`, the table in file `raw`, with `target` as the column to predict; `task` is
    classification, regression or auto (decided from the target). A PipelineError when it can't be
    learned from."""
    if target not in frame.columns:
        raise PipelineError(
            f"target {target!r} is not a column; the columns are: {', '.join(map(str, frame.columns))}"
        )
    if len(frame) < MIN_ROWS:
        raise PipelineError(
            f"the table has {len(frame)} rows; at least {MIN_ROWS} are needed to train and evaluate"
        )
    values = frame[target]
    if values.isna().all():
        raise PipelineError(f"target {target!r} is empty in every row")
    if values.isna().any():
        gaps = values[values.isna()]
        raise PipelineError(
            f"target {target!r} has {len(gaps)} empty cells (rows {row_numbers(gaps)}): fill or drop those rows"
        )
    task = decide_task(values, target, task)
    problem = tasks.load(task).target_problem(values)
    if problem:
        raise PipelineError(f"target {target!r} {problem}")
    columns = {str(name): describe_column(frame[name], str(name)) for name in frame.columns if name != target}
    columns[target] = Column(
        role="target", kind=kind_of(values), categories=listed(values) if task == "classification" else None
    )
    columns = {str(name): columns[str(name)] for name in frame.columns}  # the table's order
    schema = Schema(target=target, task=task, columns=columns, raw=raw)
    if not schema.features():
        reasons = "; ".join(
            f"{name!r}: {column.reason}" for name, column in columns.items() if column.role == "ignored"
        )
        raise PipelineError(
            f"every column besides the target is ignored ({reasons}); nothing is left to learn from"
        )
    return schema


def decide_task(values: pd.Series, target: str, task: str) -> str:
    """The task for this target: `task` as asked, or for auto classification when the target is text,
    boolean or a few distinct integers, else regression."""
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if task == "regression" and not numeric:
        example = values.dropna().iloc[0]
        raise PipelineError(
            f"task=regression needs a numeric target, but {target!r} holds text (e.g. {example!r}); "
            "use task=classification or task=auto"
        )
    if task in TASKS:
        return task
    if task != "auto":
        raise PipelineError(f"task={task!r} is not valid: use auto, classification or regression")
    present = values.dropna()
    integral = numeric and bool((present == present.round()).all())
    return (
        "classification"
        if not numeric or (integral and present.nunique() <= MAX_CLASS_CODES)
        else "regression"
    )


def kind_of(values: pd.Series) -> Kind:
    """number, boolean or category, from the values' type (0 and 1 are numbers, not booleans)."""
    import pandas as pd

    present = values.dropna()
    if pd.api.types.is_bool_dtype(values) or (
        len(present) and values.dtype == object and present.map(lambda value: isinstance(value, bool)).all()
    ):
        return "boolean"
    return "number" if pd.api.types.is_numeric_dtype(values) else "category"


def listed(values: pd.Series) -> list | None:
    """The distinct values in a stable order (as text for categories), or None when there are too many."""
    distinct = values.dropna().unique()
    if len(distinct) > MAX_LISTED_CATEGORIES:
        return None
    return sorted(as_plain(value) for value in distinct)


def as_plain(value: object) -> object:
    """A value as YAML writes it plainly: Python's int, float, bool or str."""
    for plain in (bool, int, float):
        if isinstance(value, plain) or type(value).__name__.startswith(plain.__name__):
            return plain(value)
    return str(value)


def describe_column(values: pd.Series, name: str) -> Column:
    """A feature column's description, or why it is ignored."""
    import pandas as pd

    present = values.dropna()
    nullable = bool(values.isna().any())
    if present.empty:
        return Column(role="ignored", reason="empty in every row")
    if present.nunique() == 1:
        return Column(
            role="ignored", reason=f"constant: {as_plain(present.iloc[0])!r} in every non-empty row"
        )
    kind = kind_of(values)
    unique_per_row = not nullable and present.is_unique
    if kind == "number":
        consecutive = (
            pd.api.types.is_integer_dtype(values)
            and unique_per_row
            and present.max() - present.min() + 1 == len(present)
        )
        if consecutive and (name in ROW_NAME_COLUMNS or name.startswith("Unnamed: ")):
            return Column(
                role="ignored", reason="row numbers exported with the table (a column without a name)"
            )
        if consecutive:
            return Column(role="ignored", reason="an identifier: consecutive integers, unique per row")
        return Column(role="feature", kind="number", nullable=nullable)
    if kind == "category" and unique_per_row:
        return Column(role="ignored", reason="an identifier: a different value in every row")
    if kind == "category" and looks_like_dates(present):
        return Column(
            role="ignored",
            reason="dates: derive features from them in prepare (year, month, weekday) to use them",
        )
    return Column(role="feature", kind=kind, nullable=nullable, categories=listed(values))


def looks_like_dates(present: pd.Series) -> bool:
    """Whether text values are dates (ISO 8601 and the like), judged on a sample."""
    import warnings

    import pandas as pd

    sample = present.astype(str).head(200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": then they are not dates
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(
        parsed.notna().mean() >= 0.9 and sample.str.contains(r"\d{1,4}[-/.]\d{1,2}", regex=True).mean() >= 0.9
    )


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
        gaps = values[values.isna()]
        if len(gaps) and with_target and (column.role == "target" or not column.nullable):
            fix = (
                "fill or drop those rows"
                if column.role == "target"
                else "or set nullable: true in data/schema.yaml to let the model fill them"
            )
            found.append(f"column {name!r} has {len(gaps)} empty cells (rows {row_numbers(gaps)}): {fix}")
    return found


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
    """The feature columns of `frame` as the model takes them: numbers as floats, categories as
    text (empty cells stay empty), in the schema's order."""
    import pandas as pd

    features = frame[schema.features()].copy()
    for name in schema.features("number"):
        features[name] = pd.to_numeric(features[name], errors="coerce").astype("float64")
    for name in schema.categorical:
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
