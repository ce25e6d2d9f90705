"""The LRC parser: what it accepts, what it refuses (with the line number), and properties: any text is
either parsed or refused with InvalidInput, and what `dump` writes parses back to the same lyrics."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza.catalog import lrc
from cadenza.errors import InvalidInput


def test_stamps_tags_offset_and_word_stamps() -> None:
    text = (
        "\ufeff[ar:Ana]\n[ti:Song]\n[la:pt-BR]\n[offset:+500]\n\n"
        "[00:12.50]First line\r\n"
        "[01:02.3][00:30.00]Chorus <00:30.10>with <00:30.60>words\n"
        "[00:40.123]\n"
    )
    parsed = lrc.parse(text)
    assert parsed.language == "pt-BR"
    assert parsed.tags == (("ar", "Ana"), ("ti", "Song"))
    assert parsed.lines == (
        lrc.Line(12_000, "First line"),
        lrc.Line(29_500, "Chorus with words"),
        lrc.Line(39_623, ""),
        lrc.Line(61_800, "Chorus with words"),
    )
    assert parsed.synced


def test_negative_offset_delays_and_times_never_go_below_zero() -> None:
    assert lrc.parse("[offset:-250]\n[00:01.00]a").lines == (lrc.Line(1250, "a"),)
    assert lrc.parse("[offset:2000]\n[00:01.00]a").lines == (lrc.Line(0, "a"),)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("[00:01.00]ok\njust text\n", 2, "neither a time-stamped line"),
        ("[00:01.00]ok\n\n[00:61.00]bad seconds", 3, "61 seconds"),
        ("[ar:x]\n[offset:soon]\n[00:01.00]a", 2, "offset"),
        ("[la:english!]\n[00:01.00]a", 1, "language"),
        ("[00:01.00]ok\n[00:02.00]bell\x07", 2, "control character"),
        ("[00:01.00]ok\n[0\u0661:02.00]other digits", 2, "neither"),  # ARABIC-INDIC DIGIT ONE
    ],
)
def test_malformed_lrc_is_refused_naming_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(InvalidInput) as err:
        lrc.parse(text)
    assert f"line {line}:" in err.value.reason and words in err.value.reason


def test_lrc_with_no_stamp_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no time-stamped line"):
        lrc.parse("[ar:Ana]\n\n")


def test_tags_that_are_not_lrc_become_unsynced_lines() -> None:
    lyrics = lrc.from_tag("\nFirst verse\n  second\tline \n\n", language="eng")
    assert lyrics is not None and not lyrics.synced
    assert [line.text for line in lyrics.lines] == ["First verse", "second line"]
    assert lyrics.language == "eng"
    assert lrc.from_tag("[00:01.00]synced", language="en").lines == (lrc.Line(1000, "synced"),)  # type: ignore[union-attr]
    assert lrc.from_tag(" \n ") is None


# --- properties -------------------------------------------------------------------------------------

_texts = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=60).map(
    lambda s: " ".join(s.split())
)
_line = st.builds(lrc.Line, st.integers(0, lrc.MAX_MS), _texts)
_lyrics = st.builds(
    lrc.Lyrics,
    st.lists(_line, min_size=1, max_size=20).map(lambda ls: tuple(sorted(ls, key=lambda x: x.start_ms))),
    st.sampled_from([None, "en", "pt-BR", "jpn"]),
    st.lists(st.tuples(st.sampled_from(["ar", "ti", "al", "by"]), _texts), max_size=3).map(tuple),
)


@settings(max_examples=300)
@given(st.text(max_size=400))
def test_any_text_is_parsed_or_refused(text: str) -> None:
    try:
        parsed = lrc.parse(text)
    except InvalidInput as exc:
        assert exc.reason.startswith("LRC")
        return
    assert parsed.lines and all(0 <= (line.start_ms or 0) <= lrc.MAX_MS for line in parsed.lines)


@settings(max_examples=300)
@given(
    st.lists(
        st.one_of(
            st.from_regex(r"\A\[[0-9]{1,3}:[0-9]{2}(\.[0-9]{1,3})?\][^\n\r]{0,30}\Z"),
            st.from_regex(r"\A\[(ar|ti|offset|la):[^\n\r]{0,10}\]\Z"),
            st.text(max_size=20),
        ),
        max_size=15,
    )
)
def test_lrc_like_text_is_parsed_or_refused(lines: list[str]) -> None:
    try:
        lrc.parse("\n".join(lines))
    except InvalidInput as exc:
        assert exc.reason.startswith("LRC")


@settings(max_examples=300)
@given(_lyrics)
def test_what_dump_writes_parses_back_the_same(lyrics: lrc.Lyrics) -> None:
    if any(lrc._STAMP.match(line.text) for line in lyrics.lines):
        with pytest.raises(ValueError):  # a text that would read as a stamp: refused, never garbled
            lrc.dump(lyrics)
        return
    assert lrc.parse(lrc.dump(lyrics)) == lyrics


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_parse_dump_parse_is_stable(text: str) -> None:
    try:
        parsed = lrc.parse(text)
    except InvalidInput:
        return
    assert lrc.parse(lrc.dump(parsed)) == parsed
