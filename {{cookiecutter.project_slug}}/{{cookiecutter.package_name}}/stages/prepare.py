"""Stage `prepare`: raw CSV -> validated train/test splits in Parquet."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import yaml

from ..config import PrepareParams, load_params
from ..errors import PipelineError, run_main
from ..files import write_atomic
from ..task import STRATIFIED, TARGET, target_problem

SCHEMA_FILE = Path("data", "schema.yaml")


def required_features(schema_path: Path) -> list[str]:
    """The feature columns the schema file lists."""
    try:
        schema = yaml.safe_load(schema_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError(f"{schema_path} not found: it lists the raw data's feature columns") from None
    if not isinstance(schema, dict) or not isinstance(schema.get("features"), list):
        raise PipelineError(f"{schema_path} must have a list `features:` of column names")
    return [str(column) for column in schema["features"]]


def non_utf8_line(path: Path) -> str:
    """Where the file first stops being UTF-8, as "line N, byte 0x..": to report, not to read."""
    with open(path, "rb") as file:
        for number, line in enumerate(file, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as error:
                return f"line {number}, byte {line[error.start]:#x}"
    return "a character split at the end of the file"


def read_raw(path: Path, schema_path: Path = SCHEMA_FILE) -> pd.DataFrame:
    """Read the raw data and check it can be learned from: a UTF-8 CSV with the schema's columns,
    numeric and finite, no gaps."""
    if not path.exists():
        raise PipelineError(
            f"{path} not found: fetch it with `dvc pull`, or add your data with `dvc add {path}`"
        )
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise PipelineError(f"{path} is empty") from None
    except UnicodeDecodeError:
        raise PipelineError(
            f"{path} is not UTF-8 text ({non_utf8_line(path)}): save it as a UTF-8 CSV"
        ) from None
    except pd.errors.ParserError as error:
        raise PipelineError(f"{path} is not a well-formed CSV: {str(error).strip()}") from None
    if TARGET not in frame.columns:
        raise PipelineError(
            f"{path} has no column {TARGET!r} (the target); columns: {', '.join(frame.columns)}"
        )
    features = required_features(schema_path)
    missing = [column for column in features if column not in frame.columns]
    if missing:
        raise PipelineError(f"{path} lacks columns {', '.join(missing)} that {schema_path} requires")
    unexpected = [column for column in frame.columns if column not in (*features, TARGET)]
    if unexpected:
        raise PipelineError(
            f"{path} has columns {', '.join(unexpected)} that {schema_path} does not list; "
            "add them there to use them as features, or drop them"
        )
    if len(frame) == 0:
        raise PipelineError(f"{path} has a header but no rows")
    not_numeric = [column for column in frame.columns if not pd.api.types.is_numeric_dtype(frame[column])]
    if not_numeric:
        raise PipelineError(f"{path}: columns {', '.join(not_numeric)} must be numeric")
    with_gaps = [column for column in frame.columns if frame[column].isna().any()]
    if with_gaps:
        raise PipelineError(f"{path}: columns {', '.join(with_gaps)} have missing values")
    infinite = [column for column in frame.columns if frame[column].abs().eq(float("inf")).any()]
    if infinite:
        raise PipelineError(f"{path}: columns {', '.join(infinite)} have infinite values")
    problem = target_problem(frame[TARGET])
    if problem:
        raise PipelineError(f"{path}: column {TARGET!r} {problem}")
    return frame


def split(frame: pd.DataFrame, params: PrepareParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out `test_size` of the rows (of each class, for classification), reproducibly from `seed`.

    pandas' sampling rather than scikit-learn's `train_test_split`: this stage then starts without
    importing scikit-learn, which takes longer (~0.7 s) than the whole split.
    """
    rows = frame.groupby(TARGET, group_keys=False) if STRATIFIED else frame
    test = rows.sample(frac=params.test_size, random_state=params.seed)
    train = frame.drop(index=test.index)
    classes = pd.Index(frame[TARGET].unique() if STRATIFIED else [])
    for name, part in (("test", test), ("train", train)):
        absent = classes.difference(part[TARGET].unique())
        if part.empty or len(absent):
            lacking = "no rows" if part.empty else f"no rows of class {', '.join(map(repr, absent))}"
            raise PipelineError(
                f"prepare.test_size={params.test_size} leaves the {name} split with {lacking} "
                f"({len(frame)} rows in all); change prepare.test_size or add rows"
            )
    # Shuffled, so that row order carries nothing over from the raw file (often sorted by class).
    return train.sample(frac=1, random_state=params.seed), test.sample(frac=1, random_state=params.seed)


def prepare(
    raw_path: Path, out_dir: Path, params: PrepareParams, schema_path: Path = SCHEMA_FILE
) -> tuple[int, int]:
    """Write `train.parquet` and `test.parquet` to `out_dir`; return their row counts."""
    train, test = split(read_raw(raw_path, schema_path), params)
    for name, part in (("train", train), ("test", test)):
        write_atomic(out_dir / f"{name}.parquet", lambda path, part=part: part.to_parquet(path, index=False))
    return len(train), len(test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", type=Path, required=True, help="raw CSV file")
    parser.add_argument("--schema", type=Path, required=True, help="the feature columns required (YAML)")
    parser.add_argument("--out", type=Path, required=True, help="folder for train.parquet and test.parquet")
    args = parser.parse_args()
    params = load_params().prepare
    n_train, n_test = prepare(args.raw, args.out, params, args.schema)
    print(f"prepare: {n_train} train rows, {n_test} test rows -> {args.out}")


if __name__ == "__main__":
    run_main(main)
