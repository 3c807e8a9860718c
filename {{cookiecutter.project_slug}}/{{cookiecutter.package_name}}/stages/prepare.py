"""Stage `prepare`: the raw table -> checked train/test splits in Parquet.

The raw file is the one data/schema.yaml names (`raw:`), read as its `format:` and `missing:` say.
It is checked against the schema first, and every problem is reported at once: each offending
column, how many rows, and a few example values with their row numbers. Rows without a target are
left out of both splits and written to `unlabeled.parquet`, for `make predict` to score.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from .. import schema, tasks
from ..common.errors import PipelineError, run_main
from ..common.files import write_atomic
from ..config import PrepareParams, load_params
from ..tables.table import TableFormat, read_table


def read_raw(path: Path, table: schema.Schema) -> pd.DataFrame:
    """Read the raw data as the schema says and check it against the schema; a PipelineError
    listing every problem. Another file than the schema's `raw:` (a test's small copy) is read in
    the format detected from it."""
    if not path.exists():
        raise PipelineError(
            f"{path} not found: fetch it with `dvc pull`, or bring your data with `make adopt DATA=... TARGET=...`"
        )
    own_file = path.resolve() == Path(table.raw).resolve()
    table_format = TableFormat.from_dict(table.format) if table.format and own_file else None
    frame = read_table(path, table_format, table.missing_texts())
    found = schema.problems(frame, table)
    if not found:
        labels = schema.labels_of(frame[table.target])
        if len(labels) < schema.MIN_ROWS:
            found = [
                f"{len(labels)} rows have a {table.target!r} ({len(frame) - len(labels)} have none); "
                f"at least {schema.MIN_ROWS} are needed to train and evaluate"
            ]
        elif problem := tasks.load(table.task).target_problem(labels):
            found = [f"column {table.target!r} {problem}"]
    if found:
        listed = "".join(f"\n  - {problem}" for problem in found)
        raise PipelineError(f"{path} does not match {schema.SCHEMA_FILE}:{listed}")
    return frame


def split(
    frame: pd.DataFrame, target: str, stratified: bool, params: PrepareParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out `test_size` of the rows (of each class, for classification), reproducibly from `seed`.

    pandas' sampling rather than scikit-learn's `train_test_split`: this stage then starts without
    importing scikit-learn, which takes longer than the whole split.
    """
    rows = frame.groupby(target, group_keys=False) if stratified else frame
    test = rows.sample(frac=params.test_size, random_state=params.seed)
    train = frame.drop(index=test.index)
    classes = pd.Index(frame[target].unique() if stratified else [])
    for name, part in (("test", test), ("train", train)):
        absent = classes.difference(part[target].unique())
        if part.empty or len(absent):
            lacking = "no rows" if part.empty else f"no rows of class {', '.join(map(repr, absent))}"
            raise PipelineError(
                f"prepare.test_size={params.test_size} leaves the {name} split with {lacking} "
                f"({len(frame)} rows in all); change prepare.test_size or add rows"
            )
    # Shuffled, so that row order carries nothing over from the raw file (often sorted by class).
    return train.sample(frac=1, random_state=params.seed), test.sample(frac=1, random_state=params.seed)


def mixed_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with each column that mixes numbers and text (a workbook's `101`, `A7`) as text, empty
    cells kept: Parquet holds one type per column. The model reads such a column as text anyway."""
    mixed = [
        name
        for name in frame.columns
        if frame[name].dtype == object and frame[name].dropna().map(type).nunique() > 1
    ]
    return frame.assign(**{name: schema.as_text(frame[name]) for name in mixed}) if mixed else frame


def prepare(
    raw_path: Path, out_dir: Path, params: PrepareParams, schema_path: Path = schema.SCHEMA_FILE
) -> tuple[int, int, int]:
    """Write `train.parquet` and `test.parquet` (the features and the target of the labeled rows)
    and `unlabeled.parquet` (every column but the target, of the rows without one) to `out_dir`;
    return their row counts."""
    table = schema.load(schema_path)
    raw = read_raw(raw_path, table)
    labeled = raw[table.target].notna()
    frame = raw.loc[labeled, table.features()].assign(**{table.target: schema.labels_of(raw[table.target])})
    train, test = split(frame, table.target, tasks.load(table.task).STRATIFIED, params)
    unlabeled = raw.loc[~labeled].drop(columns=table.target)
    for name, part in (("train", train), ("test", test), ("unlabeled", unlabeled)):
        part = mixed_as_text(part)
        write_atomic(out_dir / f"{name}.parquet", lambda path, part=part: part.to_parquet(path, index=False))
    return len(train), len(test), len(unlabeled)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schema", type=Path, required=True, help="the table's description (YAML)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the splits (Parquet)")
    args = parser.parse_args()
    params = load_params(schema_path=args.schema).prepare
    table = schema.load(args.schema)
    n_train, n_test, n_unlabeled = prepare(Path(table.raw), args.out, params, args.schema)
    print(f"prepare: {n_train} train rows, {n_test} test rows -> {args.out}")
    if n_unlabeled:
        print(
            f"prepare: {n_unlabeled:,} rows have no {table.target!r}: left out of training; once a version is "
            f"promoted (make promote), score them with "
            f"`make predict INPUT={args.out / 'unlabeled.parquet'} OUTPUT=unlabeled-scores.csv`"
        )


if __name__ == "__main__":
    run_main(main)
