"""HTML to readable plain text (Markdown-ish) for ``web_fetch``, on the standard ``html.parser``.

Keeps what a reader needs: the title, headings (``#``), paragraphs, line breaks, lists (``-`` and
``1.``), links as ``text [url]`` (relative URLs made absolute), images as ``[image: alt]``, ``pre`` and
``code`` (fenced blocks keep their whitespace), blockquotes (``>``), table rows with cells separated by
`` | ``. Drops scripts, styles, templates, SVG, ``noscript``, form buttons and selects; the head contributes only its title.

It is not a browser: no CSS, no JavaScript, no layout; malformed HTML is handled as the parser sees it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import List, Optional, Tuple
from urllib.parse import urljoin

_SKIP = frozenset({"script", "style", "template", "svg", "noscript", "iframe", "object", "canvas",
                   "button", "select", "math"})
_BLOCK = frozenset({
    "p", "div", "section", "article", "main", "header", "footer", "nav", "aside", "form", "fieldset",
    "table", "thead", "tbody", "tfoot", "dl", "dt", "dd", "figure", "figcaption", "address", "details",
    "summary", "hr", "ul", "ol", "blockquote", "body", "html",
})
_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source",
                   "track", "wbr", "param"})
_SPACE = re.compile(r"[ \t\r\n\f\v]+")


class _Converter(HTMLParser):
    def __init__(self, base_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.out: List[str] = []
        self.title: Optional[str] = None
        self._title_parts: Optional[List[str]] = None
        self.skip_depth = 0
        self.skip_stack: List[str] = []
        self.pre = 0
        self.lists: List[Tuple[str, int]] = []  # (ul|ol, counter)
        self.links: List[Tuple[Optional[str], int]] = []  # (href, out length at start)
        self.quote = 0
        self.row_cells = 0
        self.at_line_start = True

    # --- output helpers -------------------------------------------------------------------------
    def _emit(self, text: str) -> None:
        if not text:
            return
        if self.at_line_start and self.quote and not self.pre:
            text = "> " * self.quote + text
        self.out.append(text)
        self.at_line_start = text.endswith("\n")

    def _trailing_newlines(self) -> int:
        count = 0
        for chunk in reversed(self.out):
            body = chunk.rstrip("\n")
            count += len(chunk) - len(body)
            if body:
                break
        return count

    def _newlines(self, count: int) -> None:
        """End the current line and leave ``count - 1`` blank lines (never more, never at the start)."""
        if not self.out:
            return
        have = self._trailing_newlines()
        if have < count:
            self.out.append("\n" * (count - have))
        self.at_line_start = True

    # --- parser callbacks -----------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs) -> None:
        attr = dict(attrs)
        if self.skip_depth:
            if tag in _SKIP and tag not in _VOID:
                self.skip_depth += 1
            return
        if tag == "title":
            self._title_parts = []
            return
        if tag in _SKIP:
            self.skip_depth = 1
            return
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._newlines(2)
            self._emit("#" * int(tag[1]) + " ")
        elif tag == "br":
            self._emit("\n")
        elif tag == "hr":
            self._newlines(2)
            self._emit("---\n")
        elif tag == "pre":
            self._newlines(2)
            self._emit("```\n")
            self.pre += 1
        elif tag == "code" and not self.pre:
            self._emit("`")
        elif tag in ("ul", "ol"):
            self._newlines(1 if self.lists else 2)
            self.lists.append((tag, 0))
        elif tag == "li":
            self._newlines(1)
            indent = "  " * max(0, len(self.lists) - 1)
            if self.lists and self.lists[-1][0] == "ol":
                kind, n = self.lists[-1]
                self.lists[-1] = (kind, n + 1)
                self._emit(f"{indent}{n + 1}. ")
            else:
                self._emit(f"{indent}- ")
        elif tag == "blockquote":
            self._newlines(2)
            self.quote += 1
        elif tag == "tr":
            self._newlines(1)
            self.row_cells = 0
        elif tag in ("td", "th"):
            if self.row_cells:
                self._emit(" | ")
            self.row_cells += 1
        elif tag == "a":
            href = attr.get("href")
            self.links.append((href, len(self.out)))
        elif tag == "img":
            alt = (attr.get("alt") or "").strip()
            if alt:
                self._emit(f"[image: {alt}]")
        elif tag in _BLOCK:
            self._newlines(2 if tag in ("p", "table", "figure", "details") else 1)

    def handle_endtag(self, tag: str) -> None:
        if self.skip_depth:
            if tag in _SKIP:
                self.skip_depth -= 1
            return
        if tag == "title" and self._title_parts is not None:
            self.title = _SPACE.sub(" ", "".join(self._title_parts)).strip() or None
            self._title_parts = None
            return
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._newlines(2)
        elif tag == "pre" and self.pre:
            self.pre -= 1
            if not self.at_line_start:
                self._emit("\n")
            self._emit("```\n")
            self._newlines(2)
        elif tag == "code" and not self.pre:
            self._emit("`")
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._newlines(1 if self.lists else 2)
        elif tag == "blockquote":
            self.quote = max(0, self.quote - 1)
            self._newlines(2)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            text = "".join(self.out[start:]).strip()
            if href and not href.startswith(("javascript:", "#")):
                url = urljoin(self.base_url, href)
                if text and text != url:
                    self._emit(f" [{url}]")
                elif not text:
                    self._emit(f"[{url}]")
        elif tag in _BLOCK or tag in ("li", "tr"):
            self._newlines(2 if tag in ("p", "table", "figure", "details") else 1)

    def handle_data(self, data: str) -> None:
        if self._title_parts is not None:
            self._title_parts.append(data)
            return
        if self.skip_depth:
            return
        if self.pre:
            self._emit(data)
            return
        text = _SPACE.sub(" ", data)
        if self.at_line_start:
            text = text.lstrip()
        elif self.out and self.out[-1].endswith(" ") and text.startswith(" "):
            text = text[1:]
        self._emit(text)


def html_to_text(html: str, base_url: str = "") -> Tuple[Optional[str], str]:
    """(title, text) of an HTML document."""
    conv = _Converter(base_url)
    try:
        conv.feed(html)
        conv.close()
    except Exception:  # html.parser is lenient; anything it still chokes on keeps what was converted
        pass
    text = "".join(conv.out)
    lines = [line.rstrip() for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return conv.title, text
