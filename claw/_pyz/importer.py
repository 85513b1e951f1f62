"""Imports from claw.pyz: a zipimport subclass that takes code from this Python's bytecode pack.

Modules keep their real source locations (``__file__``, ``__path__``, ``get_data`` and ``get_source``
work as with plain sources, and tracebacks show source lines), but when ``claw/_pyz/cpXY.pack``
(format: pack.py) was made for the running interpreter their code comes from its body, so nothing
is compiled at start-up; ``__cached__`` then names the module's place in the pack. The body is read
from the per-user cache (cache.py), or inflated from the archive on a first run (and then written
there). Without a usable pack (a newer Python, ``-O``, ``CLAW_PYZ_SOURCES=1``, a pack that does not
check out, no cache file and a Python without ``lzma``) the sources are compiled, once per module
(stock zipimport compiles each module twice: once to find its file name, once to run it). With
``--check-hash-based-pycs always`` each module's recorded source hash is compared with its source
in the archive, and the source wins on a mismatch. Once installed, the pack's start-up tables are served (tables.py) from the first import of
``dataclasses`` or the regex compiler on.

The generated ``__main__.py`` calls ``install`` first thing, after running this module and its
siblings in ``pack.BOOT_MODULES`` from ``cpXY.boot`` (or importing them from source). It does not
touch imports from anywhere but this archive, and writes bytecode nowhere but the cache (cache.py).
"""

from __future__ import annotations

import marshal
import os
import sys
import zipimport
from importlib.machinery import ModuleSpec
TYPE_CHECKING = False  # typing is not imported at start-up (it costs ~10 ms)
if TYPE_CHECKING:
    from typing import Any, Optional, Tuple

from claw._pyz import cpython
from claw._pyz.pack import (BOOT_MODULES, STREAM_PATH, FileBody, PackError, PackIndex, PackReader, boot_path,
                            pack_path, read_body)


_CODE = type(compile("", "", "exec"))


class ClawImporter(zipimport.zipimporter):
    """zipimporter for this archive's paths: modules keep their source locations, code from the pack."""

    _pack: Optional[PackReader] = None  # set by install()
    _cached_prefix = ""  # "<archive>/claw/_pyz/cpXY.pack/"
    _check_hash = False

    def find_spec(self, fullname: str, target: Any = None) -> Optional[ModuleSpec]:
        try:
            is_pkg = self.is_package(fullname)
        except ImportError:
            return None
        base = self.archive + os.sep + self.prefix + fullname.rpartition(".")[2]
        origin = base + os.sep + "__init__.py" if is_pkg else base + ".py"
        spec = ModuleSpec(fullname, self, origin=origin, is_package=is_pkg)
        spec.has_location = True
        if is_pkg:
            spec.submodule_search_locations = [base]
        return spec

    def get_filename(self, fullname: str) -> str:
        spec = self.find_spec(fullname)
        if spec is None or spec.origin is None:
            raise ImportError("can't find module " + fullname, name=fullname)
        return spec.origin

    def create_module(self, spec: ModuleSpec) -> None:
        return None

    def _bytecode(self, origin: str) -> Tuple[Any, Optional[str]]:
        """(code, __cached__) from the pack, or (None, None) to compile the source."""
        pack = ClawImporter._pack
        if pack is None:
            return None, None
        name = origin[len(self.archive) + 1:]
        if os.sep != "/":
            name = name.replace(os.sep, "/")
        if name not in pack:
            return None, None
        if ClawImporter._check_hash and cpython.source_hash(self.get_data(origin)) != pack.source_hash(name):
            return None, None
        try:
            code = marshal.loads(pack.get(name) or b"")
        except Exception:  # PackError (damaged: the checksum did not match), or marshal's errors
            return None, None
        if type(code) is not _CODE:  # a damaged stream can unmarshal to anything
            return None, None
        cpython.fix_co_filename(code, origin)
        return code, ClawImporter._cached_prefix + name + "c"

    def _source_code(self, origin: str) -> Any:
        return compile(self.get_data(origin), origin, "exec", dont_inherit=True)

    def get_code(self, fullname: str) -> Any:
        origin = self.get_filename(fullname)
        code = self._bytecode(origin)[0]
        return code if code is not None else self._source_code(origin)

    def exec_module(self, module: Any) -> None:
        origin = module.__spec__.origin
        code, cached = self._bytecode(origin)
        if code is None:
            code = self._source_code(origin)
        module.__cached__ = cached
        exec(code, module.__dict__)


def open_pack(loader: zipimport.zipimporter, tag: str) -> Optional[PackReader]:
    """This interpreter's pack in ``loader``'s archive, or None when it has none or it does not
    check out (then modules are compiled from source). Its body comes from the per-user cache
    (cache.py) when a file for it is there, else it is inflated from the archive's shared stream and
    written to the cache for the next run; a cache file that turns out damaged is replaced the same
    way."""
    magic = cpython.pyc_magic()
    if magic is None:
        return None
    try:
        index = PackIndex(loader.get_data(pack_path(tag).replace("/", os.sep)), magic)
    except (OSError, PackError):
        return None
    from claw._pyz import cache

    def inflate() -> bytes:
        body = read_body(loader.get_data(STREAM_PATH.replace("/", os.sep)), index)
        cache.store(tag, index.digest, body)
        return body

    fd = cache.open_body(tag, index.digest, index.size)
    if fd is not None:
        return PackReader(index, FileBody(fd), recover=inflate)
    try:
        return PackReader(index, inflate())
    except (OSError, PackError):
        return None


def install(loader: Any, tag: str, precompiled: bool) -> Optional[PackReader]:
    """Make imports from ``loader.archive`` go through ``ClawImporter``, with code from the pack of
    ``tag`` (``"cp312"``) when ``precompiled`` (the boot entry was used) and the pack checks out.
    Returns the pack in use, if any."""
    if not isinstance(loader, zipimport.zipimporter) or not cpython.zipimporter_subclassable():
        return None  # stock zipimport keeps importing (and compiling) the sources
    archive = loader.archive
    pack = open_pack(loader, tag) if precompiled else None
    ClawImporter._pack = pack
    ClawImporter._cached_prefix = archive + os.sep + pack_path(tag).replace("/", os.sep) + os.sep
    ClawImporter._check_hash = cpython.check_source_hashes()

    def hook(path: str) -> ClawImporter:
        if path == archive or path.startswith(archive + os.sep):
            return ClawImporter(path)
        raise ImportError("not in " + archive)

    sys.path_hooks.insert(0, hook)
    for entry, finder in list(sys.path_importer_cache.items()):
        if isinstance(finder, zipimport.zipimporter) and finder.archive == archive:
            sys.path_importer_cache[entry] = ClawImporter(entry)
    _adopt_boot_modules(archive, tag if precompiled else None)
    if pack is not None and any(name.startswith("<") for name in pack.members):
        _serve_tables_on_first_use(pack)
    return pack


def _serve_tables_on_first_use(pack: PackReader) -> None:
    """Serve the pack's start-up tables (tables.py) once ``dataclasses`` or the regex compiler is
    imported, importing tables.py only then: ``--version`` needs neither."""
    names = {"dataclasses", cpython.regex_compiler_name()} - {None}
    if names & set(sys.modules):  # imported already (by site, say): serve now
        from claw._pyz import tables

        tables.serve(pack.get, pack.members)
        return

    class ServeTables:
        @staticmethod
        def find_spec(fullname: str, path: Any = None, target: Any = None) -> Any:
            if fullname not in names:
                return None
            sys.meta_path.remove(ServeTables)
            from claw._pyz import tables

            patches = tables.patches(pack.get, pack.members)
            patch = patches.pop(fullname, None)
            tables.patch_on_import(patches)
            return tables.patched_spec(fullname, path, patch) if patch is not None else None

    sys.meta_path.insert(0, ServeTables)


def _adopt_boot_modules(archive: str, tag: Optional[str]) -> None:
    """Give the modules imported before ``ClawImporter`` was in place (run by ``__main__.py`` from the
    boot entry of ``tag``, or compiled from source by stock zipimport when ``tag`` is None) the spec,
    loader and ``__cached__`` of a module imported by it."""
    for name in BOOT_MODULES:
        module = sys.modules.get(name)
        if module is None or isinstance(getattr(module, "__loader__", None), ClawImporter):
            continue
        parent = name.rpartition(".")[0]
        finder = ClawImporter(archive + os.sep + parent.replace(".", os.sep) if parent else archive)
        spec = finder.find_spec(name)
        if spec is None:
            continue
        module.__spec__ = spec
        module.__loader__ = finder
        module.__cached__ = None
        if tag is not None and spec.origin:
            rel = spec.origin[len(archive) + 1:]
            module.__cached__ = archive + os.sep + boot_path(tag).replace("/", os.sep) + os.sep + rel + "c"
