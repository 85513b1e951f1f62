#!/usr/bin/env python3
"""Build ``dist/claw.pyz``: claw's sources, the vendored libraries and per-Python bytecode in one file.

What goes in the archive (see docs/BUILD.md for the why):
- ``__main__.py``: generated here. It is the version gate (it must parse on any Python); then it runs
  ``_claw_importer.py`` (also generated, precompiled like the rest), a zipimport subclass that takes
  claw's modules' code from ``_pyc/cpXY.pack`` when there is one for the running interpreter, and
  compiles the sources otherwise.
- ``claw/...``: the source tree (no ``__pycache__``, no tests).
- ``claw/_vendor/<name>/``: h11, wsproto, certifi and tomli from the pinned pure-Python wheels in
  ``vendor.txt`` (sha256 verified), with their absolute imports of each other rewritten to
  ``claw._vendor.<name>``; their licence files under ``claw/_vendor/licenses/``.
- ``_pyc/cpXY.pack``: the bytecode of every ``.py`` above (unchecked-hash pycs, packed into one stored
  entry per Python: see ``make_pack``), compiled by each CPython 3.9-3.13 found under
  ``$(pyenv root)/versions`` (or ``--pythons-root``).

The archive is reproducible: sorted entries, fixed timestamps (1980-01-02 or ``SOURCE_DATE_EPOCH``),
fixed permissions, deflate level 9, bytecode compiled in a fresh process per interpreter with
``PYTHONHASHSEED=0``. Building twice gives the same bytes (with the same zlib).

It deliberately does not: install anything, touch the network except for ``pip download`` of missing
pinned wheels (never with ``--wheels DIR``), vendor anything but pure-Python wheels, or rewrite
anything in a vendored file other than import statements and the string literals listed in
``STRING_PATCHES`` (checked by comparing syntax trees).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import io
import os
import re
import subprocess
import sys
import tempfile
import time
import tokenize
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent
VENDOR_PREFIX = "claw._vendor"
SUPPORTED_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13")
SHEBANG = b"#!/usr/bin/env python3\n"
DEFAULT_DATE = (1980, 1, 2, 0, 0, 0)
PYC_TREE = "_pyc"

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


class BuildError(Exception):
    """A build that cannot go on: the message says what and what to do."""


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
                             f"add it to STRING_PATCHES in build_zipapp.py (or prove it harmless)")
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


_SKIP_NAMES = re.compile(r"(^\.|~$|\.(pyc|pyo|swp|orig|rej)$)")


def claw_files(root: Path, vendored: Sequence[str]) -> Dict[str, bytes]:
    """``{archive path: bytes}`` for claw's own source tree."""
    out: Dict[str, bytes] = {}
    base = root / "claw"
    for dirpath, dirnames, filenames in os.walk(base):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", "tests") and not d.startswith(".")
                             and not (rel_dir == "claw/_vendor" and d in (*vendored, "licenses")))
        for name in sorted(filenames):
            if not _SKIP_NAMES.search(name):
                out[f"{rel_dir}/{name}"] = (Path(dirpath) / name).read_bytes()
    if "claw/__init__.py" not in out:
        raise BuildError(f"no claw/__init__.py under {root}")
    return out


# --------------------------------------------------------------------------------------------------
# bytecode


def pyenv_root() -> Path:
    env = os.environ.get("PYENV_ROOT")
    if env:
        return Path(env)
    try:
        out = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True, timeout=30)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return Path.home() / ".pyenv"


def _version_key(path: Path) -> Tuple[int, ...]:
    return tuple(int(x) if x.isdigit() else -1 for x in re.split(r"[.]", path.name))


def find_pythons(root: Optional[Path] = None, versions: Sequence[str] = SUPPORTED_PYTHONS) -> Dict[str, Path]:
    """``{"3.9": real interpreter binary, ...}``: the newest ``X.Y.Z`` install of each version under
    ``<root>/versions`` (pyenv's layout; binaries, not shims)."""
    root = pyenv_root() if root is None else root
    found = {}
    for version in versions:
        candidates = [d for d in (root / "versions").glob(f"{version}.*")
                      if re.fullmatch(rf"{re.escape(version)}\.\d+", d.name)
                      and (d / "bin" / f"python{version}").exists()]
        if candidates:
            found[version] = max(candidates, key=_version_key) / "bin" / f"python{version}"
    return found


# Start-up tables: work every run would otherwise redo at import, done once per Python at build time
# and stored in that Python's pack (see IMPORTER_SOURCE for how they are served). Each is keyed by
# the complete input of the work it replaces, so an entry can save time but never change a result;
# an input not in a table (another patch release, a class or pattern made at run time) is processed
# as usual.
#
# DATACLASS_CODE: ``{generated source: marshalled code}`` for the methods dataclasses generates
# (``__init__``, ``__repr__``, ``__eq__``...). Compiling them is most of what ``@dataclass`` costs:
# about 0.5 ms a class, 45-65 ms of a ``claw -p`` run.
# REGEX_PROGRAMS: ``(_sre.MAGIC, {(pattern, flags): arguments of _sre.compile})`` for the regular
# expressions compiled while claw's modules (and the standard library they use) are imported:
# parsing and compiling them in Python is ~50 patterns, 5-9 ms of a run.
DATACLASS_CODE = "<dataclass methods>"
REGEX_PROGRAMS = "<regex programs>"


_COMPILE_SCRIPT = r"""
import importlib.util, os, py_compile, sys
src, out, opt, tables = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
names = [rel for rel in sys.stdin.read().split("\n") if rel]
for rel in names:
    py_compile.compile(os.path.join(src, rel), cfile=os.path.join(out, rel + "c"), dfile=rel,
                       doraise=True, optimize=opt, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)

# The start-up tables: import every module of the archive while recording the sources dataclasses
# passes to exec and the patterns the regular expression compiler is given.
import _sre, builtins, dataclasses, importlib, marshal, re
if sys.version_info >= (3, 11):
    from re import _compiler as sre_compiler, _parser as sre_parser
else:
    import sre_compile as sre_compiler, sre_parse as sre_parser
generated, patterns = set(), set()
def record_source(source, globals=None, locals=None):
    if type(source) is str:
        generated.add(source)
    return builtins.exec(source, globals, locals)
compile_pattern = sre_compiler.compile
def record_pattern(p, flags=0):
    if type(p) in (str, bytes):
        patterns.add((p, int(flags)))
    return compile_pattern(p, flags)
dataclasses.exec = record_source
sre_compiler.compile = record_pattern
sys.path.insert(0, src)
for rel in sorted(names):
    if rel.startswith("claw/") and rel.endswith(".py") and not rel.endswith("__main__.py"):
        module = rel[:-3].replace("/", ".")
        module = module[:-len(".__init__")] if module.endswith(".__init__") else module
        try:
            importlib.import_module(module)
        except ImportError as exc:  # a platform module this machine lacks: that module's classes are left out
            if (exc.name or "claw").split(".")[0] == "claw":
                raise
# Patterns the standard library compiled before the recorder was in place are in re's cache.
patterns.update((key[1], int(key[2])) for key in list(getattr(re, "_cache", {})) if type(key[1]) in (str, bytes))
code = {text: marshal.dumps(compile(text, "<string>", "exec", dont_inherit=True)) for text in sorted(generated)}
programs = {}
for pattern, flags in sorted(patterns, key=lambda k: (type(k[0]) is bytes, k[0], k[1])):
    if flags & re.DEBUG:
        continue
    parsed = sre_parser.parse(pattern, flags)
    indexgroup = [None] * parsed.state.groups
    for name, index in parsed.state.groupdict.items():
        indexgroup[index] = name
    program = [int(op) for op in sre_compiler._code(parsed, flags)]  # opcodes are int subclasses
    arguments = (int(flags | parsed.state.flags), program, parsed.state.groups - 1,
                 dict(parsed.state.groupdict), tuple(indexgroup))
    if _sre.compile(pattern, *arguments) != compile_pattern(pattern, flags):
        raise SystemExit("the regex table does not reproduce re's own result for %r" % (pattern,))
    programs[(pattern, flags)] = arguments
with open(os.path.join(tables, "dataclass"), "wb") as f:
    f.write(marshal.dumps(code))
with open(os.path.join(tables, "regex"), "wb") as f:
    f.write(marshal.dumps((_sre.MAGIC, programs)))
sys.stdout.write("%d.%d %s\n" % (sys.version_info[0], sys.version_info[1], importlib.util.MAGIC_NUMBER.hex()))
"""


def compile_tree(python: Path, sources: Dict[str, bytes],
                 optimize: int = 0) -> Tuple[str, str, Dict[str, bytes], Dict[str, bytes]]:
    """Compile every ``.py`` of ``sources`` with ``python`` in one fresh process (``PYTHONHASHSEED=0``,
    sorted order: marshal output then does not vary between builds), and make its start-up tables
    (``DATACLASS_CODE``, ``REGEX_PROGRAMS``). Returns (its "X.Y", its magic number in hex, {path.pyc: bytes},
    {table name: marshalled table})."""
    py_names = sorted(n for n in sources if n.endswith(".py"))
    with tempfile.TemporaryDirectory(prefix="claw-build-") as tmp:
        src, out = Path(tmp, "src"), Path(tmp, "out")
        for name in py_names:
            for base in (src, out):
                (base / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes(sources[name])
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["PYTHONHASHSEED"] = "0"  # so -E/-I must not be used: they would ignore it
        # -S -s: no site-packages; -X no_debug_ranges (3.11+): no column tables, a quarter smaller
        # (tracebacks lose their ^^^ markers only); cwd=tmp: nothing local shadows the stdlib.
        cmd = [str(python), "-S", "-s", "-B", "-X", "no_debug_ranges", "-c", _COMPILE_SCRIPT,
               str(src), str(out), str(optimize), tmp]
        proc = subprocess.run(cmd,
                              input="\n".join(py_names), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env, cwd=tmp, timeout=300)
        if proc.returncode != 0:
            raise BuildError(f"compiling with {python} failed:\n{proc.stderr.strip()}")
        version, magic = proc.stdout.split()[-2:]
        pycs = {name + "c": (out / (name + "c")).read_bytes() for name in py_names}
        tables = {DATACLASS_CODE: Path(tmp, "dataclass").read_bytes(), REGEX_PROGRAMS: Path(tmp, "regex").read_bytes()}
        return version, magic, pycs, tables


# --------------------------------------------------------------------------------------------------
# the archive's __main__.py

MAIN_TEMPLATE = r'''# claw.pyz entry point, generated by build_zipapp.py.
# This file must parse on any Python (it is the version gate): no f-strings, no annotations.
import sys

if sys.version_info < (3, 9):
    sys.stderr.write(
        "claw needs Python >= 3.9; found %d.%d.%d at %s; try: python3.11 claw.pyz\n"
        % (sys.version_info[0], sys.version_info[1], sys.version_info[2], sys.executable)
    )
    sys.exit(2)

# Bytecode packs in this archive (_pyc/<tag>.pack): tag -> magic number of their interpreter.
PYC_TREES = @PYC_TREES@


def _install_importer(loader):
    # Run _claw_importer (from this interpreter's bytecode pack when there is one, else from its
    # source) and let it take over imports from this archive. See docs/BUILD.md.
    import os
    import zipimport

    if not isinstance(loader, zipimport.zipimporter) or loader.prefix:
        return
    import _frozen_importlib_external
    import marshal

    tag = "cp%d%d" % sys.version_info[:2]
    magic = bytes.fromhex(PYC_TREES.get(tag, ""))
    pack = index = code = None
    if (magic == _frozen_importlib_external.MAGIC_NUMBER and not sys.flags.optimize
            and not os.environ.get("CLAW_PYZ_SOURCES")):
        try:
            pack = loader.get_data("_pyc" + os.sep + tag + ".pack")
        except OSError:
            pass
        if pack is not None and pack[:12] == b"CLAWPYC1" + magic:
            import zlib

            size = int.from_bytes(pack[12:16], "little")
            index = marshal.loads(pack[16:16 + size])
            offset, length, _ = index["_claw_importer.py"]
            start = 16 + size + offset
            code = marshal.loads(zlib.decompress(pack[start:start + length], -15))
        else:
            pack = None
    if code is None:
        path = loader.archive + os.sep + "_claw_importer.py"
        code = compile(loader.get_data(path), path, "exec", dont_inherit=True)
    namespace = {"__name__": "_claw_importer", "__builtins__": __builtins__}
    exec(code, namespace)
    namespace["install"](loader, tag, pack, index)


_install_importer(globals().get("__loader__"))
del _install_importer

from claw.cli.main import entry  # noqa: E402

entry()
'''

# The importer that _install_importer above runs; compiled into every bytecode pack like claw's
# modules. It is not a module of claw: it lives at the archive's root, next to __main__.py.
IMPORTER_SOURCE = r'''"""Imports from claw.pyz: a zipimport subclass that takes code from a per-Python bytecode pack.

Modules keep their real source locations (``__file__``, ``__path__``, ``get_data`` and ``get_source``
work as with plain sources, and tracebacks show source lines), but when ``_pyc/cpXY.pack`` matches
the running interpreter their code comes from it, so nothing is compiled at start-up; ``__cached__``
then names the module's place in the pack. Without a pack (a newer Python, -O, CLAW_PYZ_SOURCES=1)
the sources are compiled, once per module (stock zipimport compiles each module twice: once to find
its file name, once to run it). With ``--check-hash-based-pycs always`` each module's recorded
source hash is compared with its source in the archive, and the source wins on a mismatch.

A pack is one stored zip entry: ``b"CLAWPYC1"``, the magic number (4 bytes), the index's length
(4 bytes, little-endian), the index (marshal: ``{"claw/x.py": (offset, length, source_hash)}``), then
each module's code object, marshalled and raw-deflated, at ``offset`` after the index. Loading a
module reads nothing but its pack entry (its source is read only for tracebacks and hash checks).
One entry per Python instead of one per module keeps the zip directory, which zipimport reads at
every start, small. Two more index entries (raw-deflated too) are start-up tables made by the
build: ``@DATACLASS_CODE@``, ``{source: marshalled code}`` of the methods ``dataclasses`` generates
for the archive's classes, and ``@REGEX_PROGRAMS@``, ``(_sre.MAGIC, {(pattern, flags): arguments of
_sre.compile})``. Once ``dataclasses`` (``re._compiler``) is imported, its ``exec`` (``compile``)
takes the result from the table instead of compiling, for exactly the inputs in the table.

Generated by build_zipapp.py. It does not touch imports from anywhere but this archive.
"""

from __future__ import annotations

import _frozen_importlib
import _frozen_importlib_external
import _imp
import marshal
import os
import sys
import zipimport


def install(loader: zipimport.zipimporter, tag: str, pack: "bytes | None", index: "dict | None") -> None:
    """Make imports from ``loader.archive`` go through ``ClawImporter``, with code from ``pack``
    (see the module docstring) when it is given."""
    archive = loader.archive
    sep = os.sep
    check_hash = _imp.check_hash_based_pycs == "always"
    ModuleSpec = _frozen_importlib.ModuleSpec
    if pack is not None:
        import zlib

        decompress = zlib.decompress
        base_offset = 16 + int.from_bytes(pack[12:16], "little")
        pack_path = archive + sep + "_pyc" + sep + tag + ".pack" + sep
        prefix_len = len(archive) + 1

    class ClawImporter(zipimport.zipimporter):
        def find_spec(self, fullname, target=None):
            try:
                is_pkg = self.is_package(fullname)
            except ImportError:
                return None
            base = self.archive + sep + self.prefix + fullname.rpartition(".")[2]
            origin = base + sep + "__init__.py" if is_pkg else base + ".py"
            spec = ModuleSpec(fullname, self, origin=origin, is_package=is_pkg)
            spec.has_location = True
            if is_pkg:
                spec.submodule_search_locations = [base]
            return spec

        def get_filename(self, fullname):
            spec = self.find_spec(fullname)
            if spec is None:
                raise ImportError("can't find module " + fullname, name=fullname)
            return spec.origin

        def create_module(self, spec):
            return None

        def _bytecode(self, origin):
            if pack is None:
                return None, None
            name = origin[prefix_len:]
            if sep != "/":
                name = name.replace(sep, "/")
            entry = index.get(name)
            if entry is None:
                return None, None
            offset, length, source_hash = entry
            if check_hash:
                source = self.get_data(origin)
                if _imp.source_hash(_frozen_importlib_external._RAW_MAGIC_NUMBER, source) != source_hash:
                    return None, None
            start = base_offset + offset
            code = marshal.loads(decompress(pack[start:start + length], -15))
            _imp._fix_co_filename(code, origin)
            return code, pack_path + origin[prefix_len:] + "c"

        def _source_code(self, origin):
            return compile(self.get_data(origin), origin, "exec", dont_inherit=True)

        def get_code(self, fullname):
            origin = self.get_filename(fullname)
            code = self._bytecode(origin)[0]
            return code if code is not None else self._source_code(origin)

        def exec_module(self, module):
            origin = module.__spec__.origin
            code, cached = self._bytecode(origin)
            if code is None:
                code = self._source_code(origin)
            module.__cached__ = cached
            exec(code, module.__dict__)

    def hook(path):
        if path == archive or path.startswith(archive + sep):
            return ClawImporter(path)
        raise ImportError("not in " + archive)

    sys.path_hooks.insert(0, hook)
    for entry, finder in list(sys.path_importer_cache.items()):
        if isinstance(finder, zipimport.zipimporter) and finder.archive == archive:
            sys.path_importer_cache[entry] = ClawImporter(entry)
    if pack is not None:
        for name, serve in (("@DATACLASS_CODE@", serve_dataclass_code), ("@REGEX_PROGRAMS@", serve_regex_programs)):
            if name in index:
                offset, length, _ = index[name]
                serve(_table_loader(pack, base_offset + offset, length))


def _table_loader(pack: bytes, start: int, length: int):
    import zlib

    return lambda: marshal.loads(zlib.decompress(pack[start:start + length], -15))


def serve_dataclass_code(load_table) -> None:
    """Give ``dataclasses`` an ``exec`` that runs precompiled code for the sources in the table that
    ``load_table()`` returns (loaded at the first call) and compiles any other source as usual."""
    import builtins

    builtin_exec = builtins.exec
    table = None

    def exec(source, globals=None, locals=None):
        nonlocal table
        if type(source) is str:
            if table is None:
                table = load_table()
            code = table.get(source)
            if code is not None:
                source = marshal.loads(code)
        return builtin_exec(source, globals, locals)

    def patch(module):
        module.exec = exec

    patch_on_import("dataclasses", patch)


def serve_regex_programs(load_table) -> None:
    """Give the regular expression compiler (``re._compiler``, ``sre_compile`` before 3.11) a
    ``compile`` that builds the pattern from the table's precompiled program when the pattern and
    flags are in the table that ``load_table()`` returns (loaded at the first call, and ignored
    unless it was made for this ``_sre`` engine), and compiles anything else as usual."""
    import _sre

    table = None

    def patch(module):
        compile_pattern = module.compile

        def compile(p, flags=0):
            nonlocal table
            if table is None:
                magic, programs = load_table()
                table = programs if magic == _sre.MAGIC else {}
            arguments = table.get((p, flags)) if type(p) in (str, bytes) else None
            if arguments is None:
                return compile_pattern(p, flags)
            return _sre.compile(p, *arguments)

        module.compile = compile

    patch_on_import("re._compiler" if sys.version_info >= (3, 11) else "sre_compile", patch)


def patch_on_import(name: str, patch) -> None:
    """Call ``patch(module)`` once the standard-library module ``name`` has run: now if it is already
    imported, else through a one-shot finder at the front of ``sys.meta_path``."""
    if name in sys.modules:
        patch(sys.modules[name])
        return

    class PatchOnImport:
        @staticmethod
        def find_spec(fullname, path=None, target=None):
            if fullname != name:
                return None
            sys.meta_path.remove(PatchOnImport)
            spec = _frozen_importlib_external.PathFinder.find_spec(fullname, path)
            if spec is not None and spec.loader is not None:
                run = spec.loader.exec_module

                def exec_module(module):
                    run(module)
                    patch(module)

                spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, PatchOnImport)
'''.replace("@DATACLASS_CODE@", DATACLASS_CODE).replace("@REGEX_PROGRAMS@", REGEX_PROGRAMS)


PACK_SIGNATURE = b"CLAWPYC1"



def _deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    return packer.compress(data) + packer.flush()


def make_pack(magic_hex: str, pycs: Dict[str, bytes], tables: Optional[Dict[str, bytes]] = None) -> bytes:
    """One interpreter's bytecode pack (format: see IMPORTER_SOURCE's docstring) from ``{path.pyc:
    unchecked-hash pyc bytes}`` and its start-up tables ``{DATACLASS_CODE or REGEX_PROGRAMS: marshalled table}``."""
    import marshal

    magic = bytes.fromhex(magic_hex)
    index = {}
    members = io.BytesIO()
    for name in sorted(pycs):
        data = pycs[name]
        if data[:4] != magic or int.from_bytes(data[4:8], "little") != 0b01:
            raise BuildError(f"{name}: not an unchecked-hash pyc for magic {magic_hex}")
        member = _deflate(data[16:])
        index[name[:-1]] = (members.tell(), len(member), data[8:16])
        members.write(member)
    for name, table in sorted((tables or {}).items()):
        member = _deflate(table)
        index[name] = (members.tell(), len(member), b"")
        members.write(member)
    index_bytes = marshal.dumps(index, 4)
    return PACK_SIGNATURE + magic + len(index_bytes).to_bytes(4, "little") + index_bytes + members.getvalue()


def read_pack(pack: bytes) -> Tuple[bytes, Dict[str, bytes]]:
    """(magic, {path.py: marshalled code, table name: marshalled table}) of a pack."""
    import marshal

    if pack[:8] != PACK_SIGNATURE:
        raise ValueError("not a claw bytecode pack")
    size = int.from_bytes(pack[12:16], "little")
    index = marshal.loads(pack[16:16 + size])
    base = 16 + size
    codes = {}
    for name, (off, length, _hash) in index.items():
        codes[name] = zlib.decompress(pack[base + off:base + off + length], -15)
    return pack[8:12], codes


def main_py(trees: Dict[str, str]) -> bytes:
    body = "{" + ", ".join(f'"{tag}": "{magic}"' for tag, magic in sorted(trees.items(), key=_tag_key)) + "}"
    return MAIN_TEMPLATE.replace("@PYC_TREES@", body).encode("utf-8")


def main_py_trees(main: bytes) -> Dict[str, str]:
    """The ``PYC_TREES`` table of a generated ``__main__.py``: {tag: magic hex}."""
    match = re.search(r"^PYC_TREES = (\{.*\})$", main.decode("utf-8"), re.M)
    if not match:
        raise ValueError("no PYC_TREES in __main__.py")
    return ast.literal_eval(match.group(1))


def _tag_key(item) -> int:
    return int(item[0][3:])


# --------------------------------------------------------------------------------------------------
# writing


def zip_date() -> Tuple[int, int, int, int, int, int]:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return DEFAULT_DATE
    t = time.gmtime(max(int(epoch), 315532800 + 86400))  # zip cannot store dates before 1980
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def write_pyz(entries: Dict[str, bytes], out: Path, date=None) -> bytes:
    """Write the archive (shebang + zip) atomically with mode 0755; return its bytes."""
    date = zip_date() if date is None else date
    buf = io.BytesIO()
    buf.write(SHEBANG)
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=date)
            # Packs are deflated member by member already; stored, they are read without inflating.
            info.compress_type = zipfile.ZIP_STORED if name.endswith(".pack") else zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            zf.writestr(info, entries[name], compresslevel=9)
    data = buf.getvalue()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o755)
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise
    return data


@dataclass
class BuildResult:
    """What ``build`` made."""

    path: Path
    sha256: str
    size: int
    trees: Dict[str, str]  # tag -> python binary used
    missing: List[str] = field(default_factory=list)  # supported versions with no interpreter


def build(out: Path, wheels_dir: Optional[Path] = None, cache_dir: Optional[Path] = None,
          pythons_root: Optional[Path] = None, bytecode: bool = True, require_all_pythons: bool = False,
          versions: Sequence[str] = SUPPORTED_PYTHONS, root: Path = ROOT, log=print) -> BuildResult:
    """Build the archive at ``out`` from the inputs under ``root`` (claw/, vendor.txt); see the module
    docstring. Raises ``BuildError`` with a message that says what to do."""
    pins = parse_vendor_txt((root / "vendor.txt").read_text(encoding="utf-8"))
    wheels = fetch_wheels(pins, wheels_dir, cache_dir or root / "build" / "wheels", log=log)
    sources = claw_files(root, [p.name for p in pins])
    vendored = vendor_files(pins, wheels)
    overlap = sorted(set(sources) & set(vendored))
    if overlap:
        raise BuildError(f"source tree and vendored files collide: {overlap[:3]}")
    sources.update(vendored)
    sources["claw/_vendor/vendor.txt"] = (root / "vendor.txt").read_bytes()
    sources["_claw_importer.py"] = IMPORTER_SOURCE.encode("utf-8")

    trees: Dict[str, str] = {}
    used: Dict[str, str] = {}
    missing: List[str] = []
    entries = dict(sources)
    if bytecode:
        pythons = find_pythons(pythons_root, versions)
        missing = [v for v in versions if v not in pythons]
        if missing and require_all_pythons:
            raise BuildError(f"no interpreter for Python {', '.join(missing)} under "
                             f"{pythons_root or pyenv_root()}/versions (--require-all-pythons)")
        for version in missing:
            log(f"build: warning: no Python {version} found; claw.pyz will compile its sources on every "
                f"start under {version}")
        for version, python in sorted(pythons.items(), key=lambda kv: tuple(map(int, kv[0].split(".")))):
            got_version, magic, pycs, tables = compile_tree(python, sources)
            if got_version != version:
                raise BuildError(f"{python} says it is Python {got_version}, expected {version}")
            tag = "cp" + version.replace(".", "")
            trees[tag] = magic
            used[tag] = str(python)
            entries[f"{PYC_TREE}/{tag}.pack"] = make_pack(magic, pycs, tables)
    entries["__main__.py"] = main_py(trees)
    data = write_pyz(entries, out)
    return BuildResult(out, hashlib.sha256(data).hexdigest(), len(data), used, missing)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Build dist/claw.pyz (see docs/BUILD.md).")
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "dist" / "claw.pyz",
                        help="where to write the archive (default: dist/claw.pyz)")
    parser.add_argument("--wheels", type=Path, metavar="DIR",
                        help="offline: take the pinned wheels from DIR, never download")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "build" / "wheels", metavar="DIR",
                        help="where downloaded wheels are kept (default: build/wheels)")
    parser.add_argument("--pythons-root", type=Path, metavar="DIR",
                        help="look for interpreters in DIR/versions/X.Y.Z/bin (default: $(pyenv root))")
    parser.add_argument("--no-bytecode", action="store_true", help="sources only (for comparisons)")
    parser.add_argument("--require-all-pythons", action="store_true",
                        help="fail unless every Python 3.9-3.13 is found to compile its bytecode")
    args = parser.parse_args(argv)
    try:
        result = build(args.output, wheels_dir=args.wheels, cache_dir=args.cache_dir,
                       pythons_root=args.pythons_root, bytecode=not args.no_bytecode,
                       require_all_pythons=args.require_all_pythons,
                       log=lambda msg: print(msg, file=sys.stderr))
    except BuildError as exc:
        print(f"build: error: {exc}", file=sys.stderr)
        return 2
    shown = os.path.relpath(result.path) if not os.path.relpath(result.path).startswith("..") else result.path
    trees = ", ".join(sorted(result.trees, key=lambda t: int(t[2:]))) or "none"
    print(f"built {shown}: {result.size / 1024:.1f} KiB, sha256 {result.sha256}, bytecode for {trees}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
