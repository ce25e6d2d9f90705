"""Phonetic keys and typo measures: names that sound alike share keys; typos are near, others are not."""

from __future__ import annotations

import pytest

from cadenza.search.phonetic import metaphone_keys, skeleton
from cadenza.search.similarity import edit_distance, is_typo_of, max_edits, similarity, trigrams


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("shopan", "chopin"),
        ("tchaikovski", "tchaikovsky"),
        ("chaykovskiy", "tchaikovsky"),
        ("filip", "philip"),
        ("glas", "glass"),
        ("metalica", "metallica"),
        ("fairuz", "fyrwz"),
    ],
)
def test_sound_alikes_share_a_key(a: str, b: str) -> None:
    assert set(metaphone_keys(a)) & set(metaphone_keys(b))


def test_short_words_and_numbers_have_no_phonetic_key() -> None:
    assert metaphone_keys("ab") == () and metaphone_keys("1999") == ()


@pytest.mark.parametrize(
    ("latin", "abjad"), [("fairuz", "fyrwz"), ("omer", "vmr"), ("adam", "dm"), ("kulthum", "klthwm")]
)
def test_skeletons_meet_across_scripts(latin: str, abjad: str) -> None:
    assert skeleton(latin) == skeleton(abjad)


def test_trigrams_match_pg_trgm() -> None:
    # SELECT show_trgm('cat') → {"  c"," ca","at ","cat"}
    assert trigrams("cat") == {"  c", " ca", "cat", "at "}
    assert similarity("cat", "cat") == 1.0
    assert similarity("beetles", "beatles") == pytest.approx(5 / 11)


def test_edit_distance_counts_swaps_as_one() -> None:
    assert edit_distance("misirlou", "misirolu", 2) == 1
    assert edit_distance("rhapsodie", "rhapsody", 2) == 2
    assert edit_distance("abc", "xyzuvw", 2) == 3


def test_typo_rule() -> None:
    assert max_edits("ab") == 0 and max_edits("queen") == 1 and max_edits("metalica") == 2
    assert is_typo_of("metalica", "metallica")
    assert is_typo_of("beetles", "beatles")
    assert not is_typo_of("queen", "queen")
    assert not is_typo_of("cat", "dog")
