"""The hooks: bad options are refused before anything is written; odd but valid values work."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sqlite3
import string
import subprocess
import sys
import tomllib
from contextlib import closing
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from conftest import DVC, OPTIONS, TEMPLATE, TEST_DATA, bake, dvc, load_module, locked_versions, run
from cookiecutter.environment import StrictEnvironment
from hypothesis import given, settings
from hypothesis import strategies as st

pre_gen = load_module(TEMPLATE / "hooks" / "pre_gen_project.py")
dump_mlflow_schema = load_module(TEMPLATE / "tools" / "dump_mlflow_schema.py")
template_lock = load_module(TEMPLATE / "tools" / "lock.py")

DEFAULTS = {
    **{key: value[0] if isinstance(value, list) else value for key, value in OPTIONS.items()},
    "project_slug": "wine-quality",
    "package_name": "wine_quality",
    "registered_model_name": "wine-quality",
    "mlflow_tracking_uri": "",
    "dvc_remote_url": "",
    "s3_endpoint_url": "",
}

BAD_OPTIONS = [
    ("project_name", "   "),
    ("project_slug", "my project"),
    ("project_slug", "MyProject"),
    ("project_slug", "-dash-first"),
    ("project_slug", "wine-quality\n"),
    ("project_name", "Two\nlines"),
    ("author_name", "Zoë\tO'Brien"),
    ("description", "Predicts things.\u2028And more."),
    ("package_name", "class"),
    ("package_name", "my-package"),
    ("package_name", "mlflow"),
    ("package_name", "json"),
    ("package_name", "wine_quality\n"),
    ("python_version", "3.9"),
    ("dataset", "iris"),
    ("dataset", "ftp://example.org/table.csv"),
    ("dataset", "https://user:hunter2@example.org/table.csv"),
    ("dataset", "s3://AKIAEXAMPLE:wJalr/K7MDENG+bPxRfiCY@bucket/table.csv"),
    ("dataset", "https://bucket.s3.amazonaws.com/t.csv?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ab12cd34"),
    ("dataset", "https://example.org/table.csv\n"),
    ("target", ""),
    ("task", "clustering"),
    ("model", "svm"),
    ("registered_model_name", "my model"),
    ("registered_model_name", "wine-quality\n"),
    ("mlflow_tracking_uri", "localhost:5000"),
    ("mlflow_tracking_uri", "http://"),
    ("mlflow_tracking_uri", "http://user:secret@mlflow.example.com"),
    ("mlflow_tracking_uri", "http://127.0.0.1:99999"),
    ("dvc_remote_url", "gs://bucket/path"),
    ("dvc_remote_url", "relative/dir"),
    ("dvc_remote_url", "s3://A_Bucket"),
    ("dvc_remote_url", "s3://AKIAEXAMPLE:hunter2@bucket/path"),
    ("s3_endpoint_url", "minio:9000"),
    ("s3_endpoint_url", "http://127.0.0.1:9000"),  # with no s3:// remote
    ("team_stack", "maybe"),
]
# The passwords and signatures in BAD_OPTIONS: no message may show them.
SECRETS = ("hunter2", "wJalr", "bPxRfiCY", "ab12cd34", ":secret@")


@pytest.mark.parametrize(("option", "value"), BAD_OPTIONS, ids=[f"{o}={v}" for o, v in BAD_OPTIONS])
def test_each_bad_option_gets_one_message_naming_it(option: str, value: str) -> None:
    problems = pre_gen.check_options({**DEFAULTS, option: value})
    assert len(problems) == 1
    assert problems[0].startswith(f"{option}={pre_gen.urls.redacted(value)!r} is not valid: ")
    assert not any(secret in problems[0] for secret in SECRETS)


def test_default_options_are_valid() -> None:
    assert pre_gen.check_options(DEFAULTS) == []


def test_a_sample_takes_its_own_target_and_task() -> None:
    problems = pre_gen.check_options(
        {**DEFAULTS, "dataset": "diabetes", "target": "y", "task": "classification"}
    )
    assert problems == [
        "target='y' is not valid: the sample 'diabetes' predicts the column 'target'",
        "task='classification' is not valid: the sample 'diabetes' is a regression task; choose auto",
    ]


# Property tests: bounded, and no example database written into the repository.
PROPERTIES = settings(max_examples=150, deadline=None, database=None)
# Any text a str can hold in a file: everything but lone surrogates (UTF-8 has none).
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)))


def template_environment() -> StrictEnvironment:
    """Jinja as cookiecutter sets it up for this template, its filters (`_extensions`) loaded."""
    sys.path.insert(0, str(TEMPLATE))  # where cookiecutter finds local_extensions.py
    try:
        return StrictEnvironment(context={"cookiecutter": OPTIONS}, keep_trailing_newline=True)
    finally:
        sys.path.remove(str(TEMPLATE))


JINJA = template_environment()
# The lines of the generated pyproject.toml that render free text.
PYPROJECT_FREE_TEXT = [
    line
    for line in (TEMPLATE / "{{cookiecutter.project_slug}}" / "pyproject.toml").read_text().splitlines()
    if re.search(r"cookiecutter\.(project_name|description|author_name)", line)
]


@PROPERTIES
@given(description=ANY_TEXT, author=ANY_TEXT)
def test_free_text_in_pyproject_loads_back_exactly(description: str, author: str) -> None:
    assert len(PYPROJECT_FREE_TEXT) == 2 and all("toml_escaped" in line for line in PYPROJECT_FREE_TEXT)
    rendered = JINJA.from_string("\n".join(PYPROJECT_FREE_TEXT)).render(
        cookiecutter={"description": description, "author_name": author}
    )
    assert tomllib.loads(rendered) == {"description": description, "authors": [{"name": author}]}


@PROPERTIES
@given(text=ANY_TEXT)
def test_the_hooks_read_back_any_option_text(text: str) -> None:
    """The hooks take their options from `json.loads(r\"\"\"{{ cookiecutter | tojson }}\"\"\")`: tojson
    escapes every quote, backslash and non-ASCII character, so no text ends the raw string early."""
    for hook in ("pre_gen_project.py", "post_gen_project.py"):
        (line,) = [line for line in (TEMPLATE / "hooks" / hook).read_text().splitlines() if "tojson" in line]
        options = {**DEFAULTS, "project_name": text, "description": text + '"""', "author_name": "\\" + text}
        namespace: dict = {"json": json}
        exec(JINJA.from_string(line.strip()).render(cookiecutter=options), namespace)
        assert namespace["options"] == options


# What a password may hold: anything but '/', '?' and '#', which a URL needs written %2F, %3F and
# %23 (unescaped, they end the host: `https://u:12/x@h` is host u, port 12); '@' and ':' may stay.
PASSWORD = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="/?#"), min_size=1)
# An AWS secret access key (in an s3:// URL, where there is no port): base64, '/' included.
AWS_SECRET = st.text(st.sampled_from(string.ascii_letters + string.digits + "+/="), min_size=1)
USER = st.text(st.sampled_from("abcXYZ019-._~!$&'()*+,;=%"), max_size=8)


@PROPERTIES
@given(
    url=st.one_of(
        st.tuples(st.sampled_from(["https", "http", "S3"]), USER, PASSWORD),
        st.tuples(st.just("s3"), USER, AWS_SECRET),
    ),
    path=st.sampled_from(["/table.csv", "/a/b.csv?version=2", "/npm/pkg@1.0/t.csv#top", ""]),
)
def test_a_url_with_a_password_is_refused_without_showing_it(url: tuple[str, str, str], path: str) -> None:
    scheme, user, password = url
    dataset, hidden = (f"{scheme}://{user}:{secret}@example.org{path}" for secret in (password, "***"))
    # After an unescaped '/' in the password, the '@' that ends it could be any: the last one is
    # taken, so the host and the path before it are hidden too.
    ambiguous = "/" in password and "@" in path
    shown = f"{scheme}://{user}:***@{dataset.rpartition('@')[2]}" if ambiguous else hidden
    problems = pre_gen.check_options({**DEFAULTS, "dataset": dataset})
    assert len(problems) == 1 and problems[0].startswith(f"dataset={shown!r} is not valid: ")
    assert "download the file and give its path" in problems[0] and "\n" not in problems[0]
    if not ambiguous:  # the message is the same whatever the password: nothing of it shows
        assert problems == pre_gen.check_options({**DEFAULTS, "dataset": hidden})
    if scheme.lower() == "s3":
        assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in problems[0]


@PROPERTIES
@given(token=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="/?#:@"), min_size=1))
def test_a_url_with_a_user_alone_is_refused_without_showing_it(token: str) -> None:
    """A user alone is often a token (https://<token>@host/...): it is hidden too."""
    (problem,) = pre_gen.check_options({**DEFAULTS, "dataset": f"https://{token}@example.org/t.csv"})
    assert problem.startswith("dataset='https://***@example.org/t.csv' is not valid: the URL holds a user")


@PROPERTIES
@given(
    name=st.sampled_from(sorted(pre_gen.urls.SECRET_PARAMETERS)).flatmap(
        lambda name: st.sampled_from([name, name.upper(), name.title()])
    ),
    signature=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="&#"), min_size=1),
)
def test_a_signed_url_is_refused_without_showing_the_signature(name: str, signature: str) -> None:
    dataset = f"https://bucket.s3.amazonaws.com/t.csv?X-Amz-Date=20260101&{name}={signature}&b=2#x"
    problems = pre_gen.check_options({**DEFAULTS, "dataset": dataset})
    assert problems == [
        f"dataset='https://bucket.s3.amazonaws.com/t.csv?X-Amz-Date=20260101&{name}=***&b=2#x' is not "
        f"valid: the URL holds a signature or secret ({name}), which would be written into the project's "
        ".dvc file, in git (and a signature expires); download the file and give its path"
    ]


@pytest.mark.parametrize(
    "dataset",
    [
        "https://example.org/t.csv",
        "https://example.org:8443/npm/pkg@1.0/t.csv?version=2&email=a@b.org",
        "https://[::1]:8080/a@b/t.csv",
        "s3://bucket/folder@2026/t.csv",
        "https://example.org/t.csv?keys=3&tokenizer=x&sig=",
    ],
)
def test_a_url_without_secrets_is_shown_as_it_is(dataset: str) -> None:
    assert pre_gen.urls.redacted(dataset) == dataset
    assert pre_gen.dataset_problem(dataset, OPTIONS["_datasets"]) is None


def test_a_percent_encoded_parameter_name_is_still_a_secret() -> None:
    assert (
        pre_gen.urls.redacted("https://h/t?X%2DAmz%2DSignature=ab&x=1")
        == "https://h/t?X%2DAmz%2DSignature=***&x=1"
    )


@settings(PROPERTIES, max_examples=60)  # names from regular expressions are slow to draw
@given(
    option=st.sampled_from(
        [
            ("project_slug", pre_gen.SLUG_PATTERN),
            ("package_name", pre_gen.PACKAGE_PATTERN),
            ("registered_model_name", re.compile(pre_gen.project.MODEL_NAME_PATTERN)),
        ]
    ).flatmap(lambda named: st.tuples(st.just(named[0]), st.from_regex(named[1], fullmatch=True))),
    line_end=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_a_name_with_a_line_break_at_its_end_is_refused(option: tuple[str, str], line_end: str) -> None:
    name, value = option
    problems = pre_gen.check_options({**DEFAULTS, name: value + line_end})
    assert [problem.split("=", 1)[0] for problem in problems] == [name]


def cookiecutter_cli(
    output_dir: Path, *options: str, env: dict | None = None, python: Path = Path(sys.executable)
) -> subprocess.CompletedProcess:
    """`cookiecutter --no-input` of this template, as a user runs it."""
    command = [
        str(python),
        "-m",
        "cookiecutter",
        "--no-input",
        "-o",
        str(output_dir),
        str(TEMPLATE),
        *options,
    ]
    return subprocess.run(command, capture_output=True, text=True, env=env)


@pytest.mark.parametrize(("option", "value"), BAD_OPTIONS, ids=[f"{o}={v}" for o, v in BAD_OPTIONS])
def test_cookiecutter_stops_with_the_message_and_leaves_nothing(
    tmp_path: Path, option: str, value: str
) -> None:
    result = cookiecutter_cli(tmp_path / "out", f"{option}={value}")
    assert result.returncode != 0
    if isinstance(OPTIONS[option], list):  # a choice: cookiecutter itself refuses it, naming the choices
        assert f"{value} provided for choice variable {option}, but the choices are" in result.stderr
    else:
        assert (
            f"ERROR: {option}={pre_gen.urls.redacted(value)!r} is not valid" in result.stderr + result.stdout
        )
    assert not any(secret in result.stderr + result.stdout for secret in SECRETS)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_a_url_with_credentials_stops_cookiecutter_in_one_line_hiding_them(tmp_path: Path) -> None:
    secret = "wJalrXUtn/K7MDENG+bPxRfiCY"  # an AWS secret access key may hold '/' and '+'
    result = cookiecutter_cli(tmp_path / "out", f"dataset=s3://AKIAEXAMPLE:{secret}@bucket/table.csv")
    assert result.returncode != 0
    first, *_ = result.stderr.splitlines()
    assert first.startswith("ERROR: dataset='s3://AKIAEXAMPLE:***@bucket/table.csv' is not valid: ")
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in first and first.endswith("give its path")
    assert [line for line in result.stderr.splitlines() if line.startswith("ERROR: dataset=")] == [first]
    output = result.stdout + result.stderr
    assert not any(part in output for part in secret.split("/")), output
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_quotes_and_unicode_in_free_text_survive(tmp_path: Path) -> None:
    """Quotes, backslashes, '#' and characters beyond the Basic Multilingual Plane (emoji, 𝒜), which
    Jinja's tojson wrote as surrogate pairs that TOML refuses."""
    name = 'Ünïcode "Quoted" Project: #1 🍷'
    author = "Zoë O'Brien \\ {braces} 🚀"
    description = 'Predicts "things": fast, {reliably} & with a # sign, \'\'\' """ \\" and 𝒜 🍷'
    project = bake(
        tmp_path, project_name=name, project_slug="odd-values", author_name=author, description=description
    )
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["description"] == description
    assert pyproject["project"]["authors"] == [{"name": author}]
    uv = shutil.which("uv")  # `make venv` puts it in .venv; uv's TOML reader is the one `uv sync` uses
    if uv:
        assert run([uv, "version", "--offline", "--frozen"], project).stdout.strip() == "odd-values 0.1.0"
    assert yaml.safe_load((project / "params.yaml").read_text())["register"]["model_name"] == "odd-values"
    assert yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    assert author in (project / "LICENSE").read_text()
    assert name in (project / "README.md").read_text()
    run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_config.py"], project)


def test_proprietary_license_writes_no_license_file(tmp_path: Path) -> None:
    project = bake(tmp_path, license="Proprietary")
    assert not (project / "LICENSE").exists()


def test_without_git_the_project_still_runs(tmp_path: Path) -> None:
    """No git on PATH: a DVC project without SCM is generated, and its pipeline runs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("python", "dvc"):  # wrappers: a symlink to a venv's python leaves the venv
        wrapper = bin_dir / tool
        wrapper.write_text(f'#!/bin/sh\nexec "{Path(sys.executable).parent / tool}" "$@"\n')
        wrapper.chmod(0o755)
    env = {**os.environ, "PATH": str(bin_dir)}
    result = cookiecutter_cli(tmp_path / "out", env=env)
    assert result.returncode == 0, result.stderr
    assert "git not found" in result.stdout
    project = tmp_path / "out" / "wine-quality"
    assert not (project / ".git").exists() and (project / ".dvc").is_dir()
    repro = subprocess.run([*DVC, "repro"], cwd=project, capture_output=True, text=True, env=env)
    assert repro.returncode == 0, repro.stdout + repro.stderr
    assert '"registered": true' in (project / "reports" / "registration.json").read_text()


def test_generating_over_an_existing_project_stops_and_keeps_its_state(tmp_path: Path) -> None:
    """`cookiecutter -f` into the folder of a project generated before: the hook stops with a
    message naming what is there, and DVC's cache and the MLflow store are as they were."""
    project = bake(tmp_path)
    state = {
        path: path.read_bytes()
        for path in (project / "mlflow.db", *(project / ".dvc" / "cache").rglob("*"))
        if path.is_file()
    }
    again = cookiecutter_cli(tmp_path, "-f")
    assert again.returncode != 0
    assert "holds a project already" in again.stderr and ".dvc/config" in again.stderr
    assert {path: path.read_bytes() for path in state} == state and len(state) > 1
    assert (project / ".git").is_dir() and not (project / ".dvc-plots").exists()


WHO = {"NAME": "t", "EMAIL": "t@example.invalid"}


def test_cookiecutter_installed_on_its_own_makes_the_same_project(tmp_path: Path) -> None:
    """cookiecutter in an environment of its own (as `pipx install cookiecutter` makes): no DVC or
    MLflow there, so the hook uses the `dvc` on PATH. The project is the same as one generated
    where DVC is importable: DVC set up alike, the raw data added and committed, the MLflow store."""
    requirements = (TEMPLATE / "requirements.txt").read_text().splitlines()
    pinned = [line for line in requirements if "==" in line and "[" not in line]  # constraints take no extras
    lock = tmp_path / "constraints.txt"  # as `make venv` installs: the template's pins and the lock's
    lock.write_text("\n".join(pinned) + "\n" + template_lock.constraints())
    python = tmp_path / "cookiecutter-env" / "bin" / "python"
    uv = shutil.which("uv")  # `make venv` puts it in .venv; without it, the slower venv and pip
    if uv:
        run([uv, "venv", "--quiet", "--python", sys.executable, str(python.parents[1])], cwd=tmp_path)
        install = [uv, "pip", "install", "--quiet", "--python", str(python)]
    else:
        run([sys.executable, "-m", "venv", str(python.parents[1])], cwd=tmp_path)
        install = [str(python), "-m", "pip", "install", "--quiet"]
    run([*install, "-c", str(lock), "cookiecutter"], cwd=tmp_path)
    assert run([str(python), "-c", "import dvc"], cwd=tmp_path, check=False).returncode != 0
    remote = ("dvc_remote_url=s3://bucket/path", "s3_endpoint_url=http://127.0.0.1:9000")
    alone = cookiecutter_cli(tmp_path / "alone", *remote, python=python)
    assert alone.returncode == 0, alone.stdout + alone.stderr
    own = (f"dataset={TEST_DATA / 'titanic.csv'}", "target=survived")  # reading a table takes pandas
    no_pandas = cookiecutter_cli(tmp_path / "own", *own, python=python)
    assert no_pandas.returncode != 0 and "reading your table needs pandas, pyarrow" in no_pandas.stderr
    assert cookiecutter_cli(tmp_path / "with-dvc", *remote).returncode == 0
    projects = [tmp_path / folder / "wine-quality" for folder in ("alone", "with-dvc")]
    for project in projects:
        assert run(["git", "status", "--porcelain"], project).stdout == ""  # all committed
        status = run([*DVC, "status", "data/raw/wine.csv.dvc"], project).stdout
        assert "up to date" in status  # the raw data is in DVC's cache
        assert (project / "mlflow.db").is_file() and not (project / ".mlflow-store.sql").exists()
    shared_files = (
        ".dvc/config",
        ".dvc/plots/classification.json",
        ".dvc/plots/regression.json",
        "data/raw/wine.csv.dvc",
        "data/raw/.gitignore",
    )
    for shared in shared_files:
        assert (projects[0] / shared).read_text() == (projects[1] / shared).read_text(), shared

    # No DVC at all (only git on PATH): the hook commits the rest and says what to run once DVC is
    # installed; that makes the same DVC setup, committed, and the pipeline runs.
    git_only = tmp_path / "git-only"
    git_only.mkdir()
    (git_only / "git").symlink_to(shutil.which("git"))
    without = cookiecutter_cli(
        tmp_path / "no-dvc", *remote, python=python, env={**os.environ, "PATH": str(git_only)}
    )
    assert without.returncode == 0, without.stdout + without.stderr
    note = next(line for line in without.stdout.splitlines() if "DVC not found" in line)
    project = tmp_path / "no-dvc" / "wine-quality"
    assert not (project / ".dvc").exists()
    assert run(["git", "ls-files", "data/raw", ".dvc-plots"], project).stdout == ""  # left to DVC
    author = {f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER") for what, value in WHO.items()}
    for command in re.findall(r"`([^`]+)`", note.split("then", 1)[1]):
        words = shlex.split(command)
        command_line = [sys.executable, "-m", *words] if words[0] == "dvc" else words
        run(command_line, project, env={**os.environ, **author})
    assert not (project / ".dvc-plots").exists()
    for shared in shared_files:
        assert (project / shared).read_text() == (projects[1] / shared).read_text(), shared
    assert run(["git", "status", "--porcelain"], project).stdout == ""
    assert "register: models:/wine-quality@staging" in dvc(project, "repro")


def store_contents(database: Path) -> tuple[dict, dict]:
    """A SQLite database's tables, indexes and triggers (the lines of each one's SQL, in any order:
    MLflow's migrations order some constraints differently from run to run), and each table's rows."""
    with closing(sqlite3.connect(database)) as store:
        found = store.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
        objects = {
            (kind, name): sorted(line.strip().rstrip(",").strip() for line in sql.splitlines())
            for kind, name, sql in found
        }
        rows = {
            name: sorted(store.execute(f'SELECT * FROM "{name}"').fetchall())
            for kind, name, _ in found
            if kind == "table"
        }
    return objects, rows


def test_the_generated_store_is_the_one_mlflow_creates(tmp_path: Path) -> None:
    """The hook's `mlflow.db` (from .mlflow-store.sql) is what the locked MLflow's migrations make,
    less their Default experiment (MLflow adds it on first use); rerun tools/dump_mlflow_schema.py
    after changing MLflow's pin."""
    locked = locked_versions(TEMPLATE / "{{cookiecutter.project_slug}}" / "uv.lock")
    shipped = (TEMPLATE / "{{cookiecutter.project_slug}}" / ".mlflow-store.sql").read_text()
    assert locked["mlflow"] == version("mlflow")
    assert f"MLflow {version('mlflow')} tracking store" in shipped.splitlines()[0]
    migrated = tmp_path / "migrated.db"
    run(
        [sys.executable, "-c", dump_mlflow_schema.CREATE_STORE, f"sqlite:///{migrated}", tmp_path.as_uri()],
        tmp_path,
    )
    with closing(sqlite3.connect(migrated)) as store, store:
        assert store.execute("DELETE FROM experiments WHERE name = 'Default'").rowcount == 1
    generated_objects, generated_rows = store_contents(bake(tmp_path / "out") / "mlflow.db")
    migrated_objects, migrated_rows = store_contents(migrated)
    assert len(generated_objects) > 100 and generated_rows["alembic_version"]
    assert generated_objects == migrated_objects
    assert generated_rows == migrated_rows


NAMES = {
    # project name: the folder (and distribution, registered model) and package it defaults to
    'Café "Quoted" O\'Brien — ML': ("cafe-quoted-obrien-ml", "cafe_quoted_obrien_ml"),
    "Naïve Bayes, Revisited.": ("naive-bayes-revisited", "naive_bayes_revisited"),
    "1st Project": ("1st-project", "project_1st_project"),
    "Churn (2026)!": ("churn-2026", "churn_2026"),
    "机器学习": ("ji-qi-xue-xi", "ji_qi_xue_xi"),
    "Wine Quality": ("wine-quality", "wine_quality"),
}


@pytest.mark.parametrize("name", list(NAMES))
def test_any_project_name_generates_with_the_other_options_at_their_defaults(
    name: str, tmp_path: Path
) -> None:
    slug, package = NAMES[name]
    project = bake(tmp_path, project_name=name)
    assert project.name == slug and (project / package / "stages" / "train.py").is_file()
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["register"]["model_name"] == slug
    assert name in (project / "README.md").read_text()
    run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_config.py"], project)


@pytest.mark.parametrize("name", ["!!!", "🚀🚀", " — "])
def test_a_name_with_nothing_left_for_a_folder_is_refused_in_one_line(name: str, tmp_path: Path) -> None:
    result = cookiecutter_cli(tmp_path / "out", f"project_name={name}")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR: project_name=")]
    assert len(errors) == 1 and "nothing of it is left for a folder name" in errors[0], result.stderr
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
