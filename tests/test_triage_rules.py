"""Pure triage rules: row validation properties, routing defaults and the IHI scale."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wardprog.rules.triage import (
    IHI_SCORES,
    RawTriageRow,
    TriageDefaults,
    check_ihi_score,
    iso_week,
    issue_key,
    overdue_since,
    route,
    validate_rows,
)

_text = st.text(st.characters(codec="utf-8"), max_size=40)
_category = st.one_of(st.sampled_from(["fix", "Improve", " CHANGE ", "escalate"]), _text, st.none())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.one_of(_text, st.none()), _category, st.one_of(_text, st.none())),
        max_size=12,
    )
)
def test_a_sheet_is_either_all_good_or_every_bad_row_is_named(
    rows: list[tuple[str | None, str | None, str | None]],
) -> None:
    raw = [
        RawTriageRow(row=n, issue=issue, category=cat, raised_by=who)
        for n, (issue, cat, who) in enumerate(rows, start=2)
    ]
    entries, problems = validate_rows(raw)
    keys = [e.issue_key for e in entries]
    assert len(keys) == len(set(keys)), "a duplicate issue was accepted"
    assert all(e.category in {"fix", "improve", "change"} and e.issue for e in entries)
    non_blank = [r for r in raw if not r.is_blank()]
    bad_rows = {p.row for p in problems}
    # Every non-blank row is either accepted or named in a problem, never silently dropped.
    assert {e.row for e in entries} | bad_rows >= {r.row for r in non_blank}
    assert all(
        p.column in {"issue", "category", "raised by", "suggested owner"} for p in problems if p.row
    )


def test_issue_identity_ignores_case_spacing_and_full_stops() -> None:
    assert issue_key("Call bells  not answered.") == issue_key("call bells not answered")
    assert issue_key("Call bells") != issue_key("Call bells at night")


def test_routing_defaults_by_category() -> None:
    as_of = date(2026, 2, 2)
    defaults = TriageDefaults(fix_due_days=21, change_review_days=45)
    (fix, improve, change, owned) = validate_rows(
        [
            RawTriageRow(2, "Drawer broken", category="fix"),
            RawTriageRow(3, "Falls at night", category="improve", raised_by="anonymous"),
            RawTriageRow(4, "Second hoist", category="change"),
            RawTriageRow(5, "Rota gaps", category="fix", suggested_owner="Ward sister"),
        ]
    )[0]
    r = route(fix, ward_manager="Jo Bloggs", as_of=as_of, defaults=defaults)
    assert (r.owner, r.due_date, r.initial_score) == ("Jo Bloggs", as_of + timedelta(21), None)
    r = route(improve, ward_manager="Jo Bloggs", as_of=as_of, defaults=defaults)
    assert (r.owner, r.initial_score, r.due_date) == ("Jo Bloggs", 0.5, None)
    assert improve.raised_by is None
    r = route(change, ward_manager="Jo Bloggs", as_of=as_of, defaults=defaults)
    # A change request waits for its matron (the owners register); no placeholder owner.
    assert (r.owner, r.escalated_to) == ("", "")
    assert r.review_date == as_of + timedelta(45)
    assert route(owned, ward_manager="Jo", as_of=as_of, defaults=defaults).owner == "Ward sister"


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-10, max_value=10))
def test_ihi_scale_is_half_steps_from_half_to_five(score: float) -> None:
    if score in IHI_SCORES:
        assert check_ihi_score(score) == score
    else:
        with pytest.raises(ValueError, match="not on the scale"):
            check_ihi_score(score)
    assert sorted(IHI_SCORES) == [x / 2 for x in range(1, 11)]


def test_overdue_and_week_keys() -> None:
    as_of = date(2026, 3, 9)
    assert overdue_since(date(2026, 3, 4), None, as_of) == date(2026, 3, 4)
    assert overdue_since(date(2026, 3, 9), None, as_of) is None  # due today is not overdue
    assert overdue_since(None, date(2026, 3, 1), as_of) == date(2026, 3, 1)
    assert iso_week(date(2026, 1, 1)) == "2026-W01" and iso_week(date(2027, 1, 1)) == "2026-W53"
