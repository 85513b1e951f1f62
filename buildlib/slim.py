"""Line-preserving slimming of the sources in the archive (claw's and the vendored libraries'): comments and the docstrings the
packed bytecode leaves out are blanked, every line stays where it was.

The archive keeps claw's sources for tracebacks (which show one code line per frame), for
``--check-hash-based-pycs`` and for Pythons with no bytecode; none of them needs comments or the
docstrings that ``compile_worker.strip_docstrings`` drops from the bytecode anyway (module,
function and undecorated class docstrings), and they are a third of what the sources cost in the
archive's stream. Every line keeps its number, so tracebacks, ``co_lines`` and the bytecode (which is
compiled from these slimmed sources) agree. ``check_slim`` proves each file: the same statements,
at the same line numbers, once the docstrings the bytecode drops are dropped from both.

The vendored libraries are slimmed the same way after their imports are rewritten; comments that
are copyright or licence notices (tomli's SPDX headers) are kept, and the licence files ship as they
are. It deliberately does not touch the modules that start the importer (plain zip members, small),
or anything that is not Python.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from typing import Dict, List, Set

from buildlib import BuildError
from claw._pyz.compile_worker import strip_docstrings

_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=]")
# Comments kept: copyright and licence notices (tomli's files carry SPDX headers).
_NOTICE = re.compile(r"copyright|licen[cs]e|spdx", re.IGNORECASE)


def _docstring_lines(tree: ast.Module, lines: List[str]) -> Dict[int, str]:
    """``{line number: replacement}`` for the lines of the docstrings ``strip_docstrings`` drops,
    when they stand on lines of their own; a docstring that is its block's only statement becomes
    ``pass`` on its first line."""
    out: Dict[int, str] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef))
                or (isinstance(node, ast.ClassDef) and not node.decorator_list)):
            continue
        body = node.body
        if not (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            continue
        doc = body[0]
        first, last = lines[doc.lineno - 1], lines[doc.end_lineno - 1]
        if first[:doc.col_offset].strip() or last[doc.end_col_offset:].strip():
            continue  # shares a line with code: left alone
        for number in range(doc.lineno, doc.end_lineno + 1):
            out[number] = "\n"
        if len(body) == 1:
            out[doc.lineno] = first[:doc.col_offset] + "pass\n"
    return out


def slim_source(data: bytes) -> bytes:
    """``data`` (a module's source) without comments and dropped docstrings, line for line."""
    text = data.decode("utf-8")
    lines = text.splitlines(True)
    replaced = _docstring_lines(ast.parse(data), lines)
    comments: Dict[int, int] = {}
    for token in tokenize.tokenize(io.BytesIO(data).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.start[1]
    out = []
    for number, line in enumerate(lines, 1):
        if number in replaced:
            out.append(replaced[number])
            continue
        if number in comments and not (number <= 2 and _CODING.match(line.encode())) \
                and not _NOTICE.search(line[comments[number]:]):
            line = line[:comments[number]].rstrip() + "\n"
        out.append(line)
    return "".join(out).encode("utf-8")


def _shape(data: bytes, name: str) -> tuple:
    tree = strip_docstrings(ast.parse(data, name))
    return ast.dump(tree), [getattr(n, "lineno", None) for n in ast.walk(tree) if isinstance(n, ast.stmt)]


def check_slim(original: bytes, slim: bytes, name: str) -> None:
    """Refuse (``BuildError``) a slimmed file that is not the same program, line for line."""
    if original.count(b"\n") != slim.count(b"\n"):
        raise BuildError(f"slimming {name} changed its number of lines")
    if _shape(original, name) != _shape(slim, name):
        raise BuildError(f"slimming {name} changed its code")


def slim_files(files: Dict[str, bytes], names: Set[str]) -> Dict[str, bytes]:
    """``files`` with each of ``names`` slimmed and checked."""
    out = dict(files)
    for name in sorted(names):
        slim = slim_source(files[name])
        check_slim(files[name], slim, name)
        out[name] = slim
    return out
