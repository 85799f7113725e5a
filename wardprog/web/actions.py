"""The ward page's and team page's forms: each builds one command and hands it to the bus."""

from __future__ import annotations

from fastapi import FastAPI


def register_actions(app: FastAPI) -> None:
    """Routes for every form on the pages."""
