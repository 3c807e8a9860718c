"""Validate every option before cookiecutter writes anything.

Each problem is reported on one line naming the option, the bad value and what is allowed.
On any problem the hook exits non-zero, and cookiecutter removes the project folder it made.
The checks are plain functions of the options, so `tests/test_hooks.py` imports this file.
"""

from __future__ import annotations

import importlib.util
import json
import keyword
import os
import re
import sys
import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath
from types import ModuleType
from urllib.parse import ParseResult, urlparse

SUPPORTED_PYTHON = ("3.11", "3.12", "3.13")
# The generated package's source in the template, whose standard-library modules this hook loads:
# a dataset URL and the model's name are checked with the rules the package applies to them later.
PACKAGE_SOURCE = Path(r"""{{ package_source }}""")
# Used with fullmatch: `$` in re.match lets a trailing newline through.
SLUG_PATTERN = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
PACKAGE_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
S3_BUCKET_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
FREE_TEXT_OPTIONS = ("project_name", "author_name", "description")
# The team stack's bucket for MLflow's artifacts (docker-compose.yml's --artifacts-destination).
STACK_ARTIFACT_BUCKET = "mlflow"
# Characters no one-line text holds: controls (line breaks, tab, DEL), line and paragraph
# separators, and lone surrogates (no UTF-8 file can hold one). A line break in the description or
# the author breaks the package's metadata (setuptools cuts the summary at it).
NOT_ONE_LINE = frozenset({"Cc", "Zl", "Zp", "Cs"})
# Import names a generated package must not shadow: every module its code and tests import
# (tests/test_options.py checks the list against them), and the tools around them.
DEPENDENCY_MODULES = frozenset({
    "dvc", "dvc_render", "dvclive", "mlflow", "sklearn", "pandas", "numpy", "scipy", "yaml", "pydantic",
    "pyarrow", "joblib", "skops", "matplotlib", "optuna", "bentoml", "sqlalchemy", "fsspec", "s3fs",
    "psutil", "python_calamine", "openpyxl", "zstandard", "threadpoolctl", "nbformat", "nbclient", "xgboost",
    "lightgbm",
    "hypothesis", "pytest", "ruff", "boto3", "botocore", "cookiecutter", "setuptools", "pip", "git", "tests",
})  # fmt: skip


def package_module(relative: str) -> ModuleType:
    """A standard-library module of the generated package, loaded from its file in the template.
    Cookiecutter runs a rendered copy of this hook from a temporary file, and Jinja names the
    package's folder (template_paths.TemplatePaths); the tests import this file as it is, from
    hooks/, beside template_paths.py."""
    source = PACKAGE_SOURCE
    if not source.is_absolute():  # not rendered
        source = load_file(Path(__file__).resolve().parents[1] / "template_paths.py").PACKAGE_SOURCE
    return load_file(source / relative)


def load_file(path: Path) -> ModuleType:
    """The Python file at `path`, imported as a module of its own name."""
    spec = importlib.util.spec_from_file_location(f"template_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.dont_write_bytecode = True  # no __pycache__ in the template: it would be copied into projects
    spec.loader.exec_module(module)
    return module


urls = package_module("tables/urls.py")
project = package_module("common/project.py")  # paths and names the package uses too


def check_options(options: dict) -> list[str]:
    """Return one message per invalid option (an empty list when all are valid)."""
    problems: list[str] = []

    def bad(option: str, value: str, allowed: str) -> None:
        # Shown redacted: a URL's password or signature must not reach the terminal or CI's log.
        problems.append(f"{option}={urls.redacted(value)!r} is not valid: {allowed}")

    for option in FREE_TEXT_OPTIONS:
        if not is_one_line(options[option]):
            bad(option, options[option], "keep it to one line: no line breaks, tabs or control characters")
    if is_one_line(options["project_name"]) and not options["project_name"].strip():
        bad("project_name", options["project_name"], "give the project a name")
    slug = options["project_slug"]
    if not slug and options["project_name"].strip():
        bad(
            "project_name",
            options["project_name"],
            "nothing of it is left for a folder name once accents, punctuation and symbols are dropped; "
            "use letters or digits, or give project_slug=...",
        )
    elif not SLUG_PATTERN.fullmatch(slug):
        bad("project_slug", slug, "use lowercase letters, digits and single dashes (e.g. wine-quality)")
    package = options["package_name"]
    if not PACKAGE_PATTERN.fullmatch(package) or not package.isidentifier():
        bad(
            "package_name",
            package,
            "use a Python identifier of lowercase letters, digits and underscores, starting with a letter",
        )
    elif keyword.iskeyword(package) or keyword.issoftkeyword(package):
        bad("package_name", package, "it is a Python keyword; pick another name")
    elif package in sys.stdlib_module_names or package in DEPENDENCY_MODULES:
        bad(
            "package_name",
            package,
            "it would shadow the module of that name the project imports; pick another name",
        )
    if options["python_version"] not in SUPPORTED_PYTHON:
        bad("python_version", options["python_version"], f"choose one of {', '.join(SUPPORTED_PYTHON)}")

    datasets, models = options["_datasets"], ("random_forest", "gradient_boosting", "linear")
    dataset, model, task = options["dataset"], options["model"], options["task"]
    data_problem = dataset_problem(dataset, datasets)
    if data_problem:
        bad("dataset", dataset, data_problem)
    if not options["target"].strip():
        bad("target", options["target"], "name the column to predict")
    elif dataset in datasets and options["target"] != "target":
        bad("target", options["target"], f"the sample {dataset!r} predicts the column 'target'")
    if task not in ("auto", "classification", "regression"):
        bad("task", task, "choose auto, classification or regression")
    elif dataset in datasets and task not in ("auto", datasets[dataset]["task"]):
        bad("task", task, f"the sample {dataset!r} is a {datasets[dataset]['task']} task; choose auto")
    if model not in models:
        bad("model", model, f"choose one of {', '.join(models)}")

    if not re.fullmatch(project.MODEL_NAME_PATTERN, options["registered_model_name"]):
        bad(
            "registered_model_name",
            options["registered_model_name"],
            "use letters, digits, '.', '_' and '-' (it goes into models:/<name>@<alias> URIs)",
        )
    uri_problem = tracking_uri_problem(options["mlflow_tracking_uri"])
    if uri_problem:
        bad("mlflow_tracking_uri", options["mlflow_tracking_uri"], uri_problem)
    remote_problem = remote_url_problem(options["dvc_remote_url"])
    if not remote_problem and options["team_stack"] == "yes":
        remote_problem = shared_bucket_problem(options["dvc_remote_url"])
    if remote_problem:
        bad("dvc_remote_url", options["dvc_remote_url"], remote_problem)
    endpoint_problem = endpoint_url_problem(options["s3_endpoint_url"], options["dvc_remote_url"], dataset)
    if endpoint_problem:
        bad("s3_endpoint_url", options["s3_endpoint_url"], endpoint_problem)
    if options["team_stack"] not in ("no", "yes"):
        bad("team_stack", options["team_stack"], "choose yes or no")
    if options["ci"] not in ("github", "none"):
        bad("ci", options["ci"], "choose github or none")
    return problems


def is_one_line(text: str) -> bool:
    """Whether `text` is a single line of printable text (see NOT_ONE_LINE)."""
    return not any(unicodedata.category(character) in NOT_ONE_LINE for character in text)


def url_parts(url: str) -> ParseResult | None:
    """`url` as urllib reads it, or None where it cannot: an unclosed '[' (of an IPv6 address), a
    port that is not a number from 0 to 65535."""
    try:
        parsed = urlparse(url)
        parsed.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    return parsed


def invocation_dir() -> Path:
    """Where cookiecutter was run (the shell's PWD): relative data paths are taken from there. Hooks
    run inside the new project folder, one below it unless `--output-dir` says otherwise."""
    pwd = os.environ.get("PWD", "")
    return Path(pwd) if pwd and Path(pwd).is_dir() else Path.cwd().parent


def dataset_problem(dataset: str, samples: dict) -> str | None:
    """Say what is wrong with `dataset`, or None when it is a sample, an existing local file, or an
    http(s):// or s3:// URL. Reading and checking the table is the post-generation hook's work."""
    if dataset in samples:
        return None
    hint = (
        f"a sample ({', '.join(samples)}), or your table: a CSV/TSV (any delimiter, compressed too), "
        "Parquet or Excel path, https:// or s3:// URL"
    )
    if not dataset.strip():
        return f"give {hint}"
    # `dvc import-url` writes the URL into the raw table's .dvc file, which is committed to git.
    if urls.userinfo_span(dataset):
        if urls.is_s3(dataset):
            return (
                "the URL holds credentials, which would be written into the project's .dvc file, in git; "
                "give s3://bucket/key and set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) "
                "in the environment, or download the file and give its path"
            )
        return (
            "the URL holds a user or password, which would be written into the project's .dvc file, "
            "in git; download the file and give its path"
        )
    if secrets := urls.secret_parameters(dataset):
        return (
            f"the URL holds a signature or secret ({', '.join(name for name, _, _ in secrets)}), which "
            "would be written into the project's .dvc file, in git (and a signature expires); "
            "download the file and give its path"
        )
    if not is_one_line(dataset):
        return "a path or URL holds no line breaks, tabs or control characters"
    parsed = url_parts(dataset)
    if parsed is None:
        return f"the URL's host or port is malformed; give {hint}"
    if parsed.scheme in ("http", "https"):
        return None if parsed.hostname else f"the URL has no host; give {hint}"
    if parsed.scheme == "s3":
        return None if parsed.netloc and parsed.path.strip("/") else "an S3 table is s3://bucket/key"
    if parsed.scheme and len(parsed.scheme) > 1:  # not a Windows drive letter
        return f"the scheme {parsed.scheme}:// is not supported; give {hint}"
    path = Path(dataset).expanduser()
    path = path if path.is_absolute() else invocation_dir() / path
    if path.is_dir():
        return f"{path} is a folder; name the table's file"
    if not path.is_file():
        return f"no such file ({path}); give {hint}"
    return None


def tracking_uri_problem(uri: str) -> str | None:
    """Say what is wrong with an MLflow tracking URI, or None when it is empty or a server URL."""
    if uri == "":
        return None
    if urls.userinfo_span(uri):
        return "credentials do not belong in the URI; set MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD in the environment"
    parsed = url_parts(uri)
    if parsed is None:
        return "the host or port is malformed (a port is a number from 1 to 65535)"
    if parsed.scheme not in ("http", "https") or not parsed.hostname or any(c.isspace() for c in uri):
        return "leave it empty for the SQLite store in the project, or give a server URL like http://127.0.0.1:5050"
    return None


def shared_bucket_problem(url: str) -> str | None:
    """A team stack's DVC remote in the bucket of MLflow's artifacts: refused (each service's key
    would write the other's objects, and a cleanup of one would delete the other's)."""
    if not urls.is_s3(url) or url.strip()[5:].split("/")[0] != STACK_ARTIFACT_BUCKET:
        return None
    return (
        f"bucket {STACK_ARTIFACT_BUCKET!r} holds the team stack's MLflow artifacts: give DVC a bucket "
        "of its own, such as s3://dvc/<project_slug>"
    )


def remote_url_problem(url: str) -> str | None:
    """Say what is wrong with a DVC remote URL, or None when it is empty, s3://bucket/… or an absolute path."""
    if url == "":
        return None
    if urls.userinfo_span(url):
        return (
            "credentials do not belong in the URL (it is written into .dvc/config, in git); set "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment, or `dvc remote modify --local`"
        )
    if any(c.isspace() for c in url):
        return "remove the spaces"
    parsed = url_parts(url)
    if parsed and parsed.scheme == "s3":
        if not S3_BUCKET_PATTERN.fullmatch(parsed.netloc):
            return (
                "s3:// needs a bucket name of 3-63 lowercase letters, digits, '.' or '-' (s3://bucket/path)"
            )
        return None
    if PurePosixPath(url).is_absolute() or PureWindowsPath(url).is_absolute():
        return None
    if parsed is None:
        return "the URL's host or port is malformed; use s3://bucket/path or an absolute local path"
    if parsed.scheme:
        return f"the scheme {parsed.scheme}:// is not supported here; use s3://bucket/path or an absolute local path (add other remotes later with `dvc remote add`)"
    return "a local remote must be an absolute path (e.g. /srv/dvc-storage)"


def endpoint_url_problem(url: str, remote_url: str, dataset: str = "") -> str | None:
    """Say what is wrong with the S3 endpoint URL, or None when it is empty or fits an s3:// remote
    or an s3:// table."""
    if url == "":
        return None
    if urls.userinfo_span(url):
        return "credentials do not belong in the URL; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment"
    parsed = url_parts(url)
    if (
        not parsed
        or parsed.scheme not in ("http", "https")
        or not parsed.hostname
        or any(c.isspace() for c in url)
    ):
        return "give the S3-compatible server's URL like http://127.0.0.1:9000, or leave it empty for AWS"
    if not urls.is_s3(remote_url) and not urls.is_s3(dataset):
        return f"an endpoint only applies to an s3:// remote or table, and dvc_remote_url is {urls.redacted(remote_url)!r}"
    return None


def main() -> None:
    options = json.loads(r"""{{ cookiecutter | tojson }}""")
    problems = check_options(options)
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    for warning in option_warnings(options):
        print(f"WARNING: {warning}", file=sys.stderr)


def option_warnings(options: dict) -> list[str]:
    """What generation allows but says: a tracking server reached in clear text from another host
    (a server on a private network may be meant; `make doctor` says it again)."""
    host = urls.clear_text_host(options["mlflow_tracking_uri"])
    if not host:
        return []
    return [
        f"mlflow_tracking_uri={options['mlflow_tracking_uri']!r} is plain http: a password sent to "
        f"{host} travels in clear text; prefer an https:// URL"
    ]


if __name__ == "__main__":
    main()
