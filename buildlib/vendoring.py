"""Vendoring for build_zipapp.py: the pinned pure-Python wheels of vendor.txt, verified and copied
under ``claw/_vendor/`` with their imports of each other rewritten.

Each wheel comes from ``--wheels DIR`` (offline), or from the cache directory, where missing ones are
fetched with ``pip download``; its sha256 must match the pin. From each wheel the package directory is
kept (minus ``VENDOR_DROP``) with its licence files; in every ``.py`` the absolute imports of the
vendored packages become ``claw._vendor.<name>`` imports (``rewrite_imports``, on tokens, checked by
comparing syntax trees in ``check_rewrite``), and the string literals listed in ``STRING_PATCHES``
follow the move. It deliberately does not vendor anything but pure-Python wheels or change anything
else in a vendored file. See docs/BUILD.md.
"""

from __future__ import annotations

import ast
import hashlib
import io
import re
import subprocess
import sys
import tokenize
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from buildlib import BuildError

VENDOR_PREFIX = "claw._vendor"

# Files of the vendored wheels that are not needed at run time (paths inside the wheel).
VENDOR_DROP = (
    re.compile(r"^[^/]+/py\.typed$"),
    re.compile(r"^[^/]+/tests?/"),
    re.compile(r"\.pyi$"),
    re.compile(r"^certifi/__main__\.py$"),  # `python -m certifi`, uses argparse; claw never runs it
)

# String literals in vendored files that name a vendored package and must follow the move, as pip's
# vendoring tool does with its patches. (path in wheel, old value, new value, expected count). A
# string literal naming a vendored package that is not listed here fails the build, so an upgrade
# that adds one is noticed.
STRING_PATCHES = (
    ("certifi/core.py", "certifi", "claw._vendor.certifi", 4),
    ("tomli/_parser.py", "tomli._re", "claw._vendor.tomli._re", 1),
)

LICENSE_RE = re.compile(r"^[^/]+\.dist-info/(?:licenses/.+|(?:LICEN[CS]E|COPYING|NOTICE|AUTHORS)[^/]*)$")



# --------------------------------------------------------------------------------------------------
# vendor.txt and wheels


@dataclass(frozen=True)
class Pin:
    """One line of vendor.txt: ``name==version --hash=sha256:HEX``."""

    name: str
    version: str
    sha256: str

    @property
    def wheel_prefix(self) -> str:
        return f"{self.name.replace('-', '_')}-{self.version}-"


def parse_vendor_txt(text: str) -> List[Pin]:
    pins = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)==([A-Za-z0-9_.+!-]+)\s+--hash=sha256:([0-9a-f]{64})", line)
        if not m:
            raise BuildError(f"vendor.txt line {lineno}: expected 'name==version --hash=sha256:HEX', got {raw!r}")
        pins.append(Pin(m.group(1).lower(), m.group(2), m.group(3)))
    if not pins:
        raise BuildError("vendor.txt pins no package")
    return pins


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def _is_pure_wheel_name(filename: str) -> bool:
    # name-version(-build)?-python-abi-platform.whl with abi none and platform any.
    return filename.endswith("-none-any.whl")


def _find_wheel(pin: Pin, directory: Path) -> Optional[Path]:
    if not directory.is_dir():
        return None
    matches = sorted(p for p in directory.iterdir() if p.name.lower().startswith(pin.wheel_prefix.lower())
                     and p.name.endswith(".whl"))
    for path in matches:
        if _is_pure_wheel_name(path.name) and sha256_file(path) == pin.sha256:
            return path
    return matches[0] if matches else None


def fetch_wheels(pins: Sequence[Pin], wheels_dir: Optional[Path], cache_dir: Path,
                 log=print) -> Dict[str, Path]:
    """The verified wheel of every pin: from ``wheels_dir`` (offline), else from ``cache_dir``,
    downloading the missing ones there with ``pip download``."""
    found: Dict[str, Path] = {}
    missing = []
    for pin in pins:
        path = _find_wheel(pin, wheels_dir if wheels_dir is not None else cache_dir)
        if path is None:
            missing.append(pin)
        else:
            found[pin.name] = path
    if missing and wheels_dir is not None:
        names = ", ".join(f"{p.name}=={p.version}" for p in missing)
        raise BuildError(f"no wheel for {names} in {wheels_dir}; "
                         f"fetch them with: pip download --no-deps --only-binary=:all: "
                         f"--implementation py --platform any -d {wheels_dir} {names.replace(', ', ' ')}")
    if missing:
        cache_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--implementation", "py", "--platform", "any", "--dest", str(cache_dir)]
        cmd += [f"{p.name}=={p.version}" for p in missing]
        log("build: " + " ".join(cmd[1:]))
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            raise BuildError(f"pip download failed (exit {proc.returncode}):\n{proc.stdout.strip()}\n"
                             f"hint: build offline with --wheels DIR holding the wheels pinned in vendor.txt")
        for pin in missing:
            path = _find_wheel(pin, cache_dir)
            if path is None:
                raise BuildError(f"pip download did not produce a wheel for {pin.name}=={pin.version}")
            found[pin.name] = path
    for pin in pins:
        path = found[pin.name]
        if not _is_pure_wheel_name(path.name):
            raise BuildError(f"{path.name} is not a pure-Python wheel (need *-none-any.whl)")
        digest = sha256_file(path)
        if digest != pin.sha256:
            raise BuildError(f"sha256 mismatch for {path}: vendor.txt pins {pin.sha256}, file has {digest}; "
                             f"delete the file (or fix vendor.txt if the pin is meant to change)")
    return found


# --------------------------------------------------------------------------------------------------
# import rewriting


_STMT_START = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}


def _dotted_name(tokens: List[tokenize.TokenInfo], i: int) -> Tuple[str, int]:
    """The dotted name starting at ``tokens[i]`` and the index after it."""
    parts = [tokens[i].string]
    j = i + 1
    while j + 1 < len(tokens) and tokens[j].string == "." and tokens[j + 1].type == tokenize.NAME:
        parts.append(tokens[j + 1].string)
        j += 2
    return ".".join(parts), j


def _imported_names(tokens: List[tokenize.TokenInfo], i: int) -> List[str]:
    """The dotted names of an ``import a.b as c, d`` statement whose first name is at ``tokens[i]``."""
    names = []
    while i < len(tokens) and tokens[i].type == tokenize.NAME:
        dotted, i = _dotted_name(tokens, i)
        names.append(dotted)
        if i + 1 < len(tokens) and tokens[i].string == "as":
            i += 2
        if i < len(tokens) and tokens[i].string == ",":
            i += 1
        else:
            break
    return names


def rewrite_imports(source: str, names: Sequence[str], prefix: str = VENDOR_PREFIX) -> str:
    """Rewrite absolute imports of the packages in ``names`` to live under ``prefix``.

    ``from h11._x import y`` -> ``from claw._vendor.h11._x import y``; ``import h11`` (optionally
    ``as z``) -> ``from claw._vendor import h11``. Only import statements change: everything else is
    copied as is, line numbers included. ``import h11.sub`` and ``import os, h11`` would change what
    names are bound, so they raise ``BuildError`` instead of being guessed at.
    """
    targets = set(names)
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    edits: List[Tuple[Tuple[int, int], Tuple[int, int], str]] = []  # (start, end, replacement)
    prev_sig = None  # previous significant token
    for i, tok in enumerate(tokens):
        at_start = prev_sig is None or prev_sig.type in _STMT_START or prev_sig.string in (";", ":")
        if tok.type == tokenize.NAME and tok.string in ("import", "from") and at_start:
            j = i + 1
            if j < len(tokens) and tokens[j].type == tokenize.NAME:
                dotted, _ = _dotted_name(tokens, j)
                top = dotted.split(".", 1)[0]
                if tok.string == "from":
                    if top in targets:
                        edits.append((tokens[j].start, tokens[j].end, f"{prefix}.{top}"))
                else:
                    bound = _imported_names(tokens, j)
                    if any(n.split(".", 1)[0] in targets for n in bound):
                        if len(bound) != 1 or "." in dotted:
                            raise BuildError(f"line {tok.start[0]}: cannot rewrite {tok.line.strip()!r} "
                                             f"without changing the names it binds")
                        edits.append((tok.start, tokens[j].end, f"from {prefix} import {top}"))
        if tok.type not in (tokenize.COMMENT, tokenize.NL):
            prev_sig = tok
    if not edits:
        return source
    lines = source.splitlines(keepends=True)
    for (srow, scol), (erow, ecol), text in reversed(edits):
        if srow != erow:
            raise BuildError(f"line {srow}: import statement split over lines")
        line = lines[srow - 1]
        lines[srow - 1] = line[:scol] + text + line[ecol:]
    return "".join(lines)


def _unvendor_tree(tree: ast.AST, names: Sequence[str], prefix: str) -> ast.AST:
    """Undo the rewrite on a syntax tree, to compare it with the original's."""
    targets = set(names)
    for node in ast.walk(tree):
        for fld, value in ast.iter_fields(node):
            if not isinstance(value, list):
                continue
            for k, child in enumerate(value):
                if (isinstance(child, ast.ImportFrom) and child.level == 0 and child.module == prefix
                        and len(child.names) == 1 and child.names[0].name in targets):
                    value[k] = ast.Import(names=child.names)
                elif (isinstance(child, ast.ImportFrom) and child.level == 0 and child.module
                        and child.module.startswith(prefix + ".")
                        and child.module[len(prefix) + 1:].split(".", 1)[0] in targets):
                    child.module = child.module[len(prefix) + 1:]
    return tree


def absolute_imports(tree: ast.AST, names: Sequence[str]) -> List[Tuple[int, str]]:
    """(line, module) of every absolute import of a package in ``names`` in ``tree``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] in names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in names:
                found.append((node.lineno, node.module))
    return found


def check_rewrite(original: str, rewritten: str, names: Sequence[str], prefix: str = VENDOR_PREFIX) -> None:
    """Raise ``BuildError`` unless ``rewritten`` differs from ``original`` only by the vendoring of
    import statements, keeps every line where it was, and has no absolute import of ``names`` left."""
    if original.count("\n") != rewritten.count("\n"):
        raise BuildError("rewrite changed the number of lines")
    new_tree = ast.parse(rewritten)
    left = absolute_imports(new_tree, names)
    if left:
        raise BuildError(f"line {left[0][0]}: absolute import of {left[0][1]} left after rewriting")
    after = ast.dump(_unvendor_tree(new_tree, names, prefix), include_attributes=False)
    if ast.dump(ast.parse(original), include_attributes=False) != after:
        raise BuildError("rewrite changed more than import statements")


def _string_literals(source: str):
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.STRING:
            try:
                value = ast.literal_eval(tok.string)
            except (ValueError, SyntaxError):  # f-strings
                continue
            if isinstance(value, str):
                yield tok, value


def patch_strings(path: str, source: str, names: Sequence[str]) -> str:
    """Apply ``STRING_PATCHES`` for ``path``; fail on any other literal naming a vendored package."""
    patches = {old: (new, count) for p, old, new, count in STRING_PATCHES if p == path}
    seen = {old: 0 for old in patches}
    edits = []
    for tok, value in _string_literals(source):
        if value in patches:
            new, _ = patches[value]
            quote = tok.string[-1]
            edits.append((tok.start, tok.end, f"{quote}{new}{quote}"))
            seen[value] += 1
        elif value.split(".")[0] in names and re.fullmatch(r"[A-Za-z_][\w.]*", value):
            raise BuildError(f"{path} line {tok.start[0]}: string {value!r} names a vendored package; "
                             f"add it to STRING_PATCHES in buildlib/vendoring.py (or prove it harmless)")
    for old, (new, count) in patches.items():
        if seen[old] != count:
            raise BuildError(f"{path}: expected {count} string literal(s) {old!r}, found {seen[old]}; "
                             f"review STRING_PATCHES for this wheel version")
    lines = source.splitlines(keepends=True)
    for (srow, scol), (erow, ecol), text in reversed(edits):
        line = lines[srow - 1]
        lines[srow - 1] = line[:scol] + text + line[ecol:]
    return "".join(lines)


# --------------------------------------------------------------------------------------------------
# archive contents


def vendor_files(pins: Sequence[Pin], wheels: Dict[str, Path]) -> Dict[str, bytes]:
    """``{archive path: bytes}`` for the vendored packages, their licences and vendor.txt."""
    names = [p.name for p in pins]
    out: Dict[str, bytes] = {}
    for pin in pins:
        with zipfile.ZipFile(wheels[pin.name]) as whl:
            members = sorted(whl.namelist())
            wheel_meta = [m for m in members if m.endswith(".dist-info/WHEEL")]
            if not wheel_meta or b"Root-Is-Purelib: true" not in whl.read(wheel_meta[0]):
                raise BuildError(f"{wheels[pin.name].name}: not a purelib wheel")
            licences = 0
            for member in members:
                if member.endswith("/"):
                    continue
                if LICENSE_RE.match(member):
                    out[f"claw/_vendor/licenses/{pin.name}-{pin.version}/{member.rsplit('/', 1)[1]}"] = \
                        whl.read(member)
                    licences += 1
                    continue
                top = member.split("/", 1)[0]
                if top != pin.name or any(rx.search(member) for rx in VENDOR_DROP):
                    continue
                if member.endswith((".so", ".pyd", ".dylib", ".dll")):
                    raise BuildError(f"{wheels[pin.name].name}: contains compiled code {member}")
                data = whl.read(member)
                if member.endswith(".py"):
                    source = data.decode("utf-8")
                    new = rewrite_imports(source, names)
                    check_rewrite(source, new, names)
                    new = patch_strings(member, new, names)
                    data = new.encode("utf-8")
                out[f"claw/_vendor/{member}"] = data
            if licences == 0:
                raise BuildError(f"{wheels[pin.name].name}: no licence file found in its dist-info")
    for path, _old, _new, _count in STRING_PATCHES:
        if f"claw/_vendor/{path}" not in out:
            raise BuildError(f"STRING_PATCHES names {path}, which is not in the wheels any more")
    return out
