"""The layer map of docs/DESIGN.md, enforced: a lower layer never imports a higher one.

Every module under claw/ is parsed with ``ast`` and every import is collected — top-level, lazy imports
inside functions, imports under ``TYPE_CHECKING``, relative imports, and module paths written as strings
for ``importlib`` (``"claw.tools.bash"``, ``"claw.cli.login:main"``). Each must go to the same layer or
a lower one:

    __main__ > cli > runtime > tools > mcp | remote > api > auth > config > net > proto > shared

``mcp`` and ``remote`` share a rank and may not import each other. ``shared`` is the bottom every layer
may use: the package itself (``claw/__init__.py``: the version), ``errors``, ``ids``, ``fsutil``,
``redact``, ``_vendor`` and ``_pyz`` (the .pyz importer); they import only each other. ``proto`` is also pure (docs/DESIGN.md):
no asyncio, socket or ssl.

Imports that break the rule today are listed in ``KNOWN_EXCEPTIONS``, each with why; the test fails
when a new one appears and when a listed one is gone (so the list only shrinks).
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

CLAW = Path(__file__).resolve().parent.parent / "claw"

RANKS: Dict[str, int] = {
    "shared": 0,
    "proto": 1,
    "net": 2,
    "config": 3,
    "auth": 4,
    "api": 5,
    "mcp": 6,
    "remote": 6,
    "tools": 7,
    "runtime": 8,
    "cli": 9,
    "__main__": 10,
}
SHARED = {"errors", "ids", "fsutil", "redact", "process_groups", "_vendor", "_pyz"}  # and claw/__init__.py itself

# (importing module, imported module): known upward imports, to be removed by the issues named.
KNOWN_EXCEPTIONS: Dict[Tuple[str, str], str] = {
    # MCP tools are adapted into claw Tool objects (and claw's own tools served over MCP), so mcp/
    # uses the Tool base classes and the tool-list parser of tools/. A fix moves the Tool interface
    # (claw.tools.base) and split_tool_list below mcp/, or the adapters up into tools/.
    ("claw.mcp.tools", "claw.tools.base"): "MCP tools are Tool subclasses",
    ("claw.mcp.serve", "claw.tools.base"): "claw's tools described as MCP tools",
    ("claw.mcp.manager", "claw.tools.registry"): "split_tool_list for --allowedTools/--disallowedTools",
}

PROTO_FORBIDDEN = {"asyncio", "socket", "ssl", "selectors"}

_MODULE_STRING = re.compile(r"^claw(\.[A-Za-z_][A-Za-z0-9_]*)+(:[A-Za-z_][A-Za-z0-9_]*)?$")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(CLAW.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> Optional[str]:
    """The layer of a ``claw...`` module name; None for modules outside claw."""
    parts = module.split(".")
    if parts[0] != "claw":
        return None
    if len(parts) == 1 or parts[1] in SHARED:
        return "shared"
    return parts[1]


def imports_of(path: Path) -> Iterator[Tuple[str, int]]:
    """(imported module, line) for every import in the file, wherever it is."""
    return imports_in(path.read_text(encoding="utf-8"), module_name(path), is_package=path.name == "__init__.py")


def imports_in(source: str, name: str, *, is_package: bool = False) -> Iterator[Tuple[str, int]]:
    package = name.split(".") if is_package else name.split(".")[:-1]
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, node.lineno
            for alias in node.names:  # ``from claw import errors`` imports claw.errors
                yield f"{target}.{alias.name}", node.lineno
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_STRING.match(node.value):
            yield node.value.split(":")[0], node.lineno


def source_files() -> List[Path]:
    return sorted(p for p in CLAW.rglob("*.py"))


@functools.lru_cache(maxsize=None)
def upward_imports() -> Dict[Tuple[str, str], List[str]]:
    found: Dict[Tuple[str, str], List[str]] = {}
    for path in source_files():
        importer = module_name(path)
        src = layer_of(importer)
        for target, line in imports_of(path):
            dst = layer_of(target)
            if dst is None or dst not in RANKS or src == dst:
                continue
            if RANKS[dst] >= RANKS[src]:  # higher, or a peer of the same rank (mcp <-> remote)
                key = (importer, _existing_module(target))
                found.setdefault(key, []).append(f"{path.relative_to(CLAW.parent)}:{line}")
    return found


def _existing_module(target: str) -> str:
    """``claw.tools.base.Tool`` -> ``claw.tools.base`` (the longest prefix that is a module)."""
    parts = target.split(".")
    while len(parts) > 1:
        rel = Path(CLAW.parent, *parts)
        if rel.with_suffix(".py").is_file() or (rel / "__init__.py").is_file():
            return ".".join(parts)
        parts.pop()
    return target


def test_every_layer_of_claw_is_on_the_map():
    layers = {layer_of(module_name(p)) for p in source_files()}
    assert layers <= set(RANKS), layers - set(RANKS)


def test_no_layer_imports_a_higher_one():
    found = upward_imports()
    new = {key: where for key, where in found.items() if key not in KNOWN_EXCEPTIONS}
    assert not new, "imports against the layer map (docs/DESIGN.md section 3):\n" + "\n".join(
        f"  {a} -> {b} at {', '.join(where)}" for (a, b), where in sorted(new.items()))


def test_the_known_exceptions_still_exist():
    gone = set(KNOWN_EXCEPTIONS) - set(upward_imports())
    assert not gone, f"fixed, remove from KNOWN_EXCEPTIONS: {sorted(gone)}"


def test_proto_does_no_io():
    for path in (CLAW / "proto").rglob("*.py"):
        used: Set[str] = {target.split(".")[0] for target, _ in imports_of(path)}
        assert not used & PROTO_FORBIDDEN, (path.name, used & PROTO_FORBIDDEN)


def test_the_checker_sees_lazy_relative_string_and_type_checking_imports():
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from claw.runtime.agent import Agent\n"
        "def f():\n    from ..cli import main\n    import claw.api.types\n    return main\n"
        "TARGET = 'claw.tools.bash'\n"
        "COMMAND = 'claw.cli.login:main'\n"
        "from claw import errors\n"
        "MESSAGE = 'see claw.redact for the rules'\n"
    )
    found = {target for target, _ in imports_in(source, "claw.net.sample")}
    assert {"claw.runtime.agent", "claw.cli", "claw.api.types", "claw.tools.bash", "claw.cli.login",
            "claw.errors"} <= found
    assert not any("redact" in target for target in found)
