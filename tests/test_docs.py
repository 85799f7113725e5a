"""The README's command reference is the app's: generated, and checked here (sqlite-utils' cog)."""

import re

from typer.testing import CliRunner

from wardprog import docs
from wardprog.cli import app

runner = CliRunner()


def _readme_reference() -> str:
    text = docs.README.read_text(encoding="utf-8")
    return text.split(docs.START, 1)[1].split(docs.END, 1)[0]


def test_readme_reference_is_generated_from_the_app():
    assert docs.main(["--check"]) == 0, "run: python -m wardprog.docs"
    assert _readme_reference() == "\n```\n" + docs.command_reference() + "```\n"


def test_every_command_in_help_is_in_the_readme_and_back():
    reference = _readme_reference()
    documented = {
        tuple(line.split()[1:3]) for line in reference.splitlines() if line.startswith("wardprog ")
    }
    for path, _command in docs.walk(docs._root()):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, result.output
        assert "wardprog " + " ".join(path) in reference
        # Help renders as click does: no `<bool>` types, no `{path}` metavars.
        assert "<bool>" not in result.output and not re.search(r"\{\w+\}", result.output)
    top = runner.invoke(app, ["--help"]).output
    for name in {p[0] for p in documented if p and not p[0].startswith(("-", "[", "COMMAND"))}:
        assert name in top


def test_optional_flags_are_shown_optional():
    reference = docs.command_reference()
    assert "[--json]" in reference and " --json" not in reference.replace("[--json]", "")
    assert "wardprog launch [--as-of YYYY-MM-DD]" in reference
    assert "wardprog venues add --site SITE --name NAME [--capacity INTEGER]" in reference


def test_generator_walks_nested_groups():
    paths = [p for p, _ in docs.walk(docs._root())]
    assert ("facilitators", "leave", "add") in paths and ("db", "upgrade") in paths
