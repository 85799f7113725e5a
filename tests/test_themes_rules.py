"""Theme grouping: the same problem in different words is one theme; different problems are not,
even when most of their characters agree."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from wardprog.rules.themes import Issue, assign, similarity, words

HOIST = [
    "One hoist for 28 beds",
    "only one hoist on the ward",
    "Hoist shortage - one hoist between 28 beds",
    "ONE HOIST for the whole ward!!",
    "One hoist for 28 beds means long waits to get patients up",
]
OTHERS = [
    "Sluice door sticks",
    "No time for breaks on nights",
    "Drug trolley keys go missing",
    "Not enough staff on night shifts",
    "Not enough hoists for night shifts",
]


def test_variants_of_one_problem_share_a_theme_and_others_do_not() -> None:
    issues = [Issue(i, t) for i, t in enumerate(HOIST + OTHERS, start=1)]
    result = {a.item_id: a.theme_key for a in assign({}, issues)}
    assert len({result[i] for i in range(1, len(HOIST) + 1)}) == 1
    other_keys = [result[i] for i in range(len(HOIST) + 1, len(issues) + 1)]
    assert len(set(other_keys)) == len(OTHERS)
    assert result[1] not in other_keys


def test_one_different_word_is_a_different_problem() -> None:
    staff, hoists = (
        words("Not enough staff on night shifts"),
        words("Not enough hoists for night shifts"),
    )
    assert staff == {"enough", "staff", "night", "shift"}
    assert similarity(staff, hoists) == 0.75  # below the 0.8 threshold


def test_existing_themes_are_kept_and_new_ones_numbered_on() -> None:
    known = {"T1": ["One hoist for 28 beds"]}
    got = assign(known, [Issue(9, "only one hoist on the ward"), Issue(10, "Sluice door sticks")],
                 next_number=2)  # fmt: skip
    assert [(a.item_id, a.theme_key, a.new) for a in got] == [(9, "T1", False), (10, "T2", True)]


def test_words() -> None:
    assert words("The hoists, the BEDS and a Sluice; batteries") == {"hoist", "sluice", "battery"}


@given(st.permutations(list(enumerate(HOIST + OTHERS, start=1))))
def test_result_does_not_depend_on_input_order(order: list[tuple[int, str]]) -> None:
    issues = [Issue(i, t) for i, t in order]
    canonical = [Issue(i, t) for i, t in sorted(order)]
    assert assign({}, issues) == assign({}, canonical)


@given(st.lists(st.text(min_size=0, max_size=40), max_size=30))
def test_every_issue_gets_exactly_one_theme(texts: list[str]) -> None:
    issues = [Issue(i, t) for i, t in enumerate(texts, start=1)]
    result = assign({}, issues)
    assert sorted(a.item_id for a in result) == [i.item_id for i in issues]
    assert sum(a.new for a in result) == len({a.theme_key for a in result})
