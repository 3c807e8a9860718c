"""The model's file (`models/model.skops`, and MLflow's copy): skops's format, never a pickle.

Loading a pickle runs whatever code the file names, and these files come from shared storage (the
DVC remote and MLflow's artifact store, which every teammate's key may write). skops reads only
the types it is told to trust; this module tells it the few that model.py's Pipelines hold beyond
skops's own safe list (TRUSTED_TYPES, kept here, not the list stored beside a model), and refuses
a file with any other in one line, before anything in it runs.

skops names the arrays inside its zip after their objects' memory addresses and stamps each with
the time: `save` renumbers and re-stamps them, so the same model gives the same bytes (and the same
DVC hash) in every run.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common.errors import PipelineError
from .common.files import write_atomic

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# What skops.io.get_untrusted_types lists for a fitted Pipeline of model.py, whatever train.model
# and the columns (tests/test_model_file.py fits each); the project's own types are added below.
# XGBoost's and LightGBM's boosters restore themselves from their libraries' model formats (bytes
# and text that describe trees), not from code.
TRUSTED_TYPES = (
    "collections.OrderedDict",  # LightGBM's record of its params
    "functools.partial",  # HistGradientBoosting's input check; what it wraps is checked apart
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "sklearn.utils.validation.check_array",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBRegressor",
)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the zip format's earliest date, for every entry


def trusted_types() -> set[str]:
    """TRUSTED_TYPES and the project's own: the date step (date_features.DateParts) and XGBoost's
    classifier of any labels (named, not imported: XGBoost loads only for an XGBoost model)."""
    from .date_features import DateParts

    package = __package__.split(".")[0]
    own = (
        f"{DateParts.__module__}.{DateParts.__qualname__}",
        f"{package}.xgboost_classifier.XGBoostClassifier",
    )
    return {*TRUSTED_TYPES, *own}


def canonical(data: bytes) -> bytes:
    """skops's zip `data` with its arrays named 0.npy, 1.npy ... in the order the schema first
    names them, its object ids renumbered likewise, and fixed dates: the same model, same bytes."""
    ids: dict[int, int] = {}
    names: dict[str, str] = {}

    def renumber(node: Any) -> Any:
        if isinstance(node, list):
            return [renumber(item) for item in node]
        if not isinstance(node, dict):
            return node
        renumbered = {key: renumber(value) for key, value in node.items()}
        if isinstance(node.get("__id__"), int):
            renumbered["__id__"] = ids.setdefault(node["__id__"], len(ids))
        if isinstance(node.get("file"), str):
            suffix = Path(node["file"]).suffix
            renumbered["file"] = names.setdefault(node["file"], f"{len(names)}{suffix}")
        return renumbered

    with zipfile.ZipFile(io.BytesIO(data)) as source:
        schema = renumber(json.loads(source.read("schema.json")))
        output = io.BytesIO()
        with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as target:
            entries = [("schema.json", json.dumps(schema, indent=2).encode())]
            entries += [(new, source.read(old)) for old, new in names.items()]
            for name, content in entries:
                entry = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                entry.compress_type, entry.create_system = zipfile.ZIP_DEFLATED, 3  # 3: Unix, anywhere
                entry.external_attr = 0o644 << 16
                target.writestr(entry, content)
    return output.getvalue()


def save(model: Pipeline, path: Path) -> None:
    """Write the fitted `model` to `path` in skops's format, compressed and byte-for-byte
    reproducible, atomically."""
    import skops.io

    data = canonical(skops.io.dumps(model))
    write_atomic(path, lambda temporary: temporary.write_bytes(data))


def load(path: Path) -> Pipeline:
    """The model in the skops file `path`; a PipelineError, before anything in it runs, when it
    holds a type this project does not trust or is no skops file (a pickle, say)."""
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as error:
        raise PipelineError(
            f"{path} is not a model file in skops's format ({error}); a pickle is never loaded: "
            "run `dvc repro` to train the model again"
        ) from None
    refused = sorted(set(untrusted) - trusted_types())
    if refused:
        raise PipelineError(
            f"{path} holds types this project does not trust: {', '.join(refused)}; it was not made "
            "by this project's train stage: run `dvc repro` (or, if you wrote them, add them to "
            "model_file.TRUSTED_TYPES)"
        )
    return skops.io.load(path, trusted=untrusted)


def load_logged(model_dir: Path) -> Pipeline:
    """The model of an MLflow model folder (its MLmodel's sklearn flavor, skops format), read with
    this project's trusted types: not with the list MLflow stored beside it."""
    import yaml

    flavor = yaml.safe_load((model_dir / "MLmodel").read_text(encoding="utf-8"))["flavors"].get("sklearn", {})
    if flavor.get("serialization_format") != "skops":
        raise PipelineError(
            f"{model_dir} holds no model in skops's format (serialization_format: "
            f"{flavor.get('serialization_format')!r}); a pickle is never loaded: register it again with `dvc repro`"
        )
    file = (model_dir / flavor["pickled_model"]).resolve()
    if not file.is_relative_to(model_dir.resolve()):
        raise PipelineError(
            f"{model_dir}/MLmodel names a model file outside its folder: {flavor['pickled_model']}"
        )
    return load(file)
