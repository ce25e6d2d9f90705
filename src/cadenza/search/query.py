"""Query parsing: words, quoted phrases and the limits every query is held to; opaque page cursors."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass

from cadenza.errors import InvalidInput
from cadenza.search.folding import fold, query_forms

MAX_QUERY_CHARS = 200
MAX_WORDS = 16
MAX_RESULTS = 1000  # deepest result a cursor reaches (Elasticsearch's max_result_window, smaller)

_QUOTES = re.compile('["\u201c\u201d\u201e\u00ab\u00bb]')


@dataclass(frozen=True)
class QueryWord:
    """One word of a query: it matches a document word equal to any of its forms."""

    forms: tuple[str, ...]

    @property
    def text(self) -> str:
        return self.forms[0]


@dataclass(frozen=True)
class ParsedQuery:
    words: tuple[QueryWord, ...]
    phrases: tuple[tuple[str, ...], ...]
    key: str  # the whole query folded and compacted, for exact matches of a whole field

    @property
    def empty(self) -> bool:
        return not self.words and not self.phrases


def parse_query(q: str | None) -> ParsedQuery:
    """Words and quoted phrases of a query; too long a query is refused, one with no words is empty."""
    q = (q or "").strip()
    if not q:
        raise InvalidInput("q is empty")
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidInput(f"q is longer than {MAX_QUERY_CHARS} characters")
    words: list[QueryWord] = []
    phrases: list[tuple[str, ...]] = []
    pieces = _QUOTES.split(q)
    if len(pieces) % 2 == 0:  # an unbalanced quote: the text after it is plain words
        pieces[-2:] = [pieces[-2] + " " + pieces[-1]]
    for i, piece in enumerate(pieces):
        if i % 2 == 1:
            phrase = fold(piece).words
            if len(phrase) > 1:
                phrases.append(phrase)
            elif phrase:
                words.append(QueryWord(phrase))
            continue
        for chunk in piece.split():
            forms = query_forms(chunk)
            if forms:
                words.append(QueryWord(forms))
    if len(words) + sum(len(p) for p in phrases) > MAX_WORDS:
        raise InvalidInput(f"q has more than {MAX_WORDS} words")
    return ParsedQuery(tuple(words), tuple(phrases), fold(_QUOTES.sub(" ", q)).key)


def encode_cursor(offset: int, digest: str) -> str:
    raw = json.dumps({"o": offset, "d": digest}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, digest: str) -> int:
    """The offset a cursor stands for; a cursor from another query or not ours at all is refused."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        offset, their_digest = data["o"], data["d"]
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor is not valid") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset < MAX_RESULTS:
        raise InvalidInput("cursor is not valid")
    if their_digest != digest:
        raise InvalidInput("cursor belongs to another query")
    return offset


def query_digest(*parts: object) -> str:
    """A short fingerprint of a query and its filters, carried in cursors."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=6).hexdigest()
