"""experiments.compare: a column of MLflow's runs table, also when no run has it."""

from __future__ import annotations

import pandas as pd

from {{ cookiecutter.package_name }}.experiments.compare import column


def test_a_column_the_runs_have_is_theirs_and_one_they_lack_is_all_missing() -> None:
    runs = pd.DataFrame(
        {"run_id": ["a1", "b2", "c3"], "tags.git_commit": ["1234567abc", None, "89abcdef01"]}, index=[4, 7, 9]
    )
    pd.testing.assert_series_equal(column(runs, "tags.git_commit"), runs["tags.git_commit"])
    missing = column(runs, "metrics.r2")  # e.g. a metric added to the task after these runs
    assert list(missing.index) == [4, 7, 9] and missing.isna().all()
    assert missing.fillna("-").tolist() == ["-", "-", "-"]  # usable as compare uses it
    assert column(runs.iloc[:0], "tags.dvc_exp_name").empty
