"""date_features: the parts of a date, read with the column's format, as the model takes them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.date_features import DateParts


def test_date_parts_of_a_day_and_of_times_in_their_own_wall_clock() -> None:
    days = pd.DataFrame({"day": ["2024/03/01", "2023/12/31", "not a date", "", None]})
    parts = DateParts(["%Y/%m/%d"]).fit(days)
    assert list(parts.get_feature_names_out()) == [
        "day_year",
        "day_month",
        "day_day",
        "day_weekday",
        "day_day_of_year",
    ]
    values = parts.transform(days)
    # 1 March 2024 is a Friday (Monday is 0), day 31 + 29 + 1 of a leap year.
    assert values[:2].tolist() == [[2024, 3, 1, 4, 61], [2023, 12, 31, 6, 365]]
    assert np.isnan(values[2:]).all()
    # The day summer time starts: 01:30 winter time, then 03:30 summer time; and a time in UTC.
    times = pd.DataFrame(
        {"when": ["2021-03-28T01:30:00+01:00", "2021-03-28T03:30:00+02:00", "2021-03-28T22:00:00Z"]}
    )
    parts = DateParts(["ISO8601"]).fit(times)
    hour = list(parts.get_feature_names_out()).index("when_hour")
    assert parts.transform(times)[:, hour].tolist() == [1, 3, 22]
