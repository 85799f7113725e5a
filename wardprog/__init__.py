"""wardprog: the workflow engine behind a trust's ward improvement programme."""

__version__ = "0.1.0"
