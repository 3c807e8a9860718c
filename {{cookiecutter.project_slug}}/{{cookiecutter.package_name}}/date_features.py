"""Dates as numbers the model learns from: year, month, day, weekday, day of year, and the hour.

The model takes a date column as raw text (schema.conform), the same text predict and the Bento
receive, and parses it itself with the column's `format` from data/schema.yaml. A cell that format
can't read is tried as an ISO 8601 date (what a Parquet or Excel timestamp becomes as text); one
that is still no date, or an empty cell, gives empty parts, which the trees take as missing and
`linear` fills. A time with a UTC offset counts in its own wall-clock time (08:00+02:00 is hour 8),
also when the offset changes between rows with daylight saving time.

This module imports scikit-learn as it loads. Only the model's functions import it, and loading a
fitted model that holds a DateParts, so reading params stays fast.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

ISO8601 = "ISO8601"
# Each part's name -> pandas' .dt accessor that gives it (weekday: Monday is 0).
ACCESSORS = {
    "year": "year",
    "month": "month",
    "day": "day",
    "weekday": "day_of_week",
    "day_of_year": "day_of_year",
    "hour": "hour",
}
PARTS = ("year", "month", "day", "weekday", "day_of_year")  # of every date; `hour` only of times
CYCLES = {"month": 12, "weekday": 7, "hour": 24}  # parts that wrap around, and their period
ISO_DATE = r"\s*\d{4}-\d\d-\d\d"  # what the ISO 8601 fallback reads (parse_dates)
UTC_OFFSET = re.compile(r"([+-])(\d\d):?(\d\d)$")  # at the end of a time: +02:00, -0500 (Z: none)


class DateParts(TransformerMixin, BaseEstimator):
    """Date columns (text) -> their parts as floats, named `<column>_<part>`; `hour` only for a
    column whose training data has times of day. `cyclic` adds the sine and cosine of month,
    weekday and hour, so a linear model can learn "summer" or "night" (December is next to January).

    `formats`: each column's format for pd.to_datetime (strftime codes, or ISO8601), in order.
    """

    def __init__(self, formats: Sequence[str | None] = (), cyclic: bool = False) -> None:
        self.formats = formats
        self.cyclic = cyclic

    def fit(self, X: pd.DataFrame, y: object = None) -> DateParts:
        self._learn(X, self._dates(X))
        return self

    def fit_transform(self, X: pd.DataFrame, y: object = None) -> np.ndarray:
        dates = self._dates(X)  # parsed once, not once to fit and again to transform
        self._learn(X, dates)
        return self._parts(dates, len(X))

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        return self._parts(self._dates(X), len(X))

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        if input_features is None:
            input_features = getattr(self, "feature_names_in_", [f"x{i}" for i in range(self.n_features_in_)])
        return np.asarray(
            [
                f"{column}_{part}"
                for column, with_hour in zip(input_features, self.with_hour_, strict=True)
                for part in part_names(with_hour, self.cyclic)
            ],
            dtype=object,
        )

    def _dates(self, X: pd.DataFrame) -> list[pd.Series]:
        """Each column parsed with its format (see parse_dates), with a fresh row index."""
        arrays = (
            [X.iloc[:, position].to_numpy() for position in range(X.shape[1])]
            if isinstance(X, pd.DataFrame)
            else list(np.asarray(X, dtype=object).T)
        )
        if len(arrays) != len(self.formats):
            raise ValueError(f"DateParts has {len(self.formats)} formats for {len(arrays)} columns")
        return [
            parse_dates(pd.Series(array, dtype=object), fmt)
            for array, fmt in zip(arrays, self.formats, strict=True)
        ]

    def _learn(self, X: pd.DataFrame, dates: list[pd.Series]) -> None:
        """The fitted attributes: the input's names, and which columns have times of day."""
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray([str(name) for name in X.columns], dtype=object)
        self.n_features_in_ = len(dates)
        self.with_hour_ = [has_times(column) for column in dates]

    def _parts(self, dates: list[pd.Series], rows: int) -> np.ndarray:
        blocks = [
            date_parts(column, with_hour, self.cyclic)
            for column, with_hour in zip(dates, self.with_hour_, strict=True)
        ]
        return np.hstack(blocks) if blocks else np.empty((rows, 0))


def part_names(with_hour: bool, cyclic: bool) -> list[str]:
    """The parts of one date column, in the order date_parts gives them."""
    parts = [*PARTS, "hour"] if with_hour else list(PARTS)
    if cyclic:
        parts += [f"{part}_{wave}" for part in CYCLES if part in parts for wave in ("sin", "cos")]
    return parts


def date_parts(dates: pd.Series, with_hour: bool, cyclic: bool) -> np.ndarray:
    """One row per date, one float column per part (NaN where the date is missing)."""
    names = part_names(with_hour, cyclic)
    parts = np.empty((len(dates), len(names)))
    for position, name in enumerate(names):
        if name in ACCESSORS:
            parts[:, position] = getattr(dates.dt, ACCESSORS[name]).to_numpy(dtype="float64", na_value=np.nan)
        else:  # a wave of a part before it: the angle of the part on its cycle
            part, wave = name.rsplit("_", 1)
            angle = 2 * np.pi * parts[:, names.index(part)] / CYCLES[part]
            parts[:, position] = np.sin(angle) if wave == "sin" else np.cos(angle)
    return parts


def has_times(dates: pd.Series) -> bool:
    """Whether any date has a time of day other than midnight."""
    moments = dates.to_numpy()
    moments = moments[~np.isnat(moments)]
    return bool((moments != moments.astype("datetime64[D]")).any())


def parse_dates(values: pd.Series, fmt: str | None) -> pd.Series:
    """`values` as naive datetimes in their own wall-clock time; NaT where they are no date."""
    dates = wall_clock(values, fmt)
    unread = dates.isna() & values.notna()
    if fmt != ISO8601 and unread.any():
        candidates = values[unread]
        # Only whole ISO dates: a bare "2020" read as ISO would invent its month and day.
        iso = candidates[candidates.astype(str).str.match(ISO_DATE)]
        if len(iso):
            dates[iso.index] = wall_clock(iso, ISO8601)
    return dates


def wall_clock(values: pd.Series, fmt: str | None) -> pd.Series:
    """pd.to_datetime with `fmt`, each time as its clock showed it (the UTC offset dropped)."""
    dates = to_datetime(values, fmt)
    if dates is None:  # the UTC offsets differ between rows: each moment in UTC, plus its offset
        dates = to_datetime(values, fmt, utc=True).dt.tz_localize(None) + utc_offsets(values)
    return dates.dt.tz_localize(None) if dates.dt.tz is not None else dates


def utc_offsets(values: pd.Series) -> pd.Series:
    """Each time's UTC offset written at its end (`+02:00`, `-0500`) as a duration; zero without one
    (`Z`, or an offset elsewhere in the text, which leaves that time in UTC)."""
    ends = values.astype(str).str.slice(-6)  # the offset if any: few distinct values to look at
    minutes = {end: offset_minutes(end) for end in ends.dropna().unique()}
    return pd.to_timedelta(ends.map(minutes).fillna(0), unit="min")


def offset_minutes(text: str) -> int:
    """The UTC offset at the end of `text` in minutes, 0 without one."""
    match = UTC_OFFSET.search(text)
    if not match:
        return 0
    sign = -1 if match[1] == "-" else 1
    return sign * (int(match[2]) * 60 + int(match[3]))


def to_datetime(values: pd.Series, fmt: str | None, utc: bool = False) -> pd.Series | None:
    """pd.to_datetime with `fmt`, unreadable values as NaT; None when rows hold different UTC offsets
    and `utc` is false (pandas 3 refuses them, pandas 2 returns objects)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 2's mixed-offset warning; "could not infer format"
        try:
            dates = pd.to_datetime(values, format=fmt, errors="coerce", utc=utc)
        except ValueError:
            return None
    return dates if pd.api.types.is_datetime64_any_dtype(dates) else None
