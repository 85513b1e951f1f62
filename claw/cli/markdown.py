"""Streaming rendering of the Markdown-ish text models write, for a terminal.

``MarkdownStream.feed(text)`` takes text deltas as they arrive and returns what to write now;
``close()`` returns what is still held at the end of a message. Ordinary prose is passed through at
once, so the answer appears as it streams; a line that starts like a block element (heading, fence,
list item, quote, rule) is held until its end so it can be styled whole. Inside a fenced code block
text is shown in a code colour as it arrives (only a line that may be the closing fence is held).

The renderer only *adds* styling: it never removes, rewrites or reorders a character the model
wrote. Headings keep their ``#``, bullets their ``-``, fences their backticks — styled, not replaced
— so removing the escape sequences from the output gives back exactly the input, whatever the delta
boundaries, and text copied from the terminal is the Markdown itself. With ``color=False``
(``NO_COLOR``, not a TTY) nothing is added at all.

Deliberately small: no tables, no wrapping, inline styling (`` `code` ``, ``**bold**``) only on
held lines, and no sanitising of control characters the model itself emits.
"""

from __future__ import annotations

import re
from typing import List, Optional

RESET = "\x1b[0m"
BOLD = "\x1b[1m"
DIM = "\x1b[2m"
ITALIC = "\x1b[3m"
CYAN = "\x1b[36m"
YELLOW = "\x1b[33m"

# A line that starts like this is a block element: hold it to its end and style it whole.
_BLOCK_START = re.compile(r"^(#{1,6}(\s|$)|\s*```|\s*~~~|\s*[-*+]\s|\s*\d+[.)]\s|\s*>|\s*---|\s*\*\*\*|\s*___)")
# Too early to tell (a prefix of one of the above): hold it until the next piece decides.
_MAYBE_BLOCK = re.compile(r"^(#{0,6}|\s*`{1,2}|\s*~{1,2}|\s*[-*+]?|\s*\d*[.)]?|\s*-{1,2}|\s*\*{1,2}|\s*_{1,2})$")
# Inside a code block, a line that is (or may still become) a fence.
_FENCE = re.compile(r"^(\s{0,3})(`{3,}|~{3,})(.*)$")
_MAYBE_FENCE = re.compile(r"^\s{0,3}(`{0,2}|~{0,2})$")

_HEADING = re.compile(r"^(#{1,6})(\s+|$)(.*)$")
_RULE = re.compile(r"^\s*((-\s*){3,}|(\*\s*){3,}|(_\s*){3,})$")
_QUOTE = re.compile(r"^(\s*>)(.*)$")
_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])(\s+)(.*)$")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")


def _style(code: str, text: str) -> str:
    return f"{code}{text}{RESET}" if text else ""


class MarkdownStream:
    def __init__(self, *, color: bool = True) -> None:
        self.color = color
        self._line = ""  # held text of the current line
        self._passing = False  # the rest of the current line is passed through as it comes
        self._fence: Optional[str] = None  # the opening fence while inside a code block

    @property
    def in_code(self) -> bool:
        return self._fence is not None

    def feed(self, text: str) -> str:
        if not self.color:
            return text
        out: List[str] = []
        for piece in re.split(r"(\n)", text):
            if piece == "\n":
                out.append(self._end_line())
            elif piece:
                out.append(self._add(piece))
        return "".join(out)

    def close(self) -> str:
        """What is held at the end of a message (a last line without a newline); resets the state."""
        if not self.color:
            return ""
        rest = self._render_line(self._line) if self._line else ""
        self._line = ""
        self._passing = False
        self._fence = None
        return rest

    # -- internals ---------------------------------------------------------------------------------

    def _add(self, piece: str) -> str:
        if self._passing:
            return _style(YELLOW, piece) if self.in_code else piece
        self._line += piece
        if self.in_code:
            if _FENCE.match(self._line) or _MAYBE_FENCE.match(self._line):
                return ""  # perhaps the closing fence: decide at the end of the line
            self._passing = True
            held, self._line = self._line, ""
            return _style(YELLOW, held)
        if _BLOCK_START.match(self._line) or _MAYBE_BLOCK.match(self._line):
            return ""  # a block element, or too early to tell: hold it
        self._passing = True
        held, self._line = self._line, ""
        return held

    def _end_line(self) -> str:
        if self._passing:
            self._passing = False
            return "\n"
        line, self._line = self._line, ""
        return self._render_line(line) + "\n"

    def _render_line(self, line: str) -> str:
        fence = _FENCE.match(line)
        if self._fence is None:
            if fence and not (fence.group(2)[0] == "`" and "`" in fence.group(3)):
                self._fence = fence.group(2)
                return _style(DIM, line)
        else:
            if fence and fence.group(2)[0] == self._fence[0] and len(fence.group(2)) >= len(self._fence) \
                    and not fence.group(3).strip():
                self._fence = None
                return _style(DIM, line)
            return _style(YELLOW, line)
        heading = _HEADING.match(line)
        if heading:
            return _style(DIM, heading.group(1)) + heading.group(2) + _style(BOLD, heading.group(3))
        if _RULE.match(line):
            return _style(DIM, line)
        quote = _QUOTE.match(line)
        if quote:
            return _style(DIM, quote.group(1)) + _style(ITALIC, quote.group(2))
        item = _ITEM.match(line)
        if item:
            return item.group(1) + _style(CYAN, item.group(2)) + item.group(3) + _inline(item.group(4))
        return _inline(line)


def _inline(text: str) -> str:
    text = _INLINE_CODE.sub(lambda m: _style(YELLOW, m.group(0)), text)
    return _BOLD.sub(lambda m: f"{_style(DIM, '**')}{_style(BOLD, m.group(1))}{_style(DIM, '**')}", text)
