"""The pre-generation hook's checks, in-process: each bad option gets one message naming it, no
message shows a secret, and free text reaches TOML and the hooks exactly."""

from __future__ import annotations

import ast
import json
import re
import string
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import BAD_OPTIONS, DEFAULTS, OPTIONS, SECRETS, TEMPLATE, load_module
from cookiecutter.environment import StrictEnvironment
from hypothesis import given, settings
from hypothesis import strategies as st

pre_gen = load_module(TEMPLATE / "hooks" / "pre_gen_project.py")


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


def imported_modules(project: Path) -> set[str]:
    """The top-level modules the generated project's code and tests import (not the standard
    library's, not its own package or test helpers)."""
    own = {path.stem for path in (project / "tests").glob("*.py")} | {"__future__", "package"}
    names: set[str] = set()
    for path in project.rglob("*.py"):
        source = path.read_text(encoding="utf-8").replace("{{ cookiecutter.package_name }}", "package")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - own


def test_a_package_may_not_shadow_any_module_the_project_imports() -> None:
    imported = imported_modules(TEMPLATE / "{{cookiecutter.project_slug}}")
    assert {"mlflow", "optuna", "sqlalchemy"} <= imported  # the walk finds lazy imports too
    assert imported - pre_gen.DEPENDENCY_MODULES == set()
    for name in sorted(imported):
        problems = pre_gen.check_options({**DEFAULTS, "package_name": name})
        assert problems == [
            f"package_name={name!r} is not valid: it would shadow the module of that name "
            "the project imports; pick another name"
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


@pytest.mark.parametrize(
    ("uri", "host"),
    [
        ("http://mlflow.example:5050", "mlflow.example"),
        ("http://10.0.0.7:5000", "10.0.0.7"),
        ("HTTP://[2001:db8::1]:5000", "2001:db8::1"),
        ("http://127.0.0.1:5050", None),
        ("http://127.8.9.10", None),
        ("http://localhost:5050", None),
        ("http://[::1]:5050", None),
        ("https://mlflow.example", None),
        ("", None),
    ],
)
def test_a_tracking_server_in_clear_text_on_another_host_is_a_warning_not_an_error(
    uri: str, host: str | None
) -> None:
    options = {**DEFAULTS, "mlflow_tracking_uri": uri}
    assert pre_gen.check_options(options) == []
    expected = [
        f"mlflow_tracking_uri={uri!r} is plain http: a password sent to {host} travels in clear text; prefer an https:// URL"
    ]
    assert pre_gen.option_warnings(options) == (expected if host else [])


def test_a_team_stacks_dvc_remote_in_mlflows_artifact_bucket_is_refused() -> None:
    team = {**DEFAULTS, "team_stack": "yes"}
    (problem,) = pre_gen.check_options({**team, "dvc_remote_url": "s3://mlflow/wine-quality"})
    assert problem.startswith("dvc_remote_url='s3://mlflow/wine-quality' is not valid: bucket 'mlflow' holds")
    assert pre_gen.check_options({**team, "dvc_remote_url": "s3://dvc/wine-quality"}) == []
    assert pre_gen.check_options({**team, "dvc_remote_url": "s3://mlflow-data/x"}) == []
    compose = (TEMPLATE / "{{cookiecutter.project_slug}}" / "docker-compose.yml").read_text()
    assert f"--artifacts-destination s3://{pre_gen.STACK_ARTIFACT_BUCKET}\n" in compose


@PROPERTIES
@given(path=ANY_TEXT.filter(lambda text: not any(c.isspace() for c in text)))
def test_the_dvc_keys_policies_name_any_remote_path_exactly(path: str) -> None:
    """docker/dvc-*.json scope the DVC keys' objects to the remote's prefix, whatever its path holds
    (quotes, backslashes, wildcards): the JSON loads back and names that prefix, as generation
    computes it in cookiecutter.json."""
    url = f"s3://dvc/{path}"
    options = {"dvc_remote_url": url}
    for name in ("__dvc_bucket", "__dvc_objects"):
        options[name] = JINJA.from_string(OPTIONS[name]).render(cookiecutter=options)
    prefix = path.rstrip("/")
    objects = f"arn:aws:s3:::dvc/{prefix}/*" if prefix else "arn:aws:s3:::dvc/*"
    for policy in ("dvc-read.json", "dvc-write.json"):
        template = (TEMPLATE / "{{cookiecutter.project_slug}}" / "docker" / policy).read_text()
        statements = json.loads(JINJA.from_string(template).render(cookiecutter=options))["Statement"]
        assert [statement["Resource"] for statement in statements] == [["arn:aws:s3:::dvc"], [objects]]
