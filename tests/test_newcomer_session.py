"""A newcomer's first hour, scripted: the README's commands from a fresh database, then the
obvious mistakes.

Every command the README shows runs as a user types it (the real CLI, a brand-new database whose
schema comes from the migrations, flows on a local Prefect API). Each must succeed and end with a
table, JSON or one line of summary, never a Python repr, and never a traceback. Each documented
bad input must exit 2 with one line on stderr that names the bad value.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from wardprog import docs
from wardprog.cli import app
from wardprog.config import Settings
from wardprog.services.register import demo_register_path

pytestmark = pytest.mark.slow

runner = CliRunner()
README = docs.README.read_text(encoding="utf-8")
TABLE = re.compile(r"[┏┃│┡└╭]")
PYTHON_REPR = re.compile(r"^\s*[\[{(]'|^\s*\{'\w+': |\w+\(\w+=")


def first_session() -> list[list[str]]:
    """The commands of the README's first-session block, as argument lists."""
    block = README.split("A first session", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("wardprog "):
            args = shlex.split(line)[1:]
            commands.append([str(demo_register_path()) if a == "wards.csv" else a for a in args])
    return commands


def run(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    text = result.output + (result.stderr if result.stderr_bytes else "")
    assert "Traceback" not in text, text
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result


def assert_human_output(result: Result, args: list[str]) -> None:
    assert result.exit_code == 0, (args, result.output)
    out = result.stdout.strip()
    assert out, f"{args}: no output"
    if "--json" in args:
        json.loads(out)
        return
    assert not any(PYTHON_REPR.search(line) for line in out.splitlines()), (args, out)
    lines = out.splitlines()
    assert TABLE.search(out) or len(lines) <= 3, (args, out)


def assert_refused(result: Result, bad_value: str) -> None:
    """Exit 2 and exactly one line on stderr naming ``bad_value``."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    naming = [line for line in result.stderr.splitlines() if bad_value in line]
    assert len(naming) == 1, result.stderr
    assert "error" in result.stderr.lower(), result.stderr


@pytest.fixture
def newcomer(
    fresh_settings: Settings, prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    monkeypatch.chdir(tmp_path)
    return fresh_settings


def test_readme_first_session_then_the_obvious_mistakes(newcomer, tmp_path):
    commands = first_session()
    assert [c[0] for c in commands][:3] == ["db", "import-wards", "start-programme"]
    assert {"launch", "dispatch", "advance", "status"} <= {c[0] for c in commands}
    for args in commands:
        result = run(*args)
        assert_human_output(result, args)
        if args[0] == "launch":
            assert "wait to be sent: run `wardprog dispatch`" in result.stdout
        if args[0] == "dispatch":
            assert "0 still pending" in result.stdout and " sent" in result.stdout

    # Where a script would want it, --json.
    for args in (
        ["status", "--json"],
        ["plan", "--json"],
        ["advance", "--as-of", "2026-01-21", "--json"],
    ):
        assert_human_output(run(*args), args)
    status = json.loads(run("status", "--json").stdout)
    # Invited, not yet engaged: the engagement stage completes when each event is held.
    assert status["stages"]["diagnostic"] == 15 and status["not_yet_enrolled"] == 45
    assert {"invited", "event", "triage in", "nominated"} <= set(status["wards"][0])

    # Every other command in the reference at least answers --help cleanly.
    for path, _ in docs.walk(docs._root()):
        assert run(*path, "--help").exit_code == 0

    # The obvious mistakes: each refused with one line naming the bad value.
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    headers_only = tmp_path / "headers.csv"
    headers_only.write_text(
        "site_code,site_name,ward_code,ward_name,specialty,beds,manager_name,manager_email\n"
    )
    case_clash = tmp_path / "case.csv"
    case_clash.write_text(
        headers_only.read_text()
        + "NGH,Northgate,NGH-ASH,Ash,Med,20,Ann,ann@nhs.example\n"
        + "NGH,Northgate,ngh-ash,Ash,Med,20,Ann,ann@nhs.example\n"
    )
    mistakes: list[tuple[list[str], str]] = [
        (["generate-extracts", "--start", "2026-06-01", "--end", "2026-01-01"], "2026-01-01"),
        (["demo", "--start", "2026-06-01", "--end", "2026-01-01"], "2026-01-01"),
        (["start-programme", "--start", "2027-01-04"], "2027-01-04"),
        (["launch", "--as-of", "2025-06-01"], "2025-06-01"),
        (["status", "--as-of", "2026-13-01"], "2026-13-01"),
        (["import-wards", str(tmp_path / "missing.csv")], "missing.csv"),
        (["import-wards", str(empty)], "empty.csv"),
        (["import-wards", str(headers_only)], "headers.csv"),
        (["import-wards", str(case_clash)], "'ngh-ash'"),
        (["venues", "add", "--site", "XXX", "--name", "Room"], "'XXX'"),
        (["facilitators", "add", "Sam", "sam@nhs.example", "--days", "sat,sun"], "Saturday"),
        (["facilitators", "leave", "add", "nobody@nhs.example", "--from", "2026-03-02"], "nobody"),
        (["facilitators", "leave", "list", "nobody@nhs.example"], "nobody"),
    ]
    assert run("facilitators", "add", "Jo", "jo@nhs.example").exit_code == 0
    mistakes.append(
        (
            [
                "facilitators",
                "leave",
                "add",
                "jo@nhs.example",
                "--from",
                "2026-03-09",
                "--to",
                "2026-03-02",
            ],
            "2026-03-02",
        )
    )
    for args, bad in mistakes:
        assert_refused(run(*args), bad)


def test_a_command_before_db_upgrade_says_so(newcomer):
    result = run("import-wards", str(demo_register_path()))
    assert_refused(result, "wardprog db upgrade")


def test_flow_runs_are_named_with_the_resolved_date(newcomer):
    from prefect import get_client
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.utilities.asyncutils import run_coro_as_sync

    assert run("db", "upgrade").exit_code == 0
    assert run("start-programme", "--start", "2026-01-02").exit_code == 0
    result = run("advance", "--as-of", "2026-02-03")
    assert result.exit_code == 0, result.output
    assert "no wave is open" in result.stdout
    assert run("dispatch", "--as-of", "2026-02-03").stdout.strip() == (
        "2026-02-03: no messages wait to be sent."
    )

    async def names() -> list[str]:
        # Newest first: the worker's Prefect API holds other tests' runs too, past one page.
        async with get_client() as client:
            runs = await client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=50)
            return [r.name for r in runs]

    # Annotated: mypy rejects the TypeVar run_coro_as_sync is typed with (infer_variance=True),
    # so it cannot infer the result's type.
    runs: list[str] = run_coro_as_sync(names()) or []
    assert "advance open waves 2026-02-03" in runs
    assert not any(name.endswith("None") for name in runs)


def test_readme_mentions_prefect_home_and_api_url():
    assert "PREFECT_HOME" in README and "PREFECT_API_URL" in README
    assert Path("var/prefect").as_posix() in README


def test_console_is_quiet_by_default_and_runs_still_log_to_the_api(newcomer, tmp_path):
    """Prefect's INFO logs reach the API (the UI) whatever the console shows; -v shows them."""
    import os
    import subprocess
    import sys

    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterName,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.settings import PREFECT_API_URL
    from prefect.utilities.asyncutils import run_coro_as_sync

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_API_URL": str(PREFECT_API_URL.value()), "COLUMNS": "140"}
    wardprog = str(Path(sys.executable).parent / "wardprog")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [wardprog, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        return done

    cli("db", "upgrade")
    cli("start-programme", "--start", "2026-01-02")
    quiet = cli("advance", "--as-of", "2026-02-04")
    assert "INFO" not in quiet.stderr and "no wave is open" in quiet.stdout
    loud = cli("-v", "advance", "--as-of", "2026-02-05")
    assert "INFO" in loud.stderr and "advance open waves 2026-02-05" in loud.stderr
    # PREFECT_HOME defaults to var/prefect under the working directory.
    assert (tmp_path / "var" / "prefect").is_dir()

    async def info_logs(name: str) -> list[int]:
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
            )
            assert runs, name
            logs = await client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[runs[0].id]))
            )
            return [log.level for log in logs]

    levels: list[int] = run_coro_as_sync(info_logs("advance open waves 2026-02-04")) or []
    assert 20 in levels, levels
