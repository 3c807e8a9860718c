"""Prune what the options did not choose, bring in the data, then create the MLflow store and
initialise git and DVC.

Runs inside the new project folder. Any failing step stops generation with the command's own
message, and cookiecutter then removes the folder: no half-initialised repository is left. So does
a crash (the fail points hook.store_created, hook.git_initialised, hook.dvc_initialised): generating
again starts afresh.
A table of the user's own (`dataset` a path or URL) is read, checked and described by the
generated package itself (`<package>.adopt`, what `make adopt` runs later), so that code exists once.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from types import ModuleType

PLOTS_TEMPLATES = Path(".dvc", "plots")  # the project's `dvc plots` templates, one per task
PLOTS_ASIDE = Path(".dvc-plots")  # where they wait while `dvc init` runs (and stay, without DVC)
FIRST_COMMIT_MESSAGE = "New project from the DVC + MLflow template"
DVC_COMMIT_MESSAGE = "Set up DVC and track the raw data with it"


def package_module(options: dict, name: str) -> ModuleType:
    """A module of the generated package (the project's folder is on sys.path): its paths, and
    what reads and checks a table, are the package's own."""
    return importlib.import_module(f"{options['package_name']}.{name}")


def prune(options: dict) -> None:
    """Keep only the chosen sample (its data and schema; none for a table of the user's), license,
    CI workflow and team stack."""
    paths = package_module(options, "common.project")
    sample = options["dataset"] if options["dataset"] in options["_datasets"] else None
    for data_file in paths.RAW_DIR.iterdir():
        if data_file.name.split(".")[0] != sample:
            data_file.unlink()
    if sample:
        (paths.RAW_DIR / f"{sample}.schema.yaml").rename(paths.SCHEMA_FILE)
    if options["license"] == "Proprietary":
        Path("LICENSE").unlink()
    if options["ci"] != "github":
        shutil.rmtree(".github")
    if options["team_stack"] != "yes":
        Path("docker-compose.yml").unlink()
        shutil.rmtree("docker")
        for module in ("identities.py", "stack_env.py"):  # the team stack's users and secrets
            Path(options["package_name"], "ops", module).unlink()
        Path("tests", "test_stack_env.py").unlink()
        if options["ci"] == "github":
            Path(".github", "workflows", "tune.yml").unlink()  # its study lives on the team's database
    for cache in list(Path().rglob("__pycache__")):  # copied from a template folder whose code ran
        shutil.rmtree(cache)


def invocation_dir() -> Path:
    """Where cookiecutter was run (the shell's PWD), as the pre-generation hook takes it."""
    pwd = os.environ.get("PWD", "")
    return Path(pwd) if pwd and Path(pwd).is_dir() else Path.cwd().parent


def bring_table(options: dict) -> tuple[Path, str | None]:
    """Read, check and describe the user's table with the generated package (`adopt.stage_table`):
    a local file is copied into data/raw/ under a name safe anywhere, data/schema.yaml is written,
    and what needs the user's eye (rows without a target...) is printed. Return the raw file's path
    and, for a URL, the URL (for `dvc import-url`). Any problem stops generation in one line."""
    dataset = options["dataset"]
    missing = [name for name in ("pandas", "pyarrow", "yaml") if importlib.util.find_spec(name) is None]
    if missing:
        sys.exit(
            f"ERROR: dataset={dataset!r}: reading your table needs {', '.join(missing)} beside cookiecutter "
            f"(pip install {' '.join('pyyaml' if name == 'yaml' else name for name in missing)}); or generate "
            "with a sample and, after `make setup`, switch with `make adopt DATA=... TARGET=...`"
        )
    adopt = package_module(options, "ops.adopt")
    errors = package_module(options, "common.errors")
    schema = package_module(options, "schema")
    try:
        table, notes = adopt.stage_table(
            dataset, options["target"], options["task"], options["s3_endpoint_url"], base=invocation_dir()
        )
    except errors.PipelineError as error:
        sys.exit(f"ERROR: dataset={dataset!r}: {error}")  # a URL with a secret was refused before
    schema.dump(table)
    for note in notes:
        print(f"NOTE: {note}")
    return Path(table.raw), dataset if adopt.is_url(dataset) else None


def raw_data(options: dict) -> tuple[Path, str | None]:
    """The raw table's path in the project, and its URL when it is to be imported (see bring_table)."""
    if options["dataset"] in options["_datasets"]:
        raw_dir = package_module(options, "common.project").RAW_DIR
        return raw_dir / options["_datasets"][options["dataset"]]["file"], None
    return bring_table(options)


def fail_point(options: dict, name: str) -> None:
    """The generated package's fail point `name` (see its common/failpoints.py): inert unless FAIL_POINT is set."""
    if os.environ.get("FAIL_POINT"):
        package_module(options, "common.failpoints").fail_point(name)


def run(*command: str, env: dict | None = None) -> None:
    """Run a command; on failure stop generation with its output."""
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"ERROR: `{' '.join(command)}` failed:\n{result.stdout}{result.stderr}")


def dvc_commands(options: dict, raw: tuple[Path, str | None], with_git: bool) -> list[list[str]]:
    """The `dvc` commands (arguments) that set the project up: init, auto-staging, the remote, and
    the raw data added (or imported from its URL)."""
    commands = [
        ["init", "--quiet", *([] if with_git else ["--no-scm"])],
        ["config", "core.autostage", "true"],
    ]
    if options["dvc_remote_url"]:
        commands.append(["remote", "add", "--default", "storage", options["dvc_remote_url"]])
        commands.append(["remote", "modify", "storage", "verify", "true"])  # hash what is pulled
    if options["s3_endpoint_url"]:
        commands.append(["remote", "modify", "storage", "endpointurl", options["s3_endpoint_url"]])
    raw_file, url = raw
    if url is None:
        return [*commands, ["add", "--quiet", str(raw_file)]]
    return [*commands, ["import-url", *import_config(options, url), url, str(raw_file)]]


def import_config(options: dict, url: str) -> list[str]:
    """`dvc import-url`'s options for `url`: the S3-compatible endpoint of an s3:// URL."""
    if url.startswith("s3://") and options["s3_endpoint_url"]:
        return ["--fs-config", f"endpointurl={options['s3_endpoint_url']}"]
    return []


def init_dvc(options: dict, raw: tuple[Path, str | None], with_git: bool) -> bool:
    """Run dvc_commands, with the project's plots templates set aside meanwhile (see
    templates_set_aside). Through DVC's Python API when this interpreter has DVC (one process
    instead of one per command), else the `dvc` on PATH (cookiecutter installed on its own, e.g. with
    pipx). Without DVC, print the steps to take once it is installed and return False."""
    templates_aside = templates_set_aside()
    if importlib.util.find_spec("dvc") is not None:
        remote = {"url": options["dvc_remote_url"], "verify": "true"}
        if options["s3_endpoint_url"]:
            remote["endpointurl"] = options["s3_endpoint_url"]
        init_dvc_in_process(raw, with_git, remote, options["s3_endpoint_url"])
    elif dvc := shutil.which("dvc"):
        for command in dvc_commands(options, raw, with_git):
            run(dvc, *command)
    else:
        steps = dvc_steps(options, raw, with_git, templates_aside)
        print("NOTE: DVC not found: run `make setup`, then " + ", ".join(f"`{step}`" for step in steps) + ".")
        return False
    if templates_aside:
        PLOTS_ASIDE.rename(PLOTS_TEMPLATES)
    return True


def templates_set_aside() -> bool:
    """Move the shipped .dvc/plots to PLOTS_ASIDE, since `dvc init` refuses an existing .dvc
    folder; False when there is none."""
    if not PLOTS_TEMPLATES.exists():
        return False
    PLOTS_TEMPLATES.rename(PLOTS_ASIDE)
    PLOTS_TEMPLATES.parent.rmdir()
    return True


def dvc_steps(
    options: dict, raw: tuple[Path, str | None], with_git: bool, templates_aside: bool
) -> list[str]:
    """The shell commands that set DVC up once it is installed: dvc_commands, after `git init` when
    there is no git repository yet, the plots templates moved into .dvc after `dvc init`, and a
    commit of it all (evaluate's dvclive needs a commit to refer to)."""
    steps = [f"dvc {shlex.join(command)}" for command in dvc_commands(options, raw, with_git=True)]
    if templates_aside:
        steps.insert(1, f"mv {PLOTS_ASIDE} {PLOTS_TEMPLATES}")
    steps += ["git add --all", f"git commit -m {shlex.quote(DVC_COMMIT_MESSAGE)}"]
    return steps if with_git else ["git init --initial-branch=main", *steps]


def init_dvc_in_process(
    raw: tuple[Path, str | None], with_git: bool, remote: dict[str, str], endpoint_url: str
) -> None:
    """What dvc_commands do, with DVC's Python API; a DVC error stops generation."""
    import logging

    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    logging.getLogger("dvc").setLevel(logging.WARNING)  # the commands' --quiet
    try:
        repo = Repo.init(no_scm=not with_git)
        with repo.config.edit() as config:
            config["core"]["autostage"] = "true"  # as `dvc config` writes it
            if remote["url"]:
                config["core"]["remote"] = "storage"
                config["remote"]["storage"] = remote
        raw_file, url = raw
        if url is None:
            repo.add(str(raw_file))
        else:
            endpoint = {"endpointurl": endpoint_url} if url.startswith("s3://") and endpoint_url else None
            repo.imp_url(url, out=str(raw_file), fs_config=endpoint)
        repo.close()
    except DvcException as error:
        sys.exit(f"ERROR: setting up DVC failed: {error}")


def init_repositories(options: dict, raw: tuple[Path, str | None]) -> bool:
    """git init, DVC (see init_dvc), and commit it all; False when DVC is left to set up (then the
    commit leaves out the raw data and the plots templates, which the DVC steps take)."""
    git = shutil.which("git")
    if git:
        run(git, "init", "--quiet", "--initial-branch=main")
        fail_point(options, "hook.git_initialised")
    else:
        print("NOTE: git not found: the project is not a git repository; run `git init` later.")
    dvc_set_up = init_dvc(options, raw, with_git=bool(git))
    fail_point(options, "hook.dvc_initialised")
    if git:
        left_to_dvc = [] if dvc_set_up else [f":!{raw[0].as_posix()}", f":!{PLOTS_ASIDE}"]
        run(git, "add", "--all", "--", ".", *left_to_dvc)
        run(git, *identity_args(git, options), "commit", "--quiet", "-m", FIRST_COMMIT_MESSAGE)
    return dvc_set_up


def identity_args(git: str, options: dict) -> list[str]:
    """`-c user.name=… -c user.email=…` when git has no identity configured, else nothing."""
    configured = subprocess.run([git, "config", "user.email"], capture_output=True, text=True)
    if configured.returncode == 0 and configured.stdout.strip():
        return []
    print("NOTE: git has no user.email set; the first commit uses the author name and a placeholder address.")
    author = options["author_name"].strip() or "Project author"
    return ["-c", f"user.name={author}", "-c", f"user.email={options['project_slug']}@users.noreply.invalid"]


def create_tracking_store(options: dict) -> None:
    """Create the local MLflow store, `mlflow.db`, from the SQL of an empty one (what the locked
    MLflow's own migrations make, see tools/dump_mlflow_schema.py), without importing MLflow and
    running its migrations. Parallel first runs then find the store ready. A project that
    logs to a tracking server gets none."""
    schema = Path(".mlflow-store.sql")
    if not options["mlflow_tracking_uri"]:
        with closing(sqlite3.connect("mlflow.db")) as store:
            store.executescript(schema.read_text(encoding="utf-8"))
    schema.unlink()


def existing_project_state() -> list[str]:
    """What a project generated here before left (`cookiecutter -f` over its folder): DVC's
    settings and cache, the MLflow store. The hook would fail on them, so it stops before."""
    dvc_files = [str(path) for path in Path(".dvc").glob("*") if path != PLOTS_TEMPLATES]
    return sorted(dvc_files + [name for name in ("mlflow.db", "mlartifacts") if Path(name).exists()])


def main() -> None:
    options = json.loads(r"""{{ cookiecutter | tojson }}""")
    if found := existing_project_state():
        sys.exit(
            f"ERROR: {Path.cwd()} holds a project already ({', '.join(found)}); nothing of it was "
            "changed beyond the template's files: generate into a new folder"
        )
    sys.path.insert(0, str(Path.cwd()))  # the generated package, which reads tables and has the fail points
    prune(options)
    raw = raw_data(options)
    create_tracking_store(options)
    fail_point(options, "hook.store_created")
    dvc_set_up = init_repositories(options, raw)
    steps = (
        "make setup && make repro"
        if dvc_set_up
        else "make setup, then the DVC commands above (they end with a commit), then make repro"
    )
    print(f"Created {Path.cwd()}\nNext: cd {options['project_slug']} && {steps}")


if __name__ == "__main__":
    main()
