"""Query parsing, tiers and cursors: what a query asks for, and refusals with a reason."""

from __future__ import annotations

import pytest

from cadenza.errors import InvalidInput
from cadenza.search.backends.postgres import tsquery
from cadenza.search.backends.sqlite import fts_query
from cadenza.search.query import decode_cursor, encode_cursor, parse_query
from cadenza.search.ranking import Tier, level


def test_words_and_phrases() -> None:
    q = parse_query('"Let It Be" beatles')
    assert [w.text for w in q.words] == ["beatles"]
    assert q.phrases == (("let", "it", "be"),)


def test_unbalanced_quote_is_plain_words() -> None:
    assert [w.text for w in parse_query('"let it be').words] == ["let", "it", "be"]


@pytest.mark.parametrize("q", ["", "   ", "x" * 201, " ".join(["w"] * 17)])
def test_refused(q: str) -> None:
    with pytest.raises(InvalidInput):
        parse_query(q)


def test_symbols_only_is_an_empty_query() -> None:
    assert parse_query("🎵♪!!").empty


def test_levels_loosen_tier_by_tier() -> None:
    q = parse_query("queen bohem")
    words, prefix = level(q, Tier.words), level(q, Tier.prefix)
    assert words is not None and prefix is not None
    assert tsquery(words) == "(queen) & (bohem)"
    assert tsquery(prefix) == "(queen:*) & (bohem:*)"
    assert fts_query(prefix) == '("queen"*) AND ("bohem"*)'
    phrase = level(q, Tier.phrase)
    assert phrase is not None and tsquery(phrase).startswith("(queen:A <-> bohem:A | ")
    assert level(parse_query("queen"), Tier.phrase) is None


def test_only_the_last_word_may_be_a_one_letter_prefix() -> None:
    lvl = level(parse_query("a b"), Tier.prefix)
    assert lvl is not None and fts_query(lvl) == '("a") AND ("b"*)'


def test_cursor_round_trip_and_garbage() -> None:
    assert decode_cursor(encode_cursor(40, "abc"), "abc") == 40
    assert decode_cursor(None, "abc") == 0
    for bad in ("garbage", "%%%", encode_cursor(40, "other"), encode_cursor(-1, "abc"), "eyJvIjoxfQ"):
        with pytest.raises(InvalidInput):
            decode_cursor(bad, "abc")


def _words(lvl: tuple) -> list[list[str]]:
    return [[a.term for a in c.alts] for c in lvl]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("guns and roses", [["and", "roses"], ["guns", "roses"], ["guns", "and"]]),
        ("99 balloons", [["balloons"], ["99"]]),  # a number says something
        ("li beirut", [["beirut"]]),  # `li` alone would match every `like`
        ("queen", []),  # one word: nothing to leave out
        ("a b c d e f g", []),  # beyond six words
    ],
)
def test_partial_levels_leave_out_one_word_at_a_time(q: str, expected: list[list[str]]) -> None:
    from cadenza.search.service import partial_levels

    lvl = level(parse_query(q), Tier.words)
    assert lvl is not None
    assert [[terms[0] for terms in _words(x)] for x in partial_levels(lvl)] == expected
