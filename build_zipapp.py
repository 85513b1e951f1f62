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
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # the pack format lives in the package: claw/_pyz/pack.py
    sys.path.insert(0, str(ROOT))
from claw._pyz import pack as pack_format  # noqa: E402

VENDOR_PREFIX = "claw._vendor"
SUPPORTED_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13")
SHEBANG = b"#!/usr/bin/env python3\n"
DEFAULT_DATE = (1980, 1, 2, 0, 0, 0)
DEFAULT_CODEC = "zlib"

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
# interpreters


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


@dataclass(frozen=True)
class Interpreter:
    """A CPython found to compile the bytecode of one supported version with."""

    version: str  # "3.12"
    release: str  # "3.12.1"
    path: Path  # the binary to run (never a pyenv shim)
    origin: str  # where it was found: "pyenv", "running", "PATH"


def _release_key(name: str) -> Tuple[int, ...]:
    return tuple(int(x) if x.isdigit() else -1 for x in name.split("."))


def _pyenv_interpreters(root: Path, versions: Sequence[str]) -> List[Interpreter]:
    """The newest ``X.Y.Z`` install of each version under ``<root>/versions`` (pyenv's layout)."""
    found = []
    for version in versions:
        candidates = [d for d in (root / "versions").glob(f"{version}.*")
                      if re.fullmatch(rf"{re.escape(version)}\.\d+", d.name)
                      and (d / "bin" / f"python{version}").exists()]
        if candidates:
            best = max(candidates, key=lambda d: _release_key(d.name))
            found.append(Interpreter(version, best.name, best / "bin" / f"python{version}", "pyenv"))
    return found


_PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3], sys.implementation.name, sys.executable)"


def _probe(command: str) -> Optional[Interpreter]:
    """Ask ``command`` (a ``python3.X`` on PATH, maybe a pyenv shim) what it is; None if it fails."""
    try:
        proc = subprocess.run([command, "-S", "-c", _PROBE], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    parts = proc.stdout.strip().split(" ", 2)
    if proc.returncode != 0 or len(parts) != 3 or parts[1] != "cpython" or not parts[2]:
        return None
    return Interpreter(".".join(parts[0].split(".")[:2]), parts[0], Path(parts[2]), "PATH")


def discover_pythons(root: Optional[Path] = None, versions: Sequence[str] = SUPPORTED_PYTHONS,
                     path: Optional[str] = None, running: bool = True) -> List[Interpreter]:
    """One CPython per version of ``versions``, from (first found wins) the pyenv root ``root``
    (default ``$(pyenv root)``), the running interpreter, then ``pythonX.Y`` on ``path`` (default
    ``$PATH``). The same binary (by real path) is counted once."""
    found: Dict[str, Interpreter] = {}
    seen = set()

    def add(interpreter: Optional[Interpreter]) -> None:
        if interpreter is None or interpreter.version not in versions or interpreter.version in found:
            return
        real = os.path.realpath(interpreter.path)
        if real not in seen:
            seen.add(real)
            found[interpreter.version] = interpreter

    for interpreter in _pyenv_interpreters(pyenv_root() if root is None else root, versions):
        add(interpreter)
    if running and sys.implementation.name == "cpython":
        add(Interpreter("%d.%d" % sys.version_info[:2], "%d.%d.%d" % sys.version_info[:3],
                        Path(sys.executable), "running"))
    for version in versions:
        if version not in found:
            command = shutil.which(f"python{version}", path=path)
            if command:
                add(_probe(command))
    return [found[v] for v in sorted(found, key=_release_key)]


def find_pythons(root: Optional[Path] = None, versions: Sequence[str] = SUPPORTED_PYTHONS,
                 path: Optional[str] = None, running: bool = True) -> Dict[str, Path]:
    """``{"3.9": interpreter binary, ...}``: see ``discover_pythons``."""
    return {i.version: i.path for i in discover_pythons(root, versions, path, running)}


# --------------------------------------------------------------------------------------------------
# bytecode

# The modules a `claw -p` run imports (each with what it imports), in order: the compile worker
# imports these first, and the pack stores modules in the order their import started, so a run
# decompresses as little of its pack as it can. A name that no longer exists is skipped; a stale
# list costs start-up time, never correctness. Regenerate from `python -X importtime dist/claw.pyz -p`.
START_ORDER = (
    "claw.cli.main", "claw.cli.startup_gc", "claw.cli.headless", "claw.cli.setup", "claw.cli.tty_prompt",
    "claw.config.environment", "claw.mcp.startup", "claw.config.loader", "claw.api.client",
    "claw.runtime.agent", "claw.runtime.compaction", "claw.runtime.hooks", "claw.runtime.permissions",
    "claw.runtime.session_store", "claw.runtime.system_prompt", "claw.redact", "claw.net.config",
    "claw.tools.schema", "claw.fsutil", "claw.tools.grep_core", "claw.tools.rg_types", "claw.tools.web_common",
    "claw.auth.sources", "claw.api.anthropic", "claw.remote.bootstrap", "claw.net.http", "claw._vendor",
    "claw._vendor.h11._connection", "claw._vendor.h11._version", "claw.proto.sse",
    # the built-in tools, imported by name when the tool set is made
    "claw.tools.bash", "claw.tools.edit_file", "claw.tools.glob_search", "claw.tools.grep_search",
    "claw.tools.read_file", "claw.tools.todo_write", "claw.tools.web_fetch", "claw.tools.web_search",
    "claw.tools.write_file",
)


def compile_tree(python: Path, sources: Dict[str, bytes], codec: str = "zlib",
                 optimize: int = 0) -> Tuple[str, str, bytes, bytes]:
    """Compile every ``.py`` of ``sources`` with ``python`` in one fresh process (claw/_pyz/compile_worker.py,
    ``PYTHONHASHSEED=0``) and make its boot and pack entries. Returns (its "X.Y", its magic number in
    hex, boot bytes, pack bytes)."""
    py_names = sorted(n for n in sources if n.endswith(".py"))
    with tempfile.TemporaryDirectory(prefix="claw-build-") as tmp:
        src = Path(tmp, "src")
        for name in py_names:
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes(sources[name])
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["PYTHONHASHSEED"] = "0"  # so -E/-I must not be used: they would ignore it
        # -S -s: no site-packages; -X no_debug_ranges (3.11+): no column tables, a quarter smaller
        # (tracebacks lose their ^^^ markers only); cwd=src: the tree being built is what imports.
        cmd = [str(python), "-S", "-s", "-B", "-X", "no_debug_ranges", "-m", "claw._pyz.compile_worker",
               tmp, codec, str(optimize), *START_ORDER]
        proc = subprocess.run(cmd, input="\n".join(py_names), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env, cwd=src, timeout=300)
        if proc.returncode != 0:
            raise BuildError(f"compiling with {python} failed:\n{proc.stderr.strip()}")
        version, magic = proc.stdout.split()[-2:]
        return version, magic, Path(tmp, "boot").read_bytes(), Path(tmp, "pack").read_bytes()


# --------------------------------------------------------------------------------------------------
# the archive's __main__.py

MAIN_PY = r'''# claw.pyz entry point, generated by build_zipapp.py (see docs/BUILD.md).
# This file must parse on any Python (it is the version gate): no f-strings, no annotations.
import sys

if sys.version_info < (3, 9):
    sys.stderr.write(
        "claw needs Python >= 3.9; found %d.%d.%d at %s; try: python3.11 claw.pyz\n"
        % (sys.version_info[0], sys.version_info[1], sys.version_info[2], sys.executable)
    )
    sys.exit(2)


def _start(loader):
    # Install claw's importer (claw/_pyz/importer.py). It and the modules it needs come precompiled
    # from claw/_pyz/cpXY.boot when that entry was made for this interpreter (format: claw/_pyz/pack.py:
    # its magic number, then marshalled (name, is_package, code) tuples), else from their sources.
    import os
    import zipimport

    if not isinstance(loader, zipimport.zipimporter) or loader.prefix:
        return
    tag = "cp%d%d" % sys.version_info[:2]
    boot = None
    if not sys.flags.optimize and not os.environ.get("CLAW_PYZ_SOURCES"):
        try:
            boot = loader.get_data(os.path.join("claw", "_pyz", tag + ".boot"))
        except OSError:
            pass
    if boot is not None:
        from importlib.util import MAGIC_NUMBER

        booted = []
        try:
            if boot[:4] != MAGIC_NUMBER:
                raise ImportError("claw/_pyz/%s.boot was made for another Python" % tag)
            import marshal

            for name, is_package, code in marshal.loads(boot[4:]):
                module = type(sys)(name)
                path = os.path.join(loader.archive, *name.split("."))
                if is_package:
                    module.__path__ = [path]
                    path = os.path.join(path, "__init__")
                module.__file__ = path + ".py"
                module.__package__ = name if is_package else name.rpartition(".")[0]
                sys.modules[name] = module
                booted.append(name)
                if "." in name:
                    parent, _, child = name.rpartition(".")
                    setattr(sys.modules[parent], child, module)
                exec(code, module.__dict__)
        except Exception:  # anything amiss: forget it all and import the importer from source
            for name in booted:
                sys.modules.pop(name, None)
            boot = None
    from claw._pyz.importer import install

    install(loader, tag, precompiled=boot is not None)


_start(globals().get("__loader__"))
del _start

from claw.cli.main import entry  # noqa: E402

entry()
'''


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
          versions: Sequence[str] = SUPPORTED_PYTHONS, root: Path = ROOT, log=print, codec: str = DEFAULT_CODEC,
          search_path: Optional[str] = None, running: bool = True) -> BuildResult:
    """Build the archive at ``out`` from the inputs under ``root`` (claw/, vendor.txt); see the module
    docstring. Interpreters: see ``discover_pythons`` (``search_path`` for ``$PATH``). Raises
    ``BuildError`` with a message that says what to do."""
    pins = parse_vendor_txt((root / "vendor.txt").read_text(encoding="utf-8"))
    wheels = fetch_wheels(pins, wheels_dir, cache_dir or root / "build" / "wheels", log=log)
    sources = claw_files(root, [p.name for p in pins])
    vendored = vendor_files(pins, wheels)
    overlap = sorted(set(sources) & set(vendored))
    if overlap:
        raise BuildError(f"source tree and vendored files collide: {overlap[:3]}")
    sources.update(vendored)
    sources["claw/_vendor/vendor.txt"] = (root / "vendor.txt").read_bytes()

    used: Dict[str, str] = {}
    missing: List[str] = []
    entries = dict(sources)
    if bytecode:
        pythons = discover_pythons(pythons_root, versions, search_path, running)
        missing = [v for v in versions if v not in {p.version for p in pythons}]
        where = (f"{pythons_root or pyenv_root()}/versions, the running Python ({sys.executable}) and "
                 f"python3.X on PATH")
        if missing and require_all_pythons:
            raise BuildError(f"no interpreter for Python {', '.join(missing)} in {where} (--require-all-pythons)")
        for python in pythons:
            log(f"build: Python {python.release} ({python.origin}): {python.path}")
        for version in missing:
            log(f"build: warning: no Python {version} found in {where}; claw.pyz will compile its sources "
                f"on every start under {version}")
        for python in pythons:
            got_version, _magic, boot, pack = compile_tree(python.path, sources, codec)
            if got_version != python.version:
                raise BuildError(f"{python.path} says it is Python {got_version}, expected {python.version}")
            tag = "cp" + python.version.replace(".", "")
            used[tag] = str(python.path)
            entries[pack_format.boot_path(tag)] = boot
            entries[pack_format.pack_path(tag)] = pack
    entries["__main__.py"] = MAIN_PY.encode("utf-8")
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
    parser.add_argument("--codec", choices=pack_format.CODECS, default=DEFAULT_CODEC,
                        help=f"compression of the bytecode packs (default: {DEFAULT_CODEC}; see docs/BUILD.md)")
    parser.add_argument("--require-all-pythons", action="store_true",
                        help="fail unless every Python 3.9-3.13 is found to compile its bytecode")
    args = parser.parse_args(argv)
    try:
        result = build(args.output, wheels_dir=args.wheels, cache_dir=args.cache_dir,
                       pythons_root=args.pythons_root, bytecode=not args.no_bytecode,
                       require_all_pythons=args.require_all_pythons, codec=args.codec,
                       log=lambda msg: print(msg, file=sys.stderr))
    except BuildError as exc:
        print(f"build: error: {exc}", file=sys.stderr)
        return 2
    shown = os.path.relpath(result.path) if not os.path.relpath(result.path).startswith("..") else result.path
    trees = ", ".join(result.trees) or "none"
    print(f"built {shown}: {result.size / 1024:.1f} KiB, sha256 {result.sha256}, bytecode for {trees}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
