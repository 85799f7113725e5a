"""Every `wardprog` command is run in tests as a person runs it: once succeeding, once refusing.

``COVERED`` names, for each command the app has (``wardprog.docs.walk``), the test that runs it
successfully and the test where it refuses bad input with exit 2 and a message on stderr. Both
run the real app (Typer's runner on ``wardprog.cli.app``, or the console script) and, unless the
command reads no database, on SQLite and on PostgreSQL. A new command without both, or a test
that no longer runs its command, fails ``test_every_command_has_a_success_and_an_error_test``.
The tests below it cover commands no other module runs from the command line.
"""

from __future__ import annotations

import ast
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import date
from functools import cache
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from wardprog import docs
from wardprog.cli import app
from wardprog.config import Settings
from wardprog.services.register import demo_register_path

TESTS = Path(__file__).resolve().parent
THIS = "test_cli_every_command.py"

# command -> (success test, error test), as "module.py::test_name" under tests/.
COVERED: dict[str, tuple[str, str]] = {
    "import-wards": (
        "test_cli.py::test_import_plan_and_status",
        "test_cli.py::test_bad_register_exits_2_with_row_and_column",
    ),
    "start-programme": (
        "test_newcomer_session.py::test_readme_first_session_then_the_obvious_mistakes",
        "test_newcomer_session.py::test_readme_first_session_then_the_obvious_mistakes",
    ),
    "plan": (
        "test_cli.py::test_import_plan_and_status",
        "test_newcomer_session.py::test_readme_first_session_then_the_obvious_mistakes",
    ),
    "launch": (
        "test_newcomer_session.py::test_readme_first_session_then_the_obvious_mistakes",
        "test_newcomer_session.py::test_readme_first_session_then_the_obvious_mistakes",
    ),
    "advance": (
        "test_newcomer_session.py::test_readme_first_session_then_the_obvious_mistakes",
        "test_newcomer_session.py::test_readme_first_session_then_the_obvious_mistakes",
    ),
    "dispatch": (
        "test_newcomer_session.py::test_readme_first_session_then_the_obvious_mistakes",
        "test_newcomer_session.py::test_readme_first_session_then_the_obvious_mistakes",
    ),
    "demo": (
        "test_demo_sealed.py::test_demo_leaves_a_real_deployment_untouched",
        "test_newcomer_session.py::test_readme_first_session_then_the_obvious_mistakes",
    ),
    "report": (
        f"{THIS}::test_report_writes_the_dashboard",
        f"{THIS}::test_report_refuses_a_bad_date",
    ),
    "status": (
        "test_cli.py::test_import_plan_and_status",
        "test_newcomer_session.py::test_readme_first_session_then_the_obvious_mistakes",
    ),
    "spc": (
        "test_diagnostics_cli.py::test_spc_json_contract",
        "test_diagnostics_cli.py::test_spc_bad_input_names_row_and_column",
    ),
    "check-extracts": (
        "test_diagnostics_cli.py::test_generate_then_check_extracts",
        "test_extract_plausibility.py::test_check_extracts_lists_every_problem_briefly",
    ),
    "generate-extracts": (
        "test_diagnostics_cli.py::test_generate_then_check_extracts",
        "test_newcomer_session.py::test_readme_first_session_then_the_obvious_mistakes",
    ),
    "web": (
        f"{THIS}::test_web_serves_the_team_page_from_the_console_script",
        f"{THIS}::test_web_refuses_to_start_without_its_signing_key",
    ),
    "links": (
        "test_web.py::test_links_command_prints_a_working_link",
        "test_web.py::test_links_command_prints_a_working_link",
    ),
    "audit": (
        "test_commands_cli.py::test_audit_lists_actions_by_ward_and_date",
        "test_commands_cli.py::test_audit_lists_actions_by_ward_and_date",
    ),
    "evaluate": (
        "test_evaluation_cli.py::test_programme_metric_from_the_database",
        f"{THIS}::test_evaluate_refuses_an_unknown_metric",
    ),
    "kpis": (
        "test_projects.py::test_scorecard_from_hand_counted_records",
        f"{THIS}::test_kpis_refuses_a_bad_date",
    ),
    "db upgrade": (
        f"{THIS}::test_db_upgrade_then_current",
        f"{THIS}::test_db_upgrade_refuses_an_unknown_revision",
    ),
    "db current": (f"{THIS}::test_db_upgrade_then_current", f"{THIS}::test_db_current_refuses"),
    "venues add": ("test_cli.py::test_venues_and_facilitators",) * 2,
    "venues list": ("test_cli.py::test_venues_and_facilitators", f"{THIS}::test_lists_refuse"),
    "facilitators add": ("test_cli.py::test_venues_and_facilitators",) * 2,
    "facilitators list": (
        "test_cli.py::test_venues_and_facilitators",
        f"{THIS}::test_lists_refuse",
    ),
    "facilitators leave add": ("test_cli.py::test_venues_and_facilitators",) * 2,
    "facilitators leave remove": ("test_cli.py::test_venues_and_facilitators",) * 2,
    "facilitators leave list": (
        "test_cli.py::test_venues_and_facilitators",
        f"{THIS}::test_lists_refuse",
    ),
    "items close": (
        "test_commands_cli.py::test_close_item_records_audits_and_tells_the_ward",
        "test_commands_cli.py::test_close_refuses_unknown_item_and_empty_outcome",
    ),
    "items reopen": ("test_commands_cli.py::test_reopen_then_close_again_is_news_again",) * 2,
    "items score": ("test_commands_cli.py::test_score_project",) * 2,
    "items decide": ("test_commands_cli.py::test_decide_change",) * 2,
    "staff import": ("test_commands_cli.py::test_staff_import",) * 2,
    "qsir register": ("test_commands_cli.py::test_take_register_from_options_and_file",) * 2,
    "qsir nominate": ("test_commands_cli.py::test_qsir_nominate",) * 2,
    "qsir presented": ("test_commands_cli.py::test_presented_withdraw_defer_requeue",) * 2,
    "qsir projects": ("test_qsir_projects.py::test_link_then_one_score_counts_for_both",) * 2,
    "qsir project": ("test_qsir_projects.py::test_link_then_one_score_counts_for_both",) * 2,
    "qsir withdraw": ("test_commands_cli.py::test_presented_withdraw_defer_requeue",) * 2,
    "qsir defer": ("test_commands_cli.py::test_presented_withdraw_defer_requeue",) * 2,
    "qsir requeue": ("test_commands_cli.py::test_presented_withdraw_defer_requeue",) * 2,
    "events list": ("test_commands_cli.py::test_events_list_reschedule_cancel",) * 2,
    "events reschedule": ("test_commands_cli.py::test_events_list_reschedule_cancel",) * 2,
    "events held": ("test_events_held.py::test_record_event_held_from_the_command_line",) * 2,
    "events cancel": ("test_commands_cli.py::test_events_list_reschedule_cancel",) * 2,
    "wards defer": ("test_deferral.py::test_defer_ward_from_the_command_line",) * 2,
    "wards preferences": ("test_commands_cli.py::test_ward_preferences",) * 2,
    "owners import": ("test_owners.py::test_owners_cli_imports_lists_and_refuses_a_bad_file",) * 2,
    "inbox file": ("test_team_inbox.py::test_cli_files_every_team_return_and_prints_json",) * 2,
    "themes merge": ("test_themes.py::test_merge_and_split_by_command_and_the_cli_lists_themes",)
    * 2,
    "themes split": ("test_themes.py::test_merge_and_split_by_command_and_the_cli_lists_themes",)
    * 2,
    "projects chart": (
        "test_project_charts.py::test_measure_chart_in_the_pack_matches_spc",
        f"{THIS}::test_project_chart_and_pack_refuse_what_is_not_there",
    ),
    "projects pack": (
        "test_project_charts.py::test_measure_chart_in_the_pack_matches_spc",
        f"{THIS}::test_project_chart_and_pack_refuse_what_is_not_there",
    ),
    "projects start": ("test_projects.py::test_start_and_update_a_project",) * 2,
    "projects update": ("test_projects.py::test_start_and_update_a_project",) * 2,
    "projects score": ("test_projects.py::test_a_score_of_three_or_more_needs_evidence",) * 2,
    "projects measure": (
        "test_projects.py::test_a_score_of_three_or_more_needs_evidence",
        "test_projects.py::test_own_measurements_refuse_what_they_cannot_record",
    ),
    "pdsa add": ("test_projects.py::test_pdsa_and_coaching_logs",) * 2,
    "coaching add": ("test_projects.py::test_pdsa_and_coaching_logs",) * 2,
    "qi-events qi-cafe": (
        "test_projects.py::test_qi_events_take_attendees_from_the_staff_register",
    )
    * 2,
    "qi-events training": (
        "test_projects.py::test_qi_events_take_attendees_from_the_staff_register",
    )
    * 2,
}

# Commands that read only the files they are given: one backend is the whole story.
NO_DATABASE = {"spc"}

SUCCESS = re.compile(r"exit_code == 0|\bok\(|assert_human_output\(|\.returncode in \(0")
REFUSAL = re.compile(r"exit_code == 2|\brefused\(|assert_refused\(|_refused\(")


@cache
def _module(name: str) -> ast.Module:
    return ast.parse((TESTS / name).read_text(encoding="utf-8"))


def _source(ref: str) -> tuple[str, set[str]]:
    """A test's code and string literals, with those of the module helpers it calls."""
    name, function = ref.split("::")
    module = _module(name)
    functions = {n.name: n for n in module.body if isinstance(n, ast.FunctionDef)}
    test = functions.get(function)
    assert test is not None, f"{ref}: no such test"
    called = {n.id for n in ast.walk(test) if isinstance(n, ast.Name) and n.id in functions}
    nodes = [test, *(functions[c] for c in sorted(called - {function}))]
    code = "\n".join(ast.unparse(n) for n in nodes)
    words = {
        word
        for node in nodes
        for c in ast.walk(node)
        if isinstance(c, ast.Constant) and isinstance(c.value, str)
        for word in c.value.split()
    }
    return code, words


def _runs_the_real_app(name: str) -> bool:
    text = (TESTS / name).read_text(encoding="utf-8")
    return "from wardprog.cli import app" in text or "SCRIPT" in text


@cache
def _collected() -> frozenset[str]:
    """Every collected test id of the modules COVERED names (parametrised ids included)."""
    modules = sorted({ref.split("::")[0] for pair in COVERED.values() for ref in pair})
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist", *modules],
        cwd=TESTS,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return frozenset(line.strip() for line in done.stdout.splitlines() if "::" in line)


def _backends(ref: str) -> set[str]:
    name, function = ref.split("::")
    pattern = re.compile(rf"(?:tests/)?{re.escape(name)}::{re.escape(function)}\[(.*)\]$")
    found = set()
    for test_id in _collected():
        match = pattern.match(test_id)
        if match:
            found |= {"sqlite", "postgres"} & set(match.group(1).split("-"))
    return found


def test_every_command_has_a_success_and_an_error_test() -> None:
    commands = {" ".join(path) for path, _ in docs.walk(docs._root())}
    assert commands - set(COVERED) == set(), "commands with no test named in COVERED"
    assert set(COVERED) - commands == set(), "COVERED names commands the app no longer has"
    problems = []
    for command, (success, error) in sorted(COVERED.items()):
        for ref, marker, what in ((success, SUCCESS, "success"), (error, REFUSAL, "refusal")):
            code, words = _source(ref)
            if not set(command.split()) <= words:
                problems.append(f"{command}: {ref} does not run it")
            if not marker.search(code):
                problems.append(f"{command}: {ref} checks no {what}")
            if not _runs_the_real_app(ref.split("::")[0]):
                problems.append(f"{command}: {ref} does not run the real app")
            if command not in NO_DATABASE and _backends(ref) != {"sqlite", "postgres"}:
                problems.append(f"{command}: {ref} does not run on SQLite and PostgreSQL")
    assert problems == [], "\n".join(problems)


# --- commands no other module runs from the command line -----------------------------------

runner = CliRunner()


def cli(*args: str) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def refused(result: Result, says: str) -> None:
    """Exit 2, and the message on stderr (stdout stays for output), with no traceback."""
    assert result.exit_code == 2, result.output
    assert says in result.stderr, result.stderr
    assert "Traceback" not in result.output + result.stderr


@pytest.fixture
def registered(settings: Settings) -> Settings:
    result = cli("import-wards", str(demo_register_path()))
    assert result.exit_code == 0, result.output
    return settings


def test_report_writes_the_dashboard(registered: Settings) -> None:
    result = cli("report", "--as-of", "2026-03-02")
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.split("dashboard:", 1)[1].strip())
    assert "Ward improvement programme: dashboard" in path.read_text(encoding="utf-8")


def test_report_refuses_a_bad_date(registered: Settings) -> None:
    refused(cli("report", "--as-of", "2026-02-30"), "'2026-02-30' is not a date")


def test_kpis_refuses_a_bad_date(registered: Settings) -> None:
    refused(cli("kpis", "--as-of", "last week"), "'last week' is not a date")


def test_evaluate_refuses_an_unknown_metric(registered: Settings) -> None:
    refused(cli("evaluate", "--metric", "happiness", "--json"), "happiness")


def test_lists_refuse(registered: Settings) -> None:
    refused(cli("venues", "list", "--site"), "No such option")
    refused(cli("facilitators", "list", "--all"), "No such option")
    refused(cli("facilitators", "leave", "list", "nobody@nhs.example"), "nobody@nhs.example")


def test_project_chart_and_pack_refuse_what_is_not_there(registered: Settings) -> None:
    refused(cli("projects", "chart", "999", "--metric", "falls_per_1000_obd"), "999")
    refused(cli("projects", "pack", "NGH-NOPE"), "NGH-NOPE")


def test_db_upgrade_then_current(fresh_settings: Settings) -> None:
    before = cli("db", "current")
    assert before.exit_code == 0 and "(empty database)" in before.stdout, before.output
    upgraded = cli("db", "upgrade")
    assert upgraded.exit_code == 0 and "database at revision head" in upgraded.stdout
    after = cli("db", "current")
    assert after.exit_code == 0, after.output
    assert re.fullmatch(r"[0-9a-z_]+( \(head\))?", after.stdout.strip()), after.stdout


def test_db_upgrade_refuses_an_unknown_revision(fresh_settings: Settings) -> None:
    refused(cli("db", "upgrade", "no-such-revision"), "no-such-revision")


def test_db_current_refuses(fresh_settings: Settings) -> None:
    refused(cli("db", "current", "extra"), "unexpected extra argument")


SCRIPT = Path(sys.executable).with_name("wardprog")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_web_serves_the_team_page_from_the_console_script(registered: Settings) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [str(SCRIPT), "web", "--port", str(port), "--as-of", str(date(2026, 3, 2))],
        env={**os.environ, "WARDPROG_WEB_SECRET": "a key for this test only"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        status = None
        for _ in range(300):  # up to 30 s on a loaded machine
            if server.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
                    status = answer.status
                    break
            except urllib.error.HTTPError as answer:  # served, but asks for a signed link
                status = answer.code
                break
            except OSError:
                time.sleep(0.1)
        assert status is not None and status < 500, (status, server.poll())
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    assert f"Ward pages on http://127.0.0.1:{port}/" in out, out + err
    # uvicorn shuts down cleanly, then re-raises the SIGTERM it caught.
    assert server.returncode in (0, -signal.SIGTERM), err


def test_web_refuses_to_start_without_its_signing_key(registered: Settings) -> None:
    refused(cli("web", "--port", str(_free_port())), "WARDPROG_WEB_SECRET is not set")
    refused(cli("web", "--as-of", "2026-02-30"), "'2026-02-30' is not a date")


@pytest.mark.parametrize("args", [["spc", "--help"], ["db", "current", "--help"], ["nosuch"]])
def test_the_console_script_builds_only_the_command_named_and_answers_the_same(
    args: list[str],
) -> None:
    """Run as a person runs it, the app builds one command: help and errors are unchanged."""
    env = {**os.environ, "COLUMNS": "80"}
    script = subprocess.run(
        [str(SCRIPT), *args], env=env, capture_output=True, text=True, check=False
    )
    # click wraps help at min(terminal, 80) - 2 columns; the runner takes the width as given.
    full = runner.invoke(app, args, prog_name="wardprog", terminal_width=78)
    assert (script.returncode, script.stdout, script.stderr) == (
        full.exit_code,
        full.stdout,
        full.stderr,
    )
