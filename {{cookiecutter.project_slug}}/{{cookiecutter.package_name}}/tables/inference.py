"""A first `data/schema.yaml` from the data: which column is what, and which cell texts mean "empty".

`make adopt` and the project's generation run it once on the user's table; the user then reads and
edits the schema, and the pipeline follows the schema, not this module. Decisions, in order:
- missing values: pandas' usual missing-value words (`NA`, `None`, `null`, `n/a`, ...) found in a
  column are read as empty there and listed under its `missing:`; in a text target, a word that is
  as frequent as a real class is a class of its own (a class named `None`), see missing_texts;
- unlabeled rows (no target) are left out of training and counted, never filled in;
- the task, from the target (text, booleans or a few whole numbers: classification);
- each other column: a feature (number, category, boolean or datetime), or ignored with a reason
  (empty, constant, exported row numbers, an identifier). Dates are never taken for identifiers.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from .. import tasks
from ..common.errors import PipelineError
from ..schema import MIN_ROWS, TASKS, Column, Kind, Schema, as_plain, labels_of

if TYPE_CHECKING:
    import pandas as pd

MAX_LISTED_CATEGORIES = 100  # more distinct values than this are not listed in the schema
MAX_CLASS_CODES = 20  # an integer target with at most this many values is read as classes (task=auto)
# A missing-value word in a text target is a class when it is as frequent as the rarest real class
# and holds at least this share of the labeled rows (see missing_texts).
CLASS_WORD_SHARE = 0.05
DATE_SAMPLE = 200  # values a date format is checked on, spread over the column
DATE_SHARE = 0.9  # share of those that must parse with it
DATE_GUESSES = 5  # distinct values a format is guessed from, day first and month first
# Names that spreadsheet and R exports give the row-number column (pandas reads "" as "Unnamed: 0").
ROW_NAME_COLUMNS = ("Unnamed: 0", "rownames", "row.names")
# The texts pandas reads as missing by default (`read_csv`'s na_values), "" aside.
MISSING_WORDS = frozenset(
    {
        "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
        "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
    }
)  # fmt: skip


def missing_texts(frame: pd.DataFrame, target: str) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Column -> the missing-value words read as empty in it, from the table read with only empty
    cells as missing (a column holding such a word is then text). In a text target, a word written
    in at least as many rows as its rarest real class, and in CLASS_WORD_SHARE of them, is kept as
    a class: returned second, word -> rows (for the note that says so)."""
    import pandas as pd

    missing, kept = {}, {}
    for name in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[name]) or pd.api.types.is_datetime64_any_dtype(frame[name]):
            missing[str(name)] = []  # typed values: no word among them
            continue
        counts = frame[name].value_counts()
        words = {word: int(count) for word, count in counts.items() if word in MISSING_WORDS}
        if str(name) == target and words:
            labels = counts[[value not in MISSING_WORDS for value in counts.index]]
            # Numbers with a decimal comma are numbers too: their missing words are gaps.
            values = pd.Series(labels.index).astype(str).str.replace(",", ".", regex=False)
            numeric = pd.to_numeric(values, errors="coerce").notna().all()
            if len(labels) and not numeric:
                least = max(labels.min(), CLASS_WORD_SHARE * labels.sum())
                kept = {word: count for word, count in words.items() if count >= least}
        missing[str(name)] = sorted(word for word in words if word not in kept)
    return missing, kept


def infer(
    frame: pd.DataFrame,
    target: str,
    task: str = "auto",
    missing: dict[str, list[str]] | None = None,
    **where: object,
) -> Schema:
    """Describe `frame` with `target` as the column to predict; `task` is classification,
    regression or auto (decided from the target); `missing`: each column's words read as empty (see
    missing_texts); `where`: the Schema's raw, source and format. A PipelineError when it can't be
    learned from."""
    if target not in frame.columns:
        raise PipelineError(
            f"target {target!r} is not a column; the columns are: {', '.join(map(repr, frame.columns))}"
        )
    missing = missing or {}
    values = frame[target]
    labeled = labels_of(values)
    if labeled.empty:
        raise PipelineError(f"target {target!r} is empty in every row{written_as(missing.get(target))}")
    if len(labeled) < MIN_ROWS:
        unlabeled = f" ({len(values) - len(labeled)} rows have none)" if labeled.size < values.size else ""
        raise PipelineError(
            f"{len(labeled)} rows have a {target!r}{unlabeled}; at least {MIN_ROWS} are needed to "
            "train and evaluate"
        )
    task = decide_task(labeled, target, task)
    problem = tasks.load(task).target_problem(labeled)
    if problem:
        raise PipelineError(f"target {target!r} {problem}")
    columns = {
        str(name): describe_column(frame[name], str(name), missing.get(str(name)))
        for name in frame.columns
        if name != target
    }
    columns[target] = Column(
        role="target",
        kind=kind_of(labeled),
        nullable=bool(values.isna().any()),
        missing=missing.get(target) or None,
        categories=listed(labeled) if task == "classification" else None,
    )
    columns = {str(name): columns[str(name)] for name in frame.columns}  # the table's order
    schema = Schema(target=target, task=task, columns=columns, **where)
    if not schema.features():
        reasons = "; ".join(
            f"{name!r}: {column.reason}" for name, column in columns.items() if column.role == "ignored"
        )
        raise PipelineError(
            f"every column besides the target is ignored ({reasons}); nothing is left to learn from"
        )
    return schema


def written_as(words: list[str] | None) -> str:
    """How missing cells are written, for a message: ` (empty, or 'NA')`, or nothing."""
    return f" (empty, or {' or '.join(map(repr, words))})" if words else ""


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
    plain = [as_plain(value) for value in distinct]
    if len({type(value) for value in plain}) > 1:  # numbers and text in one column (a workbook's)
        plain = [str(value) for value in plain]
    return sorted(plain)


def describe_column(values: pd.Series, name: str, missing: list[str] | None = None) -> Column:
    """A feature column's description (`missing`: its words read as empty), or why it is ignored."""
    import pandas as pd

    present = values.dropna()
    nullable = bool(values.isna().any())
    missing = missing or None
    if present.empty:
        return Column(role="ignored", reason="empty in every row")
    if present.nunique() == 1:
        return Column(
            role="ignored", reason=f"constant: {as_plain(present.iloc[0])!r} in every non-empty row"
        )
    date_format = date_format_of(values)
    if date_format:
        return Column(role="feature", kind="datetime", nullable=nullable, format=date_format, missing=missing)
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
        return Column(role="feature", kind="number", nullable=nullable, missing=missing)
    if kind == "category" and unique_per_row:
        return Column(role="ignored", reason="an identifier: a different value in every row")
    return Column(role="feature", kind=kind, nullable=nullable, missing=missing, categories=listed(values))


def date_format_of(values: pd.Series) -> str | None:
    """The format of a column of dates or timestamps (`ISO8601` for typed ones, as Parquet and
    Excel store them; else strftime codes guessed from the text), or None when it is not dates."""
    import pandas as pd
    from pandas.tseries.api import guess_datetime_format

    if pd.api.types.is_datetime64_any_dtype(values):
        return "ISO8601"
    if values.dtype != object and not pd.api.types.is_string_dtype(values):
        return None
    present = values.dropna()
    # Spread over the column: the first rows of a series may all have days up to 12, where day
    # first and month first parse alike.
    sample = present.iloc[:: max(1, len(present) // DATE_SAMPLE)].head(DATE_SAMPLE).astype(str)
    if sample.empty or sample.str.contains(r"\d{1,4}[-/.]\d{1,2}", regex=True).mean() < DATE_SHARE:
        return None  # digits and separators as dates have them, before pandas tries each value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' "could not infer format": then it is not one format
        # The day first (31.12.2015) or the month first (12/31/2015): guessed both ways from a few
        # values, and the format that parses the most of the sample wins.
        candidates = {
            guess_datetime_format(value, dayfirst=dayfirst)
            for value in sample.unique()[:DATE_GUESSES]
            for dayfirst in (False, True)
        }
        shares = {
            candidate: pd.to_datetime(sample, format=candidate, errors="coerce", utc=True).notna().mean()
            for candidate in sorted(candidates - {None}) + ["ISO8601"]
        }
    best = max(shares, key=shares.get)
    return best if shares[best] >= DATE_SHARE else None
