#!/usr/bin/env python3
"""Build ``dist/claw.pyz``: claw's sources, the vendored libraries and per-Python bytecode in one file.

What goes in the archive (see docs/BUILD.md for the why):
- ``__main__.py``: ``MAIN_PY`` below. It is the version gate (it must parse on any Python); then it
  runs claw's importer (claw/_pyz/importer.py), precompiled from ``claw/_pyz/cpXY.boot`` when that
  entry was made for the running interpreter, from source otherwise, and calls the CLI.
- ``claw/...``: the source tree (no ``__pycache__``, no tests) and docs/*.md as ``claw/_docs/`` (for
  ``claw help``); only the modules that start the importer (``pack.BOOT_SOURCES``) and files that are
  not Python (certifi's CA bundle, licences) are zip members, the rest is the first body of the stream,
  the sources there (claw's and the vendored ones) without comments and dropped docstrings, line for
  line (buildlib/slim.py).
- ``claw/_vendor/<name>/``: h11, wsproto, certifi and tomli from the pinned pure-Python wheels in
  ``vendor.txt``, with their imports of each other rewritten (buildlib/vendoring.py).
- ``claw/_pyz/cpXY.boot``, ``cpXY.pack``, ``sources.pack`` and ``stream.xz``: the sources, then the
  bytecode of every ``.py`` above and the start-up tables, one LZMA stream for all Pythons (format: claw/_pyz/pack.py), written by
  claw/_pyz/compile_worker.py run by each CPython 3.9-3.13 found (``discover_pythons``: the pyenv
  root, the running interpreter, ``python3.X`` on PATH).

The archive is reproducible: sorted entries, fixed timestamps (1980-01-02 or ``SOURCE_DATE_EPOCH``),
fixed permissions, deflate level 9, bytecode compiled in a fresh process per interpreter with
``PYTHONHASHSEED=0``. Building twice gives the same bytes (with the same interpreters and zlib).

It deliberately does not: install anything, or touch the network except for ``pip download`` of
missing pinned wheels (never with ``--wheels DIR``).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # for buildlib/ and the pack format, claw/_pyz/pack.py
    sys.path.insert(0, str(ROOT))
from buildlib import BuildError  # noqa: E402
from buildlib.slim import slim_files  # noqa: E402
from buildlib.vendoring import fetch_wheels, parse_vendor_txt, vendor_files  # noqa: E402
from claw._pyz import pack as pack_format  # noqa: E402
from claw._pyz import pack_writer  # noqa: E402

SUPPORTED_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13")
SHEBANG = b"#!/usr/bin/env python3\n"
DEFAULT_DATE = (1980, 1, 2, 0, 0, 0)

# docs/ pages `claw help` does not carry: the dated log of measurements (it grows with every
# session; ~18 KiB of the archive in 2026-12) is for maintainers, who have the repository.
UNBUNDLED_DOCS = ("PERFORMANCE.md",)

# Modules only rarely run subcommands import (remote control, plugin management) ship as sources
# without bytecode: five Pythons' bytecode costs about four times a module's source in the archive,
# and compiling them when imported costs those subcommands a few ms (~5 ms per 20 KB of source).
SOURCE_ONLY = frozenset({
    "claw/remote/environments.py", "claw/remote/env_client.py", "claw/remote/work_secret.py",
    "claw/remote/remote_state.py", "claw/remote/bridge_auth.py", "claw/remote/event_uploader.py",
    "claw/remote/session_ingress.py", "claw/remote/code_session.py", "claw/cli/remote_cmd.py",
    "claw/cli/bridge_worker_cmd.py", "claw/cli/doctor_remote.py", "claw/cli/plugin_cmd.py",
    "claw/runtime/plugin_store.py", "claw/runtime/plugin_marketplace.py", "claw/remote/supervisor.py",
    "claw/remote/serve.py", "claw/cli/remote_serve_cmd.py",
})

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
    """``$PYENV_ROOT``, else what ``pyenv root`` says, else ``~/.pyenv`` (which may not exist)."""
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

# The modules a `claw -p` run imports (each with what it imports), in order, then those of `claw
# version` and the REPL: the compile worker imports these first, and the pack stores modules in the
# order their import started, so a run inflates as few of its pack's segments as it can. A name that no longer exists is skipped; a stale
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
    # then `claw version` (the other vendored libraries) and the REPL
    "claw._vendor.wsproto", "claw._vendor.certifi", "claw._vendor.tomli", "claw.cli.repl",
)


def compile_tree(python: Path, sources: Dict[str, bytes], optimize: int = 0) -> Tuple[str, str, bytes, bytes, bytes]:
    """Compile every ``.py`` of ``sources`` but the ``SOURCE_ONLY`` ones with ``python`` in one fresh process (claw/_pyz/compile_worker.py,
    ``PYTHONHASHSEED=0``) and make its boot entry, pack index and body. Returns (its "X.Y", its magic
    number in hex, boot bytes, index bytes, body bytes)."""
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
               tmp, str(optimize), *START_ORDER]
        compiled = [name for name in py_names if name not in SOURCE_ONLY]
        proc = subprocess.run(cmd, input="\n".join(compiled), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env, cwd=src, timeout=300)
        if proc.returncode != 0:
            raise BuildError(f"compiling with {python} failed:\n{proc.stderr.strip()}")
        version, magic = proc.stdout.split()[-2:]
        return (version, magic, *(Path(tmp, name).read_bytes() for name in ("boot", "index", "body")))


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

try:
    from claw.cli.main import entry
except ImportError as exc:  # claw._pyz.importer.ArchiveError: no lzma, a damaged archive
    if not getattr(exc, "claw_pyz", False):
        raise
    sys.stderr.write("claw: %s\n" % exc)
    sys.exit(1)
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
            # The bytecode stream is compressed already (with LZMA: deflate would only add to it).
            info.compress_type = zipfile.ZIP_STORED if name == pack_format.STREAM_PATH else zipfile.ZIP_DEFLATED
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
          versions: Sequence[str] = SUPPORTED_PYTHONS, root: Path = ROOT, log=print,
          search_path: Optional[str] = None, running: bool = True) -> BuildResult:
    """Build the archive at ``out`` from the inputs under ``root`` (claw/, vendor.txt); see the module
    docstring. Interpreters: see ``discover_pythons`` (``search_path`` for ``$PATH``). Raises
    ``BuildError`` with a message that says what to do."""
    pins = parse_vendor_txt((root / "vendor.txt").read_text(encoding="utf-8"))
    wheels = fetch_wheels(pins, wheels_dir, cache_dir or root / "build" / "wheels", log=log)
    sources = claw_files(root, [p.name for p in pins])
    vendored = vendor_files(pins, wheels)
    # The sources in the stream, claw's and the vendored libraries' (their imports rewritten), lose
    # comments and the docstrings the bytecode drops, line for line (buildlib/slim.py); the bytecode
    # is compiled from these, so both agree.
    sources = slim_files(sources, {n for n in sources if n.endswith(".py") and pack_writer.in_stream(n)})
    vendored = slim_files(vendored, {n for n in vendored if n.endswith(".py") and pack_writer.in_stream(n)})
    overlap = sorted(set(sources) & set(vendored))
    if overlap:
        raise BuildError(f"source tree and vendored files collide: {overlap[:3]}")
    sources.update(vendored)
    sources["claw/_vendor/vendor.txt"] = (root / "vendor.txt").read_bytes()
    for page in sorted((root / "docs").glob("*.md")):  # `claw help TOPIC` prints these
        if page.name not in UNBUNDLED_DOCS:
            sources[f"claw/_docs/{page.name}"] = page.read_bytes()

    used: Dict[str, str] = {}
    missing: List[str] = []
    # Plain zip members: what the importer needs to start, and data read by other means; the rest
    # (sources, `claw help` pages) goes into the stream, before the bytecode.
    entries = {name: data for name, data in sources.items() if not pack_writer.in_stream(name)}
    streamed = pack_writer.write_sources({n: d for n, d in sources.items() if pack_writer.in_stream(n)})
    packs = []
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
            got_version, _magic, boot, index, body = compile_tree(python.path, sources)
            if got_version != python.version:
                raise BuildError(f"{python.path} says it is Python {got_version}, expected {python.version}")
            tag = "cp" + python.version.replace(".", "")
            used[tag] = str(python.path)
            entries[pack_format.boot_path(tag)] = boot
            packs.append((tag, index, body))
    entries.update(pack_writer.join_packs(packs, streamed))
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
    trees = ", ".join(result.trees) or "none"
    print(f"built {shown}: {result.size / 1024:.1f} KiB, sha256 {result.sha256}, bytecode for {trees}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
