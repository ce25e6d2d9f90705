"""Folding and transliteration: every script meets its Latin spelling; case, accents, punctuation fold."""

# ruff: noqa: RUF001 (names in many scripts, on purpose)

from __future__ import annotations

import pytest

from cadenza.search.folding import fold, fold_keyword, query_forms


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Beyoncé", ("beyonce",)),
        ("MOTÖRHEAD", ("motorhead",)),
        ("Sigur Rós", ("sigur", "ros")),
        ("Кино", ("kino",)),
        ("Μίκης Θεοδωράκης", ("mikis", "theodorakis")),
        ("宇多田ヒカル", ("utada", "hikaru")),
        ("周杰伦", ("zhou", "jie", "lun")),
        ("فيروز", ("fyrwz",)),
        ("방탄소년단", ("bangtansonyeondan",)),
        ("Ｆｕｌｌ　Ｗｉｄｔｈ", ("full", "width")),
        ("🎵 Love ♪", ("love",)),
    ],
)
def test_words_in_reading_order(text: str, words: tuple[str, ...]) -> None:
    assert fold(text).words == words


@pytest.mark.parametrize(
    ("text", "key"),
    [("AC/DC", "acdc"), ("R.E.M.", "rem"), ("Guns N' Roses", "gunsnroses"), ("Jay-Z", "jayz"), ("", "")],
)
def test_punctuation_does_not_matter_to_the_key(text: str, key: str) -> None:
    assert fold(text).key == key


def test_punctuated_names_are_also_one_word() -> None:
    assert "acdc" in fold("AC/DC").terms and {"ac", "dc"} <= set(fold("AC/DC").terms)
    assert "rem" in fold("R.E.M.").terms


def test_kanji_names_get_japanese_readings_whole_and_split() -> None:
    terms = set(fold("坂本龍一").terms)
    assert {"sakamoto", "ryuichi", "sakamotoryuichi"} <= terms
    assert "banbenlongyi" in terms  # and the pinyin, since kanji alone could be Chinese


def test_pinyin_syllables_are_joined_as_names_are_written() -> None:
    assert {"zhoujielun", "jielun"} <= set(fold("周杰伦").terms)


def test_japanese_long_vowels_are_shortened() -> None:
    assert "tokyo" in fold("東京").terms


def test_abjad_words_are_marked_for_skeleton_keys() -> None:
    assert fold("أم كلثوم").abjad == {"m", "klthwm"}
    assert fold("Kino").abjad == frozenset()


def test_query_forms() -> None:
    assert query_forms("AC/DC") == ("acdc",)
    assert query_forms("坂本龍一") == ("banbenlongyi", "sakamotoryuichi")
    assert query_forms("!!!") == ()


def test_keyword() -> None:
    assert fold_keyword("Hip-Hop") == fold_keyword("hip hop") == "hiphop"
    assert fold_keyword("   ") is None and fold_keyword(None) is None


def test_very_long_input_is_bounded() -> None:
    folded = fold("a" * 5000 + " b")
    assert folded.words == () or all(len(w) <= 60 for w in folded.words)
