"""Trust-wide themes: the same problem raised on many wards, recognised as one. Pure, no I/O.

Staff write the same issue in their own words ("One hoist for 28 beds", "only one hoist on the
ward", "Hoist shortage - one hoist between 28 beds"). How the texts are compared, and why:

* **Word level, not characters.** Character-level fuzzy scores (rapidfuzz's token-set ratio was
  measured on the draft) put "Not enough staff on night shifts" and "Not enough hoists for
  night shifts" in one theme: most characters agree, but the one word that differs is the
  problem. Here a text is its set of content words (lower case, numbers kept, stopwords and the
  words every ward issue shares - ward, bed, patient - dropped, plurals folded), and two texts
  match when the words they share are at least ``threshold`` (0.8) of the shorter text's words
  and at least two words (or one, for a one-word issue). "enough staff night shift" vs "enough
  hoist night shift" shares 3 of 4: not a match.
* **Unweighted, not TF-IDF.** Inverse document frequency would down-weight exactly the words of
  a problem thirty wards raise ("hoist"), and its weights shift as every new item arrives, so
  the same text could score differently next month. An unweighted word overlap depends only on
  the two texts: re-running never moves an item, and no new dependency is needed.
* **Against every member.** A new item is compared with every item already in a theme (not one
  representative), so a short statement joins through any phrasing close to it; the best
  theme wins, ties to the oldest theme. Only members sharing a word can score above 0, so the
  comparison goes through an inverted index (word -> members): the same result as comparing
  with every member, in time that grows with the matches, not with the trust.

Grouping is incremental and stable: an item keeps its theme once assigned; only unassigned items
are placed, in item order (so the result does not depend on the order given). Merges and splits
by the team are facts the service records; this rule never revisits them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "there",
        "this",
        "to",
        "too",
        "we",
        "with",
        "very",
        "not",
        "no",
        "only",
        "just",
        "all",
        "any",
        "each",
        "per",
        "than",
        "get",
        "got",
        "ward",
        "wards",
        "bed",
        "beds",
        "patient",
        "patients",
        "whole",
        "staff's",
    ]
)
DEFAULT_THRESHOLD = 0.8


def _fold(word: str) -> str:
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


# ``assign`` is given every themed item's text on each call (each ward's triage places its new
# items against the whole trust): tokenising them afresh each time cost more than everything
# else in the ward's triage stage and grew with the trust. A text's words depend on the text
# alone, so they are remembered (bounded, for a long-running worker).
@lru_cache(maxsize=1 << 18)
def words(text: str) -> frozenset[str]:
    """The content words of an issue (see the module docstring)."""
    found = (_fold(w) for w in re.findall(r"[a-z0-9]+", text.casefold()))
    return frozenset(w for w in found if w not in STOPWORDS and _fold(w) not in STOPWORDS)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Share of the shorter text's words found in the other; 0 when too few words are shared."""
    if not a or not b:
        return 0.0
    shared = len(a & b)
    if shared < min(2, len(a), len(b)):
        return 0.0
    return shared / min(len(a), len(b))


@dataclass(frozen=True)
class Issue:
    item_id: int
    text: str
    # Issues are placed ward by ward, each ward's in the order raised: a wave's wards are
    # triaged concurrently, so item ids interleave by timing and cannot order them alone.
    ward: str = ""


@dataclass(frozen=True)
class Assignment:
    item_id: int
    theme_key: str
    new: bool  # the item starts this theme


def assign(
    members: Mapping[str, Sequence[str]],
    issues: Sequence[Issue],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    next_number: int = 1,
) -> list[Assignment]:
    """Each issue's theme: the best-matching existing theme at or above ``threshold``, or a new
    one keyed ``T<n>`` counting on from ``next_number``.

    ``members``: theme key -> the texts already in it, oldest theme first.
    """
    # An inverted index (word -> the theme texts holding it): a text sharing no word with the new
    # issue scores 0, so only texts sharing a word are compared. That keeps a trust-wide rollout
    # (tens of thousands of items) linear, with exactly the scores and ties of a full comparison.
    # A theme's score is its best member's, so a theme holding the same words twice scores as it
    # would holding them once: each (theme, words) is indexed once. Issues repeat ("not enough
    # staff on nights"), and a trust's themes hold the same wording from many wards, each of
    # which every later issue sharing a word used to be compared with.
    order: dict[str, int] = {}  # theme key -> age (oldest first), the tie-break
    texts: list[tuple[str, frozenset[str]]] = []  # (theme key, words), each pair once
    held: set[tuple[str, frozenset[str]]] = set()
    index: dict[str, list[int]] = defaultdict(list)  # word -> positions in ``texts``

    def add(key: str, mine: frozenset[str]) -> None:
        order.setdefault(key, len(order))
        if (key, mine) in held:
            return
        held.add((key, mine))
        for word in mine:
            index[word].append(len(texts))
        texts.append((key, mine))

    for key, members_texts in members.items():
        order.setdefault(key, len(order))
        for text in members_texts:
            add(key, words(text))
    out: list[Assignment] = []
    n = next_number
    for issue in sorted(issues, key=lambda i: (i.ward, i.item_id)):
        mine = words(issue.text)
        candidates = {pos for word in mine for pos in index.get(word, ())}
        scores: dict[str, float] = {}
        for pos in candidates:
            key, theirs = texts[pos]
            score = similarity(mine, theirs)
            if score > scores.get(key, 0.0):
                scores[key] = score
        best_key, best = None, 0.0
        # Oldest theme first, as a full scan would meet them: a later theme wins only if better.
        for key in sorted(scores, key=order.__getitem__):
            score = scores[key]
            if score >= threshold and score > best:
                best_key, best = key, score
        if best_key is not None:
            add(best_key, mine)
            out.append(Assignment(issue.item_id, best_key, new=False))
            continue
        key = f"T{n}"
        n += 1
        add(key, mine)
        out.append(Assignment(issue.item_id, key, new=True))
    return out
