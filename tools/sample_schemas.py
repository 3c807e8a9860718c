"""Write the bundled samples' schemas, `data/raw/<sample>.schema.yaml` in the template, with the
generated package's own inference (`ops.adopt.describe`, what generation runs): the hook then needs no pandas to set up a
sample project. Run after changing schema.py or a sample: `python tools/sample_schemas.py`;
tests/test_datasets.py checks that they are current.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

TEMPLATE = Path(__file__).resolve().parents[1]
PROJECT = TEMPLATE / "{{cookiecutter.project_slug}}"
RAW_DIR = PROJECT / "data" / "raw"


def template_package() -> ModuleType:
    """The generated project's package, imported from the template as `template_package`."""
    folder = PROJECT / "{{cookiecutter.package_name}}"
    spec = importlib.util.spec_from_file_location(
        "template_package", folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = package
    spec.loader.exec_module(package)
    return package


def sample_schema_text(sample: Path) -> str:
    """The schema file that inference writes for the bundled sample CSV `sample`."""
    template_package()
    schema = importlib.import_module("template_package.schema")
    adopt = importlib.import_module("template_package.ops.adopt")
    table, notes = adopt.describe(str(sample), sample.name, "target", "auto")
    if notes:
        raise SystemExit(f"{sample.name}: {'; '.join(notes)}")
    out = Path(sys.modules["template_package"].__path__[0]).parent / ".sample-schema.tmp"
    try:
        schema.dump(table, out)
        return out.read_text(encoding="utf-8")
    finally:
        out.unlink(missing_ok=True)


def main() -> None:
    for sample in sorted(RAW_DIR.glob("*.csv")):
        path = sample.with_name(sample.stem + ".schema.yaml")
        path.write_text(sample_schema_text(sample), encoding="utf-8")
        print(f"wrote {path.relative_to(TEMPLATE)}")


if __name__ == "__main__":
    main()
