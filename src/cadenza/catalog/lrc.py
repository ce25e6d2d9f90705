"""Lyrics as structured lines, and the LRC format: a strict parser and the writer whose output it reads
back unchanged. Pure: no database, no framework.

LRC accepted (one item per line, blank lines ignored, a UTF-8 byte-order mark ignored):
- time-stamped lines `[mm:ss.xx]text`: minutes 0-999, seconds 00-59, a fraction of 1 to 3 digits
  after `.` (or `:`); several stamps before one text (`[00:12.00][01:30.50]chorus`) give one line each;
  an empty text is kept (an instrumental break);
- enhanced (A2) word stamps `<mm:ss.xx>` inside the text are tolerated and removed from it;
- metadata tags `[key:value]` with a key of 1-16 ASCII letters or `#`: `ar`, `ti`, `al`, `au`, `by`,
  `length`, `re`, `ve`, ... are kept as tags; `la` is the language (a BCP 47-like tag such as `en` or
  `pt-BR`); `offset` is a signed number of milliseconds that shifts every stamp (positive: earlier).

Anything else (a line of text with no stamp, a stamp with 60 seconds, digits of another script, a
control character) is refused with InvalidInput naming the line number. Times are clamped at 0 after the
offset; lines are sorted by time (stable).

Lyrics read from a file's tags go through `from_tag`, which never refuses: text that is not LRC is kept
as unsynced lines (start None), and what the text rule objects to is scrubbed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cadenza.errors import InvalidInput
from cadenza.text import scrub, text_problem

MAX_LRC_BYTES = 256 * 1024  # an .lrc file, UTF-8 (the API and `cadenza import` refuse larger ones)
MAX_LINES = 5_000
MAX_LINE_CHARS = 1_000
MAX_MS = (999 * 60 + 59) * 1000 + 999
MAX_OFFSET_MS = 3_600_000

_STAMP = re.compile(r"\[([0-9]{1,3}):([0-9]{2})(?:[.:]([0-9]{1,3}))?\]")
_WORD_STAMP = re.compile(r"<[0-9]{1,3}:[0-9]{2}(?:[.:][0-9]{1,3})?>")
_TAG = re.compile(r"\[([A-Za-z#]{1,16}):(.*)\]")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,3}")
_OFFSET = re.compile(r"[+-]?[0-9]{1,7}")
_NEWLINE = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Line:
    start_ms: int | None  # None: unsynced
    text: str


@dataclass(frozen=True)
class Lyrics:
    lines: tuple[Line, ...]
    language: str | None = None
    tags: tuple[tuple[str, str], ...] = field(default=())  # (key lower-cased, value), in file order

    @property
    def synced(self) -> bool:
        return any(line.start_ms is not None for line in self.lines)


def language_tag(value: str) -> str | None:
    """A language tag as stored (`en`, `pt-BR`), or None if `value` is not one. ID3's "XXX" (unknown)
    and "und" read as None."""
    value = value.strip()
    if not _LANGUAGE.fullmatch(value) or value.lower() in ("xxx", "und", "zxx"):
        return None
    return value


def _fail(number: int, problem: str) -> InvalidInput:
    return InvalidInput(f"LRC line {number}: {problem}")


def _ms(m: re.Match[str], number: int) -> int:
    minutes, seconds, fraction = m.group(1), m.group(2), m.group(3) or ""
    if int(seconds) > 59:
        raise _fail(number, f"time stamp {m.group(0)} has {seconds} seconds (at most 59)")
    frac_ms = int(fraction.ljust(3, "0")) if fraction else 0
    return (int(minutes) * 60 + int(seconds)) * 1000 + frac_ms


def parse(text: str) -> Lyrics:
    """Strict LRC (see the module docstring): Lyrics with at least one time-stamped line, or InvalidInput
    naming the first line at fault."""
    if text.startswith("\ufeff"):
        text = text[1:]
    timed: list[Line] = []
    tags: list[tuple[str, str]] = []
    language: str | None = None
    offset = 0
    for number, raw in enumerate(_NEWLINE.split(text), start=1):
        line = raw.strip(" \t")
        if not line:
            continue
        problem = text_problem(line, free_text=True)
        if problem is not None:
            raise _fail(number, problem)
        if len(line) > MAX_LINE_CHARS:
            raise _fail(number, f"is longer than {MAX_LINE_CHARS} characters")
        stamps: list[int] = []
        pos = 0
        while m := _STAMP.match(line, pos):
            stamps.append(_ms(m, number))
            pos = m.end()
        if stamps:
            words = _WORD_STAMP.sub("", line[pos:])
            body = " ".join(words.split())
            timed.extend(Line(ms, body) for ms in stamps)
            if len(timed) > MAX_LINES:
                raise _fail(number, f"more than {MAX_LINES} lyric lines")
            continue
        tag = _TAG.fullmatch(line)
        if tag is None:
            raise _fail(number, "neither a time-stamped line ([mm:ss.xx]text) nor a tag ([key:value])")
        key, value = tag.group(1).lower(), tag.group(2).strip()
        if key == "offset":
            if not _OFFSET.fullmatch(value) or abs(int(value)) > MAX_OFFSET_MS:
                raise _fail(number, f"offset {value!r} is not a whole number of milliseconds within ±1 h")
            offset = int(value)
        elif key == "la":
            language = language_tag(value)
            if language is None:
                raise _fail(number, f"language {value!r} is not a language tag such as en or pt-BR")
        else:
            tags.append((key, value))
    if not timed:
        raise InvalidInput("LRC has no time-stamped line ([mm:ss.xx]text)")
    lines = sorted(
        (
            Line(min(max(line.start_ms - offset, 0), MAX_MS), line.text)
            for line in timed
            if line.start_ms is not None
        ),
        key=lambda line: line.start_ms or 0,
    )
    return Lyrics(tuple(lines), language, tuple(tags))


def _stamp(ms: int) -> str:
    minutes, rest = divmod(ms, 60_000)
    return f"[{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}]"


def dump(lyrics: Lyrics) -> str:
    """LRC text for synced lyrics, which `parse` reads back as the same Lyrics (stamps with milliseconds;
    no offset, it is already applied). ValueError for unsynced lines or texts LRC cannot carry."""
    out: list[str] = []
    if lyrics.language:
        out.append(f"[la:{lyrics.language}]")
    for key, value in lyrics.tags:
        if not _carried(value) or not re.fullmatch(r"[a-z#]{1,16}", key) or key in ("la", "offset"):
            raise ValueError(f"LRC cannot carry the tag {key!r}: {value!r}")
        out.append(f"[{key}:{value}]")
    for line in lyrics.lines:
        if line.start_ms is None or not 0 <= line.start_ms <= MAX_MS:
            raise ValueError("unsynced lines (or times past 999 minutes) have no LRC form")
        if not _carried(line.text) or _WORD_STAMP.search(line.text) or _STAMP.match(line.text):
            raise ValueError(f"LRC cannot carry the text {line.text!r}")
        out.append(f"{_stamp(line.start_ms)}{line.text}")
    return "\n".join(out) + "\n"


def _carried(text: str) -> bool:
    """Whether `parse` reads `text` back as it is: one line, blanks normalised, the text rule met."""
    return (
        text == " ".join(text.split())
        and text_problem(text, free_text=True) is None
        and not _NEWLINE.search(text)
        and len(text) <= MAX_LINE_CHARS - 20
    )


def from_tag(text: str, *, language: str | None = None) -> Lyrics | None:
    """Lyrics kept in a file's tag: LRC if it parses as LRC, else unsynced lines. Never raises; None
    for a tag with no text."""
    try:
        parsed = parse(text)
        if parsed.language is None and language:
            parsed = Lyrics(parsed.lines, language, parsed.tags)
        return parsed
    except InvalidInput:
        pass
    lines = [_plain(raw) for raw in _NEWLINE.split(text)]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    if not lines:
        return None
    return Lyrics(tuple(Line(None, line) for line in lines[:MAX_LINES]), language)


def _plain(text: str) -> str:
    """A line of tag text under the text rule (scrubbed), blanks normalised, bounded."""
    return " ".join(scrub(text, free_text=True).split())[:MAX_LINE_CHARS]


def from_synced(items: list[tuple[str, int]], *, language: str | None = None) -> Lyrics | None:
    """Lyrics from (text, start ms) pairs (an ID3 SYLT frame). Never raises."""
    lines = [
        Line(
            min(max(int(ms), 0), MAX_MS), " ".join(scrub(str(text), free_text=True).split())[:MAX_LINE_CHARS]
        )
        for text, ms in items[:MAX_LINES]
    ]
    if not lines:
        return None
    return Lyrics(tuple(sorted(lines, key=lambda line: line.start_ms or 0)), language)
