"""The local API's tuning: set for a process that starts one, explicit settings kept."""

from __future__ import annotations

import os

import pytest

from wardprog.prefect_env import SERVER_TUNING, tune_local_server

STARTUP = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"


def test_the_local_api_gets_time_to_start_on_a_fresh_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in SERVER_TUNING:
        monkeypatch.delenv(key, raising=False)
    tune_local_server()

    assert {key: os.environ[key] for key in SERVER_TUNING} == SERVER_TUNING
    assert int(os.environ[STARTUP]) > 20  # Prefect's own 20 s was too short on a cold start


def test_an_explicit_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STARTUP, "45")
    tune_local_server()

    assert os.environ[STARTUP] == "45"
