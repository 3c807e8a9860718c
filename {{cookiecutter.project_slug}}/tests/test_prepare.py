"""Stage `prepare` on tiny data: reproducible, stratified splits, and unusable data refused with
every problem named."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import TABLE, TARGET, TASK

from {{ cookiecutter.package_name }}.common.errors import PipelineError
from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.stages.prepare import prepare


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
