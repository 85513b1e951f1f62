"""Build time, in each target interpreter: compile the archive's modules and write its boot and pack.

build_zipapp.py runs ``python -S -s -B [-X no_debug_ranges] -m claw._pyz.compile_worker OUT CODEC
OPTIMIZE ENTRY...`` with the archive's source tree as the working directory and the ``.py`` paths on
stdin, in a fresh process with ``PYTHONHASHSEED=0`` (so marshal output does not vary between builds).
It compiles every module, then imports them all with the start-up table recorders in place
(tables.py): first the ``ENTRY`` modules in the order given (what a ``claw -p`` run imports), then
the rest. The pack stores the modules in that import order (those ``claw.cli.main`` imports first,
in a segment of their own, then the tables, then the others), so a run inflates as little of it as
it can. Writes
``OUT/boot`` and ``OUT/pack`` (format: pack.py) and prints ``X.Y MAGICHEX``.

It deliberately does not write anything else, and is never imported at run time.
"""

from __future__ import annotations

import importlib
import marshal
import os
import sys
from typing import Dict, List, Tuple

from claw._pyz import cpython, pack, tables


def module_name(path: str) -> str:
    """``claw/x/__init__.py`` -> ``claw.x``; ``claw/x/y.py`` -> ``claw.x.y``."""
    name = path[:-3].replace("/", ".")
    return name[:-len(".__init__")] if name.endswith(".__init__") else name


def import_all(names: List[str], entries: List[str]) -> Tuple[List[str], int]:
    """Import ``entries`` (in order; missing ones skipped), then every module of ``names``; return the
    modules in the order their import started, and how many of them the first entry imported."""
    before = set(sys.modules)
    wanted = set(names)
    first = 0
    for i, module in enumerate(entries + sorted(names)):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            missing = exc.name or "claw"
            if i < len(entries) and missing == module:
                continue  # an entry that no longer exists: only the order suffers
            if missing.split(".")[0] == "claw":
                raise
            # else a platform module this machine lacks: that module's classes are left out
        if i == 0:
            first = len([m for m in sys.modules if m not in before and m in wanted])
    order = [m for m in sys.modules if m not in before and m in wanted]
    return order, first


def main(argv: List[str]) -> int:
    out, codec, optimize, entries = argv[0], argv[1], int(argv[2]), argv[3:]
    paths = [rel for rel in sys.stdin.read().split("\n") if rel]
    magic = cpython.pyc_magic()
    if magic is None:
        sys.stderr.write("compile_worker: CPython %d.%d is not one claw's packs support\n" % sys.version_info[:2])
        return 2
    code: Dict[str, object] = {}
    members: Dict[str, Tuple[bytes, bytes]] = {}
    for rel in sorted(paths):
        with open(rel, "rb") as f:
            source = f.read()
        code[rel] = compile(source, rel, "exec", dont_inherit=True, optimize=optimize)
        members[rel] = (marshal.dumps(code[rel]), cpython.source_hash(source))

    recorder = tables.Recorder()
    recorder.install()
    by_name = {module_name(rel): rel for rel in paths if rel.startswith("claw/")}
    order, first = import_all([m for m in by_name if not m.endswith("__main__")], entries)
    recorded = recorder.tables()

    # The boot modules run at every start: compiled without docstrings (nothing reads them; they are
    # a third of the entry), with no asserts to lose.
    boot = []
    for name in pack.BOOT_MODULES:
        rel = name.replace(".", "/") + ("/__init__.py" if f"{name.replace('.', '/')}/__init__.py" in code else ".py")
        with open(rel, "rb") as f:
            boot.append((name, rel.endswith("__init__.py"), compile(f.read(), rel, "exec", dont_inherit=True,
                                                                    optimize=2)))
    # Layout: what importing claw.cli.main imports (all --version needs: a segment of its own), then
    # tables.py and the tables it serves (the first dataclass needs them), then the rest in import order.
    stream: List[Tuple[str, bytes, bytes]] = []
    seen = {rel for rel in code if module_name(rel) in pack.BOOT_MODULES}

    def add(rel: str) -> None:
        if rel not in seen:
            seen.add(rel)
            stream.append((rel, *members[rel]))

    for module in order[:first]:
        add(by_name[module])
    cut_before = ["claw/_pyz/tables.py"]
    add("claw/_pyz/tables.py")
    stream += [(name, data, b"") for name, data in sorted(recorded.items())]
    for rel in [by_name[m] for m in order[first:]] + sorted(members):
        add(rel)
    with open(os.path.join(out, "boot"), "wb") as f:
        f.write(pack.write_boot(magic, boot))
    with open(os.path.join(out, "pack"), "wb") as f:
        f.write(pack.write_pack(magic, stream, codec, cut_before=cut_before))
    sys.stdout.write("%d.%d %s\n" % (sys.version_info[0], sys.version_info[1], magic.hex()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
