"""Build time, in each target interpreter: compile the archive's modules and write its boot and pack.

build_zipapp.py runs ``python -S -s -B [-X no_debug_ranges] -m claw._pyz.compile_worker OUT
OPTIMIZE ENTRY...`` with the archive's source tree as the working directory and the ``.py`` paths on
stdin, in a fresh process with ``PYTHONHASHSEED=0`` (so marshal output does not vary between builds).
It compiles every module, then imports them all with the start-up table recorders in place
(tables.py): first the ``ENTRY`` modules in the order given (what a ``claw -p`` run imports), then
the rest. The pack stores the modules in that import order (those ``claw.cli.main`` imports first,
in a segment of their own, then the tables, then the others), so a run reads as little of it as it
can. Module, function and undecorated class docstrings are left out of the packed code
(``strip_docstrings``), and so are the annotations of function parameters and return values
(``strip_function_annotations``). Writes ``OUT/boot``, ``OUT/index`` and ``OUT/body`` (format: pack.py) and prints
``X.Y MAGICHEX``.

It deliberately does not write anything else, and is never imported at run time.
"""

from __future__ import annotations

import ast
import importlib
import marshal
import os
import sys
from typing import Dict, List, Tuple

from claw._pyz import cpython, pack, pack_writer, tables


def module_name(path: str) -> str:
    """``claw/x/__init__.py`` -> ``claw.x``; ``claw/x/y.py`` -> ``claw.x.y``."""
    name = path[:-3].replace("/", ".")
    return name[:-len(".__init__")] if name.endswith(".__init__") else name


def strip_docstrings(tree: ast.Module) -> ast.Module:
    """``tree`` without the docstrings of its module, functions and undecorated classes (an eighth
    of the packed code, and nothing in claw or the vendored libraries reads them). Decorated classes
    keep theirs: ``dataclasses`` computes a signature for a class without one, at import."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef)) or \
                (isinstance(node, ast.ClassDef) and not node.decorator_list):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                if len(body) == 1:
                    body[0] = ast.copy_location(ast.Pass(), body[0])
                else:
                    del body[0]
    return tree


def strip_function_annotations(tree: ast.Module) -> ast.Module:
    """``tree`` without the annotations of function parameters and return values (a twentieth of
    the stream: with ``from __future__ import annotations`` each function carries them as strings).
    Nothing in claw or the vendored libraries reads a function's ``__annotations__`` (no
    ``get_type_hints``, ``inspect.signature`` or ``singledispatch`` on them); class and module level
    annotations stay, which ``dataclasses`` and ``typing`` read."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            for arg in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
                if arg is not None:
                    arg.annotation = None
            node.returns = None
    return tree


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
    out, optimize, entries = argv[0], int(argv[1]), argv[2:]
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
        # No file name: the importer points every code object at the module's place in the archive
        # when it loads it (cpython.fix_co_filename), and marshal version 2 writes the name into each
        # function's code object again (~16 KiB of the stream for the five Pythons).
        tree = strip_function_annotations(strip_docstrings(ast.parse(source, rel)))
        code[rel] = compile(tree, "", "exec", dont_inherit=True, optimize=optimize)
        members[rel] = (marshal.dumps(code[rel], pack.MARSHAL_VERSION), cpython.source_hash(source))

    recorder = tables.Recorder()
    recorder.install()
    by_name = {module_name(rel): rel for rel in paths if rel.startswith("claw/")}
    order, first = import_all([m for m in by_name if not m.endswith("__main__")], entries)
    recorded = recorder.tables()

    # The boot modules run at every start: compiled without docstrings and function annotations
    # (nothing reads them; they are a third of the entry), with no asserts to lose.
    boot = []
    for name in pack.BOOT_MODULES:
        rel = name.replace(".", "/") + ("/__init__.py" if f"{name.replace('.', '/')}/__init__.py" in code else ".py")
        with open(rel, "rb") as f:
            tree = strip_function_annotations(ast.parse(f.read(), rel))
        boot.append((name, rel.endswith("__init__.py"), compile(tree, rel, "exec", dont_inherit=True, optimize=2)))
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
        f.write(pack_writer.write_boot(magic, boot))
    index, body = pack_writer.write_pack(magic, stream, cut_before=cut_before)
    with open(os.path.join(out, "index"), "wb") as f:
        f.write(index)
    with open(os.path.join(out, "body"), "wb") as f:
        f.write(body)
    sys.stdout.write("%d.%d %s\n" % (sys.version_info[0], sys.version_info[1], magic.hex()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
