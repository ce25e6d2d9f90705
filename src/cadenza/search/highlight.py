"""Highlights: the words of a displayed name that the query matched, marked with <em>."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from cadenza.search.folding import fold
from cadenza.search.ranking import Alt

_CHUNK = re.compile(r"\S+")


class Highlighter:
    """Marks every whitespace-separated chunk of a text one of whose folded forms a query alternative hits."""

    def __init__(self, alts: Iterable[Alt]) -> None:
        self._exact = {a.term for a in alts if not a.prefix}
        self._prefixes = tuple({a.term for a in alts if a.prefix})
        self._seen: dict[str, bool] = {}  # a page repeats names and words: each chunk is folded once

    def _hit(self, chunk: str) -> bool:
        hit = self._seen.get(chunk)
        if hit is None:
            hit = any(t in self._exact or t.startswith(self._prefixes) for t in fold(chunk).terms)
            self._seen[chunk] = hit
        return hit

    def mark(self, text: str) -> str | None:
        """The text, HTML-escaped, with matched chunks in <em>; None when nothing matched."""
        spans = [m.span() for m in _CHUNK.finditer(text)]
        hits = [self._hit(text[a:b]) for a, b in spans]
        if not any(hits):
            return None  # most shown names match nothing: no escaping and joining for them
        out: list[str] = []
        pos = 0
        for (a, b), hit in zip(spans, hits, strict=True):
            out.append(html.escape(text[pos:a]))
            chunk = html.escape(text[a:b])
            out.append(f"<em>{chunk}</em>" if hit else chunk)
            pos = b
        out.append(html.escape(text[pos:]))
        return "".join(out)
