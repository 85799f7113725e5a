"""`python -m wardprog.cli`: the same app as the `wardprog` console script."""

from wardprog.cli.app import app

app()
