"""Prose for slides: markdown cut into blocks, words counted, a long block cut to its lead.

A slide shows a point, not a paragraph an instructor would read out. The deck
builder (:mod:`course.publish.slides`) gives each prose block of a lesson a word
budget; :func:`condense` keeps the block's lead (whole sentences, else whole
clauses) within it and hands the whole block to the speaker notes, so the
notebook's explanation is written once and read in the speaker view (``s``).

Words are counted as the browser check counts what a slide shows
(:mod:`course.publish.browser`): whitespace-separated tokens holding a letter or
a digit, in the rendered text (no markdown syntax, no link targets).
"""

from __future__ import annotations

import dataclasses
import re

#: Class of the empty marker a cut block leaves on its slide; ``data-words`` says
#: how many of its words only the speaker notes hold (the browser check reads it).
MOVED_CLASS = "moved-to-notes"

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"<[^>]+>")
_WORDY = re.compile(r"[^\W_]")
#: A sentence ends at . ! ? followed by a space and something that can open a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9*`(\[\"'“])")
#: Clause ends a cut may fall after, strongest first.
_CLAUSE_ENDS = (":", ";", ",")


@dataclasses.dataclass
class Block:
    """One block of a markdown cell.

    Attributes
    ----------
    kind : str
        ``heading``, ``prose`` (a paragraph), ``list``, ``table``, ``code`` (a
        fenced block), ``note`` (a ``> **Note**`` callout: speaker notes) or
        ``quote`` (any other callout).
    text : str
        Its markdown source.
    level : int
        The heading's level (1 for ``#``), 0 for other blocks.
    """

    kind: str
    text: str
    level: int = 0


def blocks(source: str) -> list[Block]:
    """Cut markdown ``source`` into headings, paragraphs, lists, tables, fences and callouts.

    Joining the blocks' texts with blank lines gives the same rendered page.
    """
    found: list[Block] = []
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if _FENCE.match(line):
            end = next((j for j in range(i + 1, len(lines)) if _FENCE.match(lines[j])), len(lines) - 1)
            found.append(Block("code", "\n".join(lines[i:end + 1])))
            i = end + 1
            continue
        heading = _HEADING.match(line)
        if heading:
            found.append(Block("heading", line, len(heading.group(1))))
            i += 1
            continue
        start = i
        if line.lstrip().startswith(">"):
            while i < len(lines) and lines[i].lstrip().startswith(">"):
                i += 1
            text = "\n".join(lines[start:i])
            found.append(Block("note" if text.lstrip("> ").startswith("**Note**") else "quote", text))
            continue
        if line.lstrip().startswith("|"):
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                i += 1
            found.append(Block("table", "\n".join(lines[start:i])))
            continue
        kind = "list" if _ITEM.match(line) else "prose"
        i += 1
        while i < len(lines) and lines[i].strip() and not _FENCE.match(lines[i]) \
                and not _HEADING.match(lines[i]) and not lines[i].lstrip().startswith((">", "|")) \
                and (kind == "list" or not _ITEM.match(lines[i])):
            i += 1
        if kind == "list":   # a list goes on across blank lines while items or indented lines follow
            while i + 1 < len(lines) and not lines[i].strip() and (
                    _ITEM.match(lines[i + 1]) or lines[i + 1].startswith("  ")):
                i += 1
                while i < len(lines) and lines[i].strip() and not _HEADING.match(lines[i]):
                    i += 1
        found.append(Block(kind, "\n".join(lines[start:i]).rstrip()))
    return found


def plain(markdown: str) -> str:
    """The text a reader sees of ``markdown``: no link targets, tags, emphasis or markers."""
    text = _LINK.sub(r"\1", markdown)
    text = _TAG.sub(" ", text)
    text = re.sub(r"^\s{0,3}(#{1,6}\s+|>\s?|([-*+]|\d+[.)])\s+)", "", text, flags=re.M)
    return re.sub(r"\*\*|__|`", "", text)


def count_words(markdown: str) -> int:
    """Words a reader sees in ``markdown`` (tokens holding a letter or a digit)."""
    return sum(1 for token in plain(markdown).split() if _WORDY.search(token))


def _balanced(text: str) -> bool:
    """Whether inline code, bold and math are closed (a cut may not fall inside them)."""
    return text.count("`") % 2 == 0 and text.count("**") % 2 == 0 \
        and text.replace("$$", "").count("$") % 2 == 0 and text.count("[") == text.count("]") \
        and text.count("(") == text.count(")")


def sentences(text: str) -> list[str]:
    """The sentences of one paragraph, its line breaks made spaces."""
    flat = " ".join(text.split())
    pieces, current = [], ""
    for piece in _SENTENCE_END.split(flat):
        current = f"{current} {piece}".strip()
        if _balanced(current):
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces


def lead(text: str, budget: int) -> str:
    """The start of ``text`` within ``budget`` words: whole sentences, else whole clauses.

    Ends with `` …`` when something was left out mid-sentence. A first
    clause longer than the budget is cut between words (never inside inline
    code, bold or math).
    """
    kept: list[str] = []
    for sentence in sentences(text):
        if count_words(" ".join(kept + [sentence])) > budget:
            break
        kept.append(sentence)
    if kept:
        return " ".join(kept)
    words = " ".join(text.split()).split(" ")
    clause = anywhere = None
    for end in range(1, len(words) + 1):
        head = " ".join(words[:end])
        if count_words(head) > budget:
            break
        if not _balanced(head):
            continue
        anywhere = head
        if head.endswith(_CLAUSE_ENDS) and count_words(head) >= budget // 3:
            clause = head
    best = clause or anywhere or words[0]
    return best.rstrip(",;:") + " …"


def _items(text: str) -> list[tuple[str, str]]:
    """``(marker, text)`` of each top-level item of a markdown list."""
    items: list[list[str]] = []
    for line in text.splitlines():
        match = _ITEM.match(line)
        if match and not match.group(1):
            items.append([match.group(2), line[match.end():]])
        elif items:
            items[-1][1] += " " + line.strip()
    return [(marker, body) for marker, body in items]


@dataclasses.dataclass
class Cut:
    """What a block shows on its slide and what its speaker notes hold.

    Attributes
    ----------
    shown : str
        Markdown for the slide (the whole block, or its lead).
    notes : str or None
        The whole block, when its slide shows less of it; None otherwise.
    moved : int
        Words of the block the slide does not show.
    """

    shown: str
    notes: str | None
    moved: int


def condense(block: Block, budget: int) -> Cut:
    """Keep a prose or list block within ``budget`` words; the rest to the notes.

    A paragraph keeps its lead (:func:`lead`). A list keeps each item's lead,
    each within an equal share of the budget (at least 10 words), and as many
    items as fit; the others are left to the notes. Other blocks are kept whole.
    """
    total = count_words(block.text)
    if block.kind not in ("prose", "list", "quote") or total <= budget:
        return Cut(block.text, None, 0)
    if block.kind == "prose":
        shown = lead(block.text, budget)
    elif block.kind == "quote":
        shown = "> " + lead(re.sub(r"^\s*>\s?", "", block.text, flags=re.M), budget)
    else:
        items = _items(block.text)
        share = max(10, budget // max(1, len(items)))
        lines, used = [], 0
        for marker, body in items:
            short = body if count_words(body) <= share else lead(body, share)
            if used + count_words(short) > budget:
                break
            lines.append(f"{marker} {short}")
            used += count_words(short)
        shown = "\n".join(lines)
    moved = total - count_words(shown)
    return Cut(shown, block.text, moved)


def marker(moved: int) -> str:
    """The empty element that tells the browser check how many words went to the notes."""
    return f'<span class="{MOVED_CLASS}" data-words="{int(moved)}"></span>'
