"""Routing: exact tag matching, addressed mail, secrets from the environment, redaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wardprog.config import Settings
from wardprog.errors import ConfigError
from wardprog.notify.routing import (
    Router,
    default_router,
    load_router,
    parse_config,
    redact_url,
)

ward_codes = st.from_regex(r"W-[A-C][0-9]{1,3}", fullmatch=True)


def hooks_config(codes: list[str]) -> str:
    lines = ["urls:"]
    for n, code in enumerate(codes):
        lines += [f"  - json://127.0.0.1:{9000 + n}/{code}:", f"      - tag: {code}"]
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None)
@given(st.lists(ward_codes, min_size=2, max_size=8, unique_by=str.lower))
def test_a_wards_message_only_routes_to_that_wards_destination(codes: list[str]) -> None:
    router = parse_config(hooks_config(codes))
    for n, code in enumerate(codes):
        targets = router.targets_for([code], recipients=[f"manager.{code}@trust.example"])
        assert [t.label for t in targets] == [f"json://127.0.0.1:{9000 + n}/…"]


def test_prefix_of_a_ward_code_matches_nothing() -> None:
    router = parse_config(hooks_config(["W-A01", "W-A011"]))
    assert [t.label for t in router.targets_for(["W-A01"])] == ["json://127.0.0.1:9000/…"]
    assert [t.label for t in router.targets_for(["w-a011"])] == ["json://127.0.0.1:9001/…"]
    assert router.targets_for(["W-A0"]) == []
    assert router.targets_for([]) == []


def test_untagged_destination_receives_nothing() -> None:
    router = parse_config("urls:\n  - json://127.0.0.1:9000/\n")
    assert router.targets_for(["W-A01", "improvement-team"], ["a@trust.example"]) == []


@pytest.mark.parametrize("tag", ["always", "all"])
def test_apprise_catch_all_tags_are_refused(tag: str) -> None:
    with pytest.raises(ConfigError, match="every ward's messages"):
        parse_config(f"urls:\n  - json://127.0.0.1:9000/:\n      - tag: {tag}\n")


def test_direct_mail_goes_one_per_recipient_and_fixed_to_is_kept() -> None:
    router = parse_config(
        """
urls:
  - mailto://127.0.0.1:2525?from=wardprog@trust.example&mode=insecure:
      - tag: direct
  - mailto://127.0.0.1:2525?from=wardprog@trust.example&mode=insecure:
      - tag: improvement-team
        to: qi.team@trust.example
"""
    )
    targets = router.targets_for(["W-A01"], ["a@trust.example", "b@trust.example"])
    assert [t.recipient for t in targets] == ["a@trust.example", "b@trust.example"]
    plugin: Any = targets[0].instantiate("key-1")
    assert [addr for _, addr in plugin.targets] == ["a@trust.example"]
    assert plugin.headers["X-Wardprog-Key"] == "key-1"

    team = router.targets_for(["improvement-team"])
    assert [t.recipient for t in team] == [None]
    team_plugin: Any = team[0].instantiate("k")
    assert [addr for _, addr in team_plugin.targets] == ["qi.team@trust.example"]
    # No recipients, no "direct": a ward message with nobody named reaches no relay.
    assert router.targets_for(["W-A01"]) == []


def test_direct_on_a_fixed_destination_is_refused() -> None:
    with pytest.raises(ConfigError, match="'direct'"):
        parse_config("urls:\n  - json://127.0.0.1:9000/:\n      - tag: direct\n")


def test_secrets_come_from_the_environment_url_encoded_and_are_scrubbed() -> None:
    router = parse_config(
        "urls:\n  - json://bot:${HOOK_PASSWORD}@127.0.0.1:9000/${HOOK_TOKEN}:\n"
        "      - tag: W-A01\n",
        environ={"HOOK_PASSWORD": "p@ss/word", "HOOK_TOKEN": "tok123"},
    )
    [target] = router.targets_for(["W-A01"])
    assert target.route.server.password == "p@ss/word"
    assert "tok123" not in target.label and "p@ss" not in target.label
    scrubbed = router.scrub("failed: json://bot:p%40ss%2Fword@127.0.0.1:9000/tok123 said tok123")
    assert "tok123" not in scrubbed and "p%40ss" not in scrubbed
    assert "json://127.0.0.1:9000/…" in scrubbed


def test_missing_environment_variable_names_the_variable_not_a_value(tmp_path: Path) -> None:
    path = tmp_path / "apprise.yml"
    path.write_text("urls:\n  - json://127.0.0.1:9000/${NOT_SET_ANYWHERE}:\n      - tag: x\n")
    settings = Settings(notify_config=path)
    with pytest.raises(ConfigError, match=r"NOT_SET_ANYWHERE is not set") as info:
        load_router(settings, environ={})
    assert str(path) in str(info.value)


def test_unreadable_or_invalid_config_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_router(Settings(notify_config=tmp_path / "missing.yml"))
    with pytest.raises(ConfigError):
        parse_config("urls:\n  - nosuchscheme://x:\n      - tag: a\n")


def test_default_routes_everything_to_the_outbox(tmp_path: Path) -> None:
    router = default_router(Settings(output_dir=tmp_path / "out"))
    [target] = router.targets_for(["anything"], ["a@trust.example"])
    assert target.label == f"outbox://{(tmp_path / 'out' / 'outbox').resolve()}"
    assert isinstance(router, Router)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mailtos://user:pw@smtp.trust.nhs.uk:587/?to=a@b", "mailtos://smtp.trust.nhs.uk:587/…"),
        ("json://hooks.example/ward7/SECRET", "json://hooks.example/…"),
        ("json://127.0.0.1:8080", "json://127.0.0.1:8080"),
        ("outbox:///srv/out?format=html", "outbox:///srv/out"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_invalid_recipient_fails_instead_of_falling_back_to_the_sender() -> None:
    router = parse_config(
        "urls:\n  - mailto://127.0.0.1:2525?from=wardprog@trust.example&mode=insecure:\n"
        "      - tag: direct\n"
    )
    [target] = router.targets_for(["W-A01"], ["not-an-address"])
    with pytest.raises(ValueError, match="not a valid e-mail address"):
        target.instantiate("key")


def test_router_repr_never_shows_secrets() -> None:
    router = parse_config(
        "urls:\n  - json://127.0.0.1:9000/${T}:\n      - tag: a\n", environ={"T": "tok-999"}
    )
    assert "tok-999" not in repr(router)
