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


def _assign_by_full_scan(
    members: dict[str, list[str]], issues: list[Issue], threshold: float = 0.8, next_number: int = 1
) -> list[tuple[int, str, bool]]:
    """The rule as first written: every new issue against every member of every theme."""
    themes = {k: [words(t) for t in v] for k, v in members.items()}
    out, n = [], next_number
    for issue in sorted(issues, key=lambda i: i.item_id):
        mine = words(issue.text)
        best_key, best = None, 0.0
        for key, texts in themes.items():
            score = max((similarity(mine, t) for t in texts), default=0.0)
            if score >= threshold and score > best:
                best_key, best = key, score
        if best_key is not None:
            themes[best_key].append(mine)
            out.append((issue.item_id, best_key, False))
            continue
        themes[f"T{n}"] = [mine]
        out.append((issue.item_id, f"T{n}", True))
        n += 1
    return out


VOCABULARY = ["hoist", "one", "night", "shift", "staff", "enough", "sluice", "door", "28", "key"]


@given(
    st.dictionaries(
        st.sampled_from(["T1", "T2", "T3", "T4"]),
        st.lists(st.lists(st.sampled_from(VOCABULARY), max_size=5).map(" ".join), max_size=4),
        max_size=4,
    ),
    st.lists(st.lists(st.sampled_from(VOCABULARY), max_size=6).map(" ".join), max_size=25),
    st.sampled_from([0.5, 0.8, 1.0]),
)
def test_indexed_lookup_gives_the_full_comparisons_result(
    members: dict[str, list[str]], texts: list[str], threshold: float
) -> None:
    issues = [Issue(i, t) for i, t in enumerate(texts, start=1)]
    got = assign(members, issues, threshold=threshold, next_number=5)
    want = _assign_by_full_scan(members, issues, threshold, next_number=5)
    assert [(a.item_id, a.theme_key, a.new) for a in got] == want
