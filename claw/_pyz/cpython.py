"""Every use of CPython internals by the .pyz machinery, each behind a version check.

The bytecode packs and start-up tables lean on details no public API promises: marshalled code
objects and the interpreter's magic number, the hash that hash-based pycs record, ``co_filename``
fix-ups, the regular-expression compiler's program
format (``_sre``) and ``dataclasses`` compiling generated methods with a module-global ``exec``. Each
is used through one function here, written against and tested on CPython ``TESTED`` (3.9-3.13). On
anything else (another implementation, a newer CPython) the functions say no (``None``/``False``),
and the callers fall back to what plain Python does: compile the sources, leave ``dataclasses`` and
``re`` alone. (The importer subclasses ``zipimport.zipimporter`` on every Python: it overrides each
method it serves and uses only the documented ``archive``, ``prefix``, ``get_data`` and
``is_package`` of its base, so that needs no check; the sources it compiles are in the archive's
stream, which stock zipimport could not read.) That fallback is tested by forcing ``_VERSION`` out of range. ``blake2b`` takes the
digest from ``_blake2``, the private module ``hashlib`` uses, and from ``hashlib`` where there is none.

It deliberately does not decide anything (the importer and the tables do) and imports nothing that
is not already loaded when a zipapp starts, except ``_blake2`` (cheap) and ``_sre`` internals at
build time.
"""

from __future__ import annotations

import sys
TYPE_CHECKING = False  # typing is not imported at start-up (it costs ~10 ms)
if TYPE_CHECKING:
    from typing import Any, Callable, Optional, Tuple

TESTED = ((3, 9), (3, 13))  # first and last CPython minor version these functions were checked on
_VERSION: Tuple[int, int] = (sys.version_info[0], sys.version_info[1])  # tests move it out of range


def tested() -> bool:
    """Whether the running interpreter is a CPython these internals were checked on."""
    return sys.implementation.name == "cpython" and TESTED[0] <= _VERSION <= TESTED[1]


def pyc_magic() -> Optional[bytes]:
    """The magic number of this interpreter's marshalled code (a pack made by another one is
    refused), or None when packs are not to be trusted here at all."""
    if not tested():
        return None
    import _frozen_importlib_external

    return bytes(_frozen_importlib_external.MAGIC_NUMBER)


def source_hash(source: bytes) -> bytes:
    """The 8-byte source hash hash-based pycs record (what ``--check-hash-based-pycs`` compares)."""
    import _frozen_importlib_external
    import _imp

    return _imp.source_hash(_frozen_importlib_external._RAW_MAGIC_NUMBER, source)


def check_source_hashes() -> bool:
    """Whether the interpreter was told to compare pycs with their sources
    (``--check-hash-based-pycs always``)."""
    import _imp

    return _imp.check_hash_based_pycs == "always"


def fix_co_filename(code: Any, path: str) -> None:
    """Point ``code`` (and its nested code objects) at ``path``, as the import system does for
    pycs, so tracebacks name the source inside the archive."""
    import _imp

    _imp._fix_co_filename(code, path)


_blake2b: Any = None


def blake2b(data: Any, size: int) -> bytes:
    """BLAKE2b digest of ``data`` (``size`` bytes) from ``_blake2``, the module ``hashlib`` takes it
    from, imported alone: ``hashlib`` also loads OpenSSL (2-7 ms). Any Python: ``hashlib`` where
    there is no ``_blake2``."""
    global _blake2b
    if _blake2b is None:
        try:
            from _blake2 import blake2b as _blake2b
        except ImportError:
            from hashlib import blake2b as _blake2b
    return _blake2b(data, digest_size=size).digest()


# --------------------------------------------------------------------------------------------------
# dataclasses


def set_dataclasses_exec(module: Any, exec_function: Callable[..., Any]) -> bool:
    """Make ``dataclasses`` (``module``) compile the methods it generates through ``exec_function``:
    it looks ``exec`` up as a module global on CPython 3.9-3.13. False (and nothing done) elsewhere."""
    if not tested():
        return False
    module.exec = exec_function
    return True


# --------------------------------------------------------------------------------------------------
# regular expressions


def regex_compiler_name() -> Optional[str]:
    """The module whose ``compile(pattern, flags)`` turns a pattern into a compiled one:
    ``re._compiler`` from 3.11, ``sre_compile`` before; None where that is not known."""
    if not tested():
        return None
    return "re._compiler" if _VERSION >= (3, 11) else "sre_compile"


def set_regex_compile(module: Any, compile_function: Callable[..., Any]) -> bool:
    """Replace ``module.compile`` (``module`` named by ``regex_compiler_name()``)."""
    if not tested():
        return False
    module.compile = compile_function
    return True


def sre_magic() -> Optional[int]:
    """The version of the regular-expression engine's program format (``_sre.MAGIC``)."""
    if not tested():
        return None
    import _sre

    return int(_sre.MAGIC)


def sre_arguments(pattern: Any, flags: int) -> Optional[tuple]:
    """The arguments ``_sre.compile`` gets for ``re.compile(pattern, flags)`` (computed as
    ``re``'s own compiler does), or None where that is not known. Build time only."""
    if not tested():
        return None
    if _VERSION >= (3, 11):
        from re import _compiler as sre_compiler
        from re import _parser as sre_parser
    else:
        import sre_compile as sre_compiler
        import sre_parse as sre_parser
    parsed = sre_parser.parse(pattern, flags)
    indexgroup = [None] * parsed.state.groups
    for name, index in parsed.state.groupdict.items():
        indexgroup[index] = name
    program = [int(op) for op in sre_compiler._code(parsed, flags)]  # opcodes are int subclasses
    return (int(flags | parsed.state.flags), program, parsed.state.groups - 1,
            dict(parsed.state.groupdict), tuple(indexgroup))


def sre_compile(pattern: Any, arguments: tuple) -> Any:
    """The compiled pattern for ``pattern`` from the arguments ``sre_arguments`` gave."""
    import _sre

    return _sre.compile(pattern, *arguments)
