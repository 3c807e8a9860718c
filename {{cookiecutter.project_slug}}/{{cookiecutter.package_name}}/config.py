"""Read `params.yaml` once into typed, validated settings.

Every tunable of the pipeline lives in `params.yaml`, one section per stage. A bad value stops
the stage before any work with one line naming the key, e.g.
`params.yaml: train.n_estimators must be greater than 0, got -5`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from . import schema, tasks
from .common.errors import PipelineError
from .common.files import read_yaml
from .common.project import MODEL_NAME_PATTERN

PARAMS_FILE = Path("params.yaml")


class Section(BaseModel):
    """A section of params.yaml: no unknown keys, no silent type coercion, read-only."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PrepareParams(Section):
    test_size: float = Field(gt=0, lt=1, description="share of rows held out for evaluation")
    seed: int = Field(description="seed of the train/test split")


class TrainParams(Section):
    model: Literal["random_forest", "gradient_boosting", "xgboost", "lightgbm", "linear"]
    max_categories: int = Field(ge=2, le=255, description="codes per category column; rarer values share one")
    n_estimators: int = Field(gt=0, description="number of trees (boosting iterations)")
    max_depth: int | None = Field(gt=0, description="depth limit of each tree; null for none (xgboost: 6)")
    min_samples_leaf: int = Field(gt=0, description="fewest training rows in a leaf")
    regularization: float = Field(gt=0, description="linear: strength of the L2 penalty")
    seed: int = Field(description="seed of the model's randomness")
    live_run: bool = Field(description="open the MLflow run as training starts: its curve live in the UI")


class EvaluateParams(Section):
    top_features: int = Field(gt=0, description="features shown in the importance plot")
    positive_class: str | int | bool | None = Field(
        description="two classes: the one scored; null: the rarer"
    )


class RegisterParams(Section):
    model_name: str = Field(pattern=f"^{MODEL_NAME_PATTERN}$")
    beat_baseline: bool = Field(description="register only a model better than the trivial baseline")
    gate: dict[str, float] = Field(description="metric -> threshold the model must reach")

    @model_validator(mode="after")
    def _gate_names_known_metrics_in_range(self, info: ValidationInfo) -> RegisterParams:
        metrics = (info.context or {}).get("metrics", {})  # the task's, from load_params
        for name, threshold in self.gate.items():
            if name not in metrics:
                raise ValueError(f"gate.{name} is not a metric of this task; use one of {', '.join(metrics)}")
            metric = metrics[name]
            if not metric.low <= threshold <= metric.high:
                raise ValueError(f"gate.{name} must lie in [{metric.low}, {metric.high}], got {threshold}")
        return self


class PromoteParams(Section):
    must_beat_production: bool = Field(description="refuse a candidate no better than production")


class Range(Section):
    """A range of values to search: integers when both ends are, else numbers; `log` for a log scale."""

    low: int | float
    high: int | float
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.low < self.high:
            raise ValueError(f"low must be below high, got {self.low} and {self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log scale needs low > 0, got {self.low}")
        return self


class TuneParams(Section):
    metric: str | None = Field(description="the objective; null: the task's first ranking metric")
    space: dict[str, Range | list[str | int | float | bool]]
    storage: str = Field(description="the study's database URL; empty: .optuna/<study>.jsonl")
    grace_period: int = Field(ge=10, description="seconds without a heartbeat before a trial is retried")

    @model_validator(mode="after")
    def _space_of_train_params(self, info: ValidationInfo) -> TuneParams:
        metrics = (info.context or {}).get("metrics", {})
        if self.metric is not None and metrics and self.metric not in metrics:
            raise ValueError(
                f"metric {self.metric!r} is not a metric of this task; use one of {', '.join(metrics)}"
            )
        if not self.space:
            raise ValueError(
                "space names no param; give one or more, e.g. train.max_depth: {low: 2, high: 16}"
            )
        for name, values in self.space.items():
            section, _, key = name.partition(".")
            if section != "train" or key not in TrainParams.model_fields:
                raise ValueError(
                    f"space.{name} is not a param of train; use train.<{'|'.join(TrainParams.model_fields)}>"
                )
            if isinstance(values, list) and len(values) < 2:
                raise ValueError(f"space.{name} lists {len(values)} choice(s); give two or more, or a range")
        return self


class Params(Section):
    prepare: PrepareParams
    train: TrainParams
    evaluate: EvaluateParams
    # `register` would shadow BaseModel.register (from ABCMeta): read the section under another name.
    registry: RegisterParams = Field(alias="register")
    promote: PromoteParams
    tune: TuneParams

    def flat(self, *sections: str) -> dict[str, Any]:
        """The given sections as `section.key` -> value, the way DVC and MLflow show params."""
        return {
            f"{section}.{key}": value
            for section in sections
            for key, value in getattr(self, section).model_dump().items()
        }


def load_params(path: Path = PARAMS_FILE, schema_path: Path = schema.SCHEMA_FILE) -> Params:
    """Read and validate `path` (the gate's metrics against the task of `schema_path`); raise
    PipelineError naming the first bad key."""
    raw = read_yaml(path, "run the stages from the project root")
    if not isinstance(raw, dict):
        raise PipelineError(f"{path} must be a mapping of sections (prepare, train, ...), got {raw!r}")
    metrics = tasks.load(schema.load(schema_path).task).METRICS
    try:
        return Params.model_validate(raw, context={"metrics": metrics})
    except ValidationError as error:
        raise PipelineError(f"{path}: {describe(error)}") from None


def is_union_member(part: str | int) -> bool:
    """Whether a part of pydantic's error location names the member of a union it tried (a range
    or a list of choices in tune.space), rather than a key."""
    return isinstance(part, str) and ("[" in part or part == "Range")


def describe(error: ValidationError) -> str:
    """Turn pydantic's first error into `key.path must be ..., got value`."""
    first = error.errors()[0]
    # Without the union member pydantic tried (e.g. `Range` in tune.space.<param>.Range).
    key = ".".join(str(part) for part in first["loc"] if not is_union_member(part))
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        return f"{key} is missing"
    if first["type"] == "extra_forbidden":
        return f"{key} is not a known setting (a typo?)"
    if message.startswith(("gate.", "space", "metric ")):
        return f"{key.removesuffix('.gate')}.{message}" if key else message
    if first["type"] == "value_error":
        return f"{key}: {message}"
    message = message.replace("Input should be", "must be")
    return f"{key} {message}, got {first['input']!r}"
