"""Start-up tables: work every run would redo at import, recorded once per Python by the build and
served from that Python's pack at run time.

``DATACLASS_CODE``: ``{source_key(generated source): marshalled code}`` for the methods ``dataclasses`` generates
(``__init__``, ``__repr__``, ``__eq__``...). Compiling them is most of what ``@dataclass`` costs:
about 0.5 ms a class, 45-65 ms of a ``claw -p`` run.
``REGEX_PROGRAMS``: ``(engine magic, {(pattern, flags): arguments of _sre.compile})`` for the regular
expressions compiled while claw's modules (and the standard library they use) are imported: parsing
and compiling them in Python is ~50 patterns, 5-9 ms of a run.

Each table is keyed by the complete input of the work it replaces (the dataclass table by a 64-bit
digest of it), so an entry can save time but never change a result; an input not in a table (another patch release, a class or pattern made at run time)
is processed as usual. The build side (``Recorder``) runs in the target interpreter, importing every
module of the archive with recorders in place; the run side (``serve``) patches ``dataclasses`` and
the regex compiler when they are imported. Both go through claw._pyz.cpython, which declines on
interpreters it was not checked on: then nothing is recorded or patched.
"""

from __future__ import annotations

import marshal
import sys
TYPE_CHECKING = False  # typing is not imported at start-up (it costs ~10 ms)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Optional, Set, Tuple

from claw._pyz import cpython
from claw._pyz.pack import MARSHAL_VERSION

DATACLASS_CODE = "<dataclass methods>"
REGEX_PROGRAMS = "<regex programs>"


# --------------------------------------------------------------------------------------------------
# build time


class Recorder:
    """Records the sources ``dataclasses`` compiles and the patterns ``re`` compiles while installed."""

    def __init__(self) -> None:
        self.sources: Set[str] = set()
        self.patterns: Set[Tuple[Any, int]] = set()
        self._compile_pattern: Optional[Callable[..., Any]] = None

    def install(self) -> bool:
        """Put the recorders in place; False (nothing recorded) where cpython declines."""
        import builtins
        import dataclasses
        import importlib

        name = cpython.regex_compiler_name()
        if name is None:
            return False
        compiler = importlib.import_module(name)
        compile_pattern = self._compile_pattern = compiler.compile

        def record_source(source, globals=None, locals=None):
            if type(source) is str:
                self.sources.add(source)
            return builtins.exec(source, globals, locals)

        def record_pattern(p, flags=0):
            if type(p) in (str, bytes):
                self.patterns.add((p, int(flags)))
            return compile_pattern(p, flags)

        return cpython.set_dataclasses_exec(dataclasses, record_source) and \
            cpython.set_regex_compile(compiler, record_pattern)

    def tables(self) -> Dict[str, bytes]:
        """``{DATACLASS_CODE: marshalled table, REGEX_PROGRAMS: marshalled table}`` of what was
        recorded (plus the patterns already in ``re``'s cache); each regex entry is checked to give
        the same compiled pattern as ``re`` itself."""
        import re

        if self._compile_pattern is None:
            return {}
        patterns = set(self.patterns)
        patterns.update((key[1], int(key[2])) for key in list(getattr(re, "_cache", {}))
                        if type(key[1]) in (str, bytes))
        code = {source_key(text): marshal.dumps(compile(text, "<string>", "exec", dont_inherit=True),
                                                MARSHAL_VERSION)
                for text in sorted(self.sources)}
        if len(code) != len(self.sources):
            raise RuntimeError("two dataclass method sources have the same key")
        programs = {}
        for pattern, flags in sorted(patterns, key=lambda k: (type(k[0]) is bytes, k[0], k[1])):
            if flags & re.DEBUG:
                continue
            arguments = cpython.sre_arguments(pattern, flags)
            if arguments is None:
                continue
            if cpython.sre_compile(pattern, arguments) != self._compile_pattern(pattern, flags):
                raise RuntimeError("the regex table does not reproduce re's own result for %r" % (pattern,))
            programs[(pattern, flags)] = arguments
        return {DATACLASS_CODE: marshal.dumps(code, MARSHAL_VERSION),
                REGEX_PROGRAMS: marshal.dumps((cpython.sre_magic(), programs), MARSHAL_VERSION)}


def source_key(source: str) -> bytes:
    """The dataclass table's key for a generated source: an 8-byte BLAKE2b digest of it (the sources
    themselves were a sixth of the table; the build refuses a table where two keys collide)."""
    return cpython.blake2b(source.encode("utf-8", "surrogatepass"), 8)


# --------------------------------------------------------------------------------------------------
# run time


def serve(get: Callable[[str], Optional[bytes]], names: Any) -> None:
    """Serve the tables among ``names`` (the pack's members), read with ``get`` at first use (a table
    that cannot be read, e.g. a damaged one, is served as empty: everything is compiled as usual)."""
    patch_on_import(patches(get, names))


def patches(get: Callable[[str], Optional[bytes]], names: Any) -> Dict[str, Callable[[Any], Any]]:
    """``{module name: patch(module)}`` that serve the tables among ``names``: see ``serve``."""
    out: Dict[str, Callable[[Any], Any]] = {}
    compiler = cpython.regex_compiler_name()
    if DATACLASS_CODE in names:
        out["dataclasses"] = dataclass_patch(lambda: marshal.loads(get(DATACLASS_CODE)))
    if REGEX_PROGRAMS in names and compiler is not None:
        out[compiler] = regex_patch(lambda: marshal.loads(get(REGEX_PROGRAMS)))
    return out


def dataclass_patch(load_table: Callable[[], Any]) -> Callable[[Any], Any]:
    """A patch that gives ``dataclasses`` an ``exec`` running precompiled code for the sources in the
    table that ``load_table()`` returns (loaded at the first call), compiling any other source as usual."""
    import builtins

    builtin_exec = builtins.exec
    table: Optional[dict] = None

    def exec(source, globals=None, locals=None):
        nonlocal table
        if type(source) is str:
            if table is None:
                loaded = _load_or_none(load_table)
                table = loaded if type(loaded) is dict else {}
            code = table.get(source_key(source))
            if code is not None:
                source = marshal.loads(code)
        return builtin_exec(source, globals, locals)

    return lambda module: cpython.set_dataclasses_exec(module, exec)


def regex_patch(load_table: Callable[[], Any]) -> Callable[[Any], Any]:
    """A patch that gives the regular expression compiler a ``compile`` that builds the pattern from
    the table's precompiled program when the pattern and flags are in the table that ``load_table()``
    returns (loaded at the first call, and ignored unless it was made for this engine), and compiles
    anything else as usual."""
    table: Optional[dict] = None

    def patch(module: Any) -> None:
        compile_pattern = module.compile

        def compile(p, flags=0):
            nonlocal table
            if table is None:
                loaded = _load_or_none(load_table)
                ok = type(loaded) is tuple and len(loaded) == 2 and loaded[0] == cpython.sre_magic()
                table = loaded[1] if ok else {}
            arguments = table.get((p, flags)) if type(p) in (str, bytes) else None
            if arguments is None:
                return compile_pattern(p, flags)
            return cpython.sre_compile(p, arguments)

        cpython.set_regex_compile(module, compile)

    return patch


def _load_or_none(load_table: Callable[[], Any]) -> Any:
    try:
        return load_table()
    except Exception:  # a damaged table: serve nothing from it
        return None


def patch_on_import(patches: Dict[str, Callable[[Any], Any]]) -> None:
    """Call ``patch(module)`` for each ``{name: patch}`` once the standard-library module ``name`` has
    run: now if it is already imported, else through a finder at the front of ``sys.meta_path`` that
    goes away once it has patched them all."""
    waiting = {}
    for name, patch in patches.items():
        if name in sys.modules:
            patch(sys.modules[name])
        else:
            waiting[name] = patch
    if not waiting:
        return

    class PatchOnImport:
        @staticmethod
        def find_spec(fullname, path=None, target=None):
            patch = waiting.pop(fullname, None)
            if patch is None:
                return None
            if not waiting:
                sys.meta_path.remove(PatchOnImport)
            return patched_spec(fullname, path, patch)

    sys.meta_path.insert(0, PatchOnImport)


def patched_spec(fullname: str, path: Any, patch: Callable[[Any], Any]) -> Any:
    """The spec the path finder gives the standard-library module ``fullname``, set to call
    ``patch(module)`` once the module has run."""
    from importlib.machinery import PathFinder

    spec = PathFinder.find_spec(fullname, path)
    if spec is not None and spec.loader is not None:
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            patch(module)

        spec.loader.exec_module = exec_module
    return spec
