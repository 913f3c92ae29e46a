"""Cheap looks at the raw markup, before a walk of the whole tree.

Walking every text node of a page (:func:`.page.texts_containing`) costs about as much as
the rest of a structured-data page's extraction. Most questions asked of it have a plain
answer in the raw source: is this code shown as text of the body; is this amount shown
with nothing around it that sets it aside. These functions answer from ``str.find``
calls and a few short regular-expression searches, and say so only when they are
certain; otherwise their callers walk the tree as before.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

from .page import Page, page_cached

#: a whole start or end tag, attributes quoted or not (so a ``>`` inside a quoted value is no tag's end)
_TAG_RE = re.compile(
    r"<(/?)([A-Za-z][^\s/>]*)(?:\s+[^\s\"'<>/=]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'<>=`]+))?)*\s*/?>"
)
_TAG_START_RE = re.compile(r"</?[A-Za-z!?]")
#: start tags after which a text node's parent is one whose text nobody sees (as texts_containing skips)
_HIDDEN_PARENTS = frozenset({"script", "style", "noscript", "template", "option"})
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
_ENTITY_TAIL_RE = re.compile(r"&#?[0-9A-Za-z]*$")
#: where text that is not markup starts: comments, scripts, styles (sre is quick on explicit classes,
#: slow on IGNORECASE alternatives), and where each ends
_RAW_TEXT_START_RE = re.compile(r"<(?:!--|[sS](?:[cC][rR][iI][pP][tT]|[tT][yY][lL][eE]))")
_RAW_TEXT_END_RE = {
    "!": re.compile(r"-->"),
    "c": re.compile(r"</[sS][cC][rR][iI][pP][tT]"),
    "t": re.compile(r"</[sS][tT][yY][lL][eE]"),
}


class Unsure(Exception):
    """The raw markup cannot tell; walk the tree."""


def body_start(page: Page) -> int:
    """Where ``<body`` opens in the raw source, or -1 (no source, no body tag)."""
    if not page.has_source:
        return -1
    source = page.source
    start = source.find("<body")
    return start if start >= 0 else source.find("<BODY")


def text_occurrences(page: Page, needle: str, limit: int = 12) -> Iterator[tuple[int, int, int, bool]]:
    """``(position, text_start, text_end, first)`` of each occurrence of ``needle`` in a text node of the body
    that :func:`.page.texts_containing` would return (right after an end tag or the start tag of a shown
    element, outside comments, scripts and styles); occurrences inside tags or raw text are skipped.
    ``first`` says the text node is its element's first (it follows the element's start tag), not the
    tail of an earlier child. Raises :class:`Unsure` where the markup cannot tell (an odd ``<``, an entity, more than ``limit``)."""
    body = body_start(page)
    if body < 0 or not needle or any(ch in needle for ch in "<>&"):
        raise Unsure(needle)
    source = page.source
    position = source.find(needle, body)
    while position >= 0:
        limit -= 1
        if limit < 0:
            raise Unsure(needle)
        start, end = source.rfind("<", 0, position), source.rfind(">", 0, position)
        if start < body:
            raise Unsure(needle)
        if end < start:  # inside a tag (an attribute's value), if that is a tag
            if not _TAG_START_RE.match(source, start):
                raise Unsure(needle)
        else:
            tag = _TAG_RE.fullmatch(source, start, end + 1)
            if tag is None or _ENTITY_TAIL_RE.search(source, end + 1, position):
                raise Unsure(needle)
            if (tag.group(1) or tag.group(2).lower() not in _HIDDEN_PARENTS) and not _in_raw_text(page, position):
                text_end = source.find("<", position)
                first = not tag.group(1) and tag.group(2).lower() not in _VOID and source[end - 1] != "/"
                yield position, end + 1, text_end if text_end >= 0 else len(source), first
        position = source.find(needle, position + len(needle))


def shows(page: Page, needle: str) -> bool:
    """Whether the raw markup certainly shows ``needle`` in a text node of the body; False means
    "not certain", never "not shown"."""
    try:
        return next(text_occurrences(page, needle, limit=4), None) is not None
    except Unsure:
        return False


@page_cached
def _raw_text_spans(page: Page) -> tuple[list[int], list[int]]:
    """Starts and ends of the body's comments, scripts and styles, in source order (one scan)."""
    source, starts, ends = page.source, [], []
    position = body_start(page)
    while True:
        opening = _RAW_TEXT_START_RE.search(source, position)
        if opening is None:
            return starts, ends
        kind = (
            source[opening.start() + 1] if source[opening.start() + 1] == "!" else source[opening.start() + 2].lower()
        )
        closing = _RAW_TEXT_END_RE[kind].search(source, opening.end())
        position = closing.end() if closing else len(source)
        starts.append(opening.start())
        ends.append(position)


def _in_raw_text(page: Page, position: int) -> bool:
    """Whether ``position`` is inside a comment, script or style of the body."""
    starts, ends = _raw_text_spans(page)
    index = bisect.bisect_right(starts, position) - 1
    return index >= 0 and position < ends[index]
