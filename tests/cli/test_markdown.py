"""The streaming Markdown renderer (claw.cli.markdown).

Its promise: styling is only ever *added*. Removing the escape sequences from what it writes gives
back exactly the text the model streamed, whatever the delta boundaries; with ``color=False`` it
writes the input unchanged; and how a character ends up styled does not depend on where the deltas
were cut.
"""

from __future__ import annotations

import re
from typing import FrozenSet, List, Sequence, Tuple

from hypothesis import given, settings
from hypothesis import strategies as st

from claw.cli.markdown import BOLD, CYAN, DIM, ITALIC, RESET, YELLOW, MarkdownStream

SGR = re.compile(r"\x1b\[([0-9;]*)m")

SNIPPETS = [
    "# Heading\n", "## Sub heading\n", "####### not a heading\n", "#hashtag\n", "- item\n", "* star item\n",
    "+ plus\n", "  - nested\n", "1. first\n", "12) twelfth\n", "2024 was a year\n", "> quoted\n", "---\n",
    "***\n", "___\n", "```\n", "```python\n", "````\n", "~~~\n", "~~~~\n", "   ```\n", "``not a fence``\n",
    "`inline` code\n", "**bold** text\n", "plain prose ", "more prose.\n", "\n", "\t\n", "| a | b |\n",
    "- [ ] task\n", "-not a list\n", "1.5 million\n", "text with trailing spaces   \n", "é ü ñ 中文 ✓\n",
]

markdownish = st.one_of(
    st.lists(st.sampled_from(SNIPPETS), max_size=25).map("".join),
    st.text(alphabet="#-*+>`~_ 0123456789.)ab\n\t", max_size=200),
    st.text(max_size=200).map(lambda t: t.replace("\x1b", "")),
)


def split_at(text: str, cuts: Sequence[int]) -> List[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points + [len(text)]:
        pieces.append(text[last:p])
        last = p
    return pieces


def render(pieces: Sequence[str], color: bool = True) -> str:
    md = MarkdownStream(color=color)
    return "".join(md.feed(p) for p in pieces) + md.close()


def strip(text: str) -> str:
    return SGR.sub("", text)


def styled_chars(output: str) -> List[Tuple[str, FrozenSet[str]]]:
    """Each visible character with the SGR attributes active on it (a tiny terminal)."""
    out: List[Tuple[str, FrozenSet[str]]] = []
    active: set = set()
    pos = 0
    for m in SGR.finditer(output):
        out.extend((ch, frozenset(active)) for ch in output[pos:m.start()])
        codes = m.group(1) or "0"
        if codes == "0":
            active = set()
        else:
            active.add(codes)
        pos = m.end()
    out.extend((ch, frozenset(active)) for ch in output[pos:])
    return out


# -- properties --------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(markdownish, st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_without_color_the_output_is_the_input(text, cuts):
    assert render(split_at(text, cuts), color=False) == text


@settings(max_examples=400, deadline=None)
@given(markdownish, st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_styling_never_drops_rewrites_or_reorders_text(text, cuts):
    assert strip(render(split_at(text, cuts))) == text


@settings(max_examples=300, deadline=None)
@given(markdownish, st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_styles_do_not_depend_on_where_the_deltas_were_cut(text, cuts):
    whole = styled_chars(render([text]))
    one_by_one = styled_chars(render(list(text)))
    split = styled_chars(render(split_at(text, cuts)))
    assert split == whole == one_by_one


@settings(max_examples=200, deadline=None)
@given(markdownish)
def test_every_style_is_reset_by_the_end_of_each_line(text):
    """Nothing leaks into what is written next (a notice, the prompt)."""
    for line in render([text]).split("\n"):
        assert not styled_chars(line + "x")[-1][1]


# -- what it looks like -------------------------------------------------------------------------------------


def test_headings_keep_their_hashes_dimmed_and_the_title_bold():
    assert render(["## Plan\n"]) == f"{DIM}##{RESET} {BOLD}Plan{RESET}\n"


def test_list_markers_are_coloured_not_replaced():
    assert render(["- one\n", "12. two\n"]) == f"{CYAN}-{RESET} one\n{CYAN}12.{RESET} two\n"


def test_quotes_and_rules():
    assert render(["> said\n---\n"]) == f"{DIM}>{RESET}{ITALIC} said{RESET}\n{DIM}---{RESET}\n"


def test_inline_code_and_bold_on_styled_lines():
    assert render(["- run `ls` **now**\n"]) == (
        f"{CYAN}-{RESET} run {YELLOW}`ls`{RESET} {DIM}**{RESET}{BOLD}now{RESET}{DIM}**{RESET}\n")


def test_prose_streams_through_at_once():
    md = MarkdownStream()
    assert md.feed("Hello") == "Hello"
    assert md.feed(" world") == " world"
    assert md.feed("\n") == "\n"


def test_block_lines_are_held_until_they_end():
    md = MarkdownStream()
    assert md.feed("- it") == ""
    assert md.feed("em") == ""
    assert md.feed("\nnext") == f"{CYAN}-{RESET} item\nnext"


def test_a_code_block_ends_at_its_closing_fence():
    out = render(["```py\n", "x = 1\n", "``", "`\n", "after\n"])
    assert out == f"{DIM}```py{RESET}\n{YELLOW}x = 1{RESET}\n{DIM}```{RESET}\nafter\n"


def test_code_is_shown_as_it_streams():
    md = MarkdownStream()
    md.feed("```\n")
    assert md.feed("pri") == f"{YELLOW}pri{RESET}"
    assert md.feed("nt(1)") == f"{YELLOW}nt(1){RESET}"


def test_only_a_matching_fence_closes_a_block():
    lines = ["````\n", "```\n", "~~~\n", "still code\n", "````\n", "prose\n"]
    styled = styled_chars(render(lines))
    text = "".join(ch for ch, _ in styled)
    assert text == "".join(lines)
    style_of = {ch_index: s for ch_index, (_, s) in enumerate(styled)}
    assert style_of[text.index("still")] == {"33"}  # yellow: inside the block
    assert style_of[text.index("prose")] == frozenset()


def test_heading_markers_inside_code_are_code():
    assert render(["```\n# not a heading\n```\n"]) == (
        f"{DIM}```{RESET}\n{YELLOW}# not a heading{RESET}\n{DIM}```{RESET}\n")


def test_close_flushes_a_held_last_line_and_resets_the_state():
    md = MarkdownStream()
    assert md.feed("```\ncode\n``") == f"{DIM}```{RESET}\n{YELLOW}code{RESET}\n"  # `` may become a fence
    assert md.close() == f"{YELLOW}``{RESET}"
    assert not md.in_code
    assert md.feed("prose\n") == "prose\n"


def test_without_color_nothing_is_held():
    md = MarkdownStream(color=False)
    assert md.feed("# Title") == "# Title"
    assert md.close() == ""
