"""Imports from claw.pyz: a zipimport subclass that takes code from this Python's bytecode pack and
sources and data files from the archive's stream.

Modules keep their real source locations (``__file__``, ``__path__``, ``get_data`` and ``get_source``
work as with plain sources, and tracebacks show source lines) although most files are not zip
members but parts of the sources body in the archive's LZMA stream (pack.py; ``SourceStore`` reads
it only when a source or data file is asked for: a traceback, ``claw help``, the fallback below).
When ``claw/_pyz/cpXY.pack`` (format: pack.py) was made for the running interpreter their code
comes from its body, so nothing
is compiled at start-up; ``__cached__`` then names the module's place in the pack. The body is read
from the per-user cache (cache.py), or inflated from the archive on a first run (and then written
there). Without a usable pack (a newer Python, ``-O``, ``CLAW_PYZ_SOURCES=1``, a pack that does not
check out) the sources are read from the stream and compiled, once per module
(stock zipimport compiles each module twice: once to find its file name, once to run it). With
``--check-hash-based-pycs always`` each module's recorded source hash is compared with its source
in the archive, and the source wins on a mismatch. Once installed, the pack's start-up tables are served (tables.py) from the first import of
``dataclasses`` or the regex compiler on.

The generated ``__main__.py`` calls ``install`` first thing, after running this module and its
siblings in ``pack.BOOT_MODULES`` from ``cpXY.boot`` (or importing them from source). It does not
touch imports from anywhere but this archive, and writes bytecode nowhere but the cache (cache.py).
"""

from __future__ import annotations

import _thread
import marshal
import os
import sys
import zipimport
from importlib.machinery import ModuleSpec
TYPE_CHECKING = False  # typing is not imported at start-up (it costs ~10 ms)
if TYPE_CHECKING:
    from typing import Any, List, Optional, Tuple

from claw._pyz import cpython
from claw._pyz.pack import (BOOT_MODULES, SOURCES_MAGIC, SOURCES_PATH, SOURCES_TAG, STREAM_PATH, FileBody,
                            PackError, PackIndex, PackReader, boot_path, pack_path, read_body)


_CODE = type(compile("", "", "exec"))
_HINT = ("the sources of this claw.pyz cannot be read (it needs Python's lzma module the first time "
         "on each Python, and an undamaged archive): run it with another python3, or download it again")


class ArchiveError(ImportError):
    """A module's source cannot be read from the archive (no ``lzma`` in this Python, a damaged
    stream): ``__main__.py`` prints the message, without a traceback."""

    claw_pyz = True


class SourceStore:
    """The files the archive keeps in its stream (the sources body, pack.py): their names from the
    sources index, read when first asked for; their bytes from the sources body, which is read from
    the per-user cache (cache.py) or, the first time, inflated from the stream and written there.
    A normal run with bytecode reads neither (names come from the pack first)."""

    def __init__(self, loader: zipimport.zipimporter) -> None:
        self._loader = loader
        self._index: Any = None  # PackIndex, or False when there is none
        self._reader: Optional[PackReader] = None
        self._lock = _thread.allocate_lock()

    def names(self) -> Any:
        """``{archive path: ...}`` of the files in the stream (empty when the archive has none)."""
        if self._index is None:
            try:
                self._index = PackIndex(self._loader.get_data(SOURCES_PATH.replace("/", os.sep)), SOURCES_MAGIC)
            except (OSError, PackError):
                self._index = False
        return self._index.members if self._index else {}

    def get(self, name: str) -> Optional[bytes]:
        """The bytes of file ``name`` (None if the stream has no such file); ``PackError`` when the
        sources cannot be read (no ``lzma`` and no cache file, a damaged stream)."""
        if name not in self.names():
            return None
        with self._lock:
            if self._reader is None:
                self._reader = self._open(self._index)
        return self._reader.get(name)

    def _open(self, index: PackIndex) -> PackReader:
        try:
            return cached_reader(self._loader, SOURCES_TAG, index)
        except OSError as exc:
            raise PackError(f"cannot read the archive: {exc}") from None


class ClawImporter(zipimport.zipimporter):
    """zipimporter for this archive's paths: modules keep their source locations, code from the pack,
    sources and other files from the stream (``SourceStore``) or, for the few plain members, the zip."""

    _pack: Optional[PackReader] = None  # set by install()
    _sources: Optional[SourceStore] = None  # set by install()
    _archive = ""  # the archive install() was given
    _cached_prefix = ""  # "<archive>/claw/_pyz/cpXY.pack/"
    _check_hash = False

    def _relative(self, path: str) -> Optional[str]:
        """``path`` (inside this archive) as a name in the archive, with ``/``."""
        if not path.startswith(self.archive + os.sep):
            return None
        name = path[len(self.archive) + 1:]
        return name.replace(os.sep, "/") if os.sep != "/" else name

    def is_package(self, fullname: str) -> bool:
        base = (self.prefix + fullname.rpartition(".")[2]).replace(os.sep, "/")
        # This Python's pack first: a run with bytecode then does not read the sources index.
        found = _lookup(ClawImporter._pack, base)
        store = ClawImporter._sources
        if found is None and store is not None and self.archive == ClawImporter._archive:
            found = _lookup(store.names(), base)
        if found is not None:
            return found
        return super().is_package(fullname)  # a plain member (the boot modules), or ZipImportError

    def get_data(self, pathname: str) -> bytes:
        name = self._relative(pathname)
        store = ClawImporter._sources
        if name is not None and store is not None and self.archive == ClawImporter._archive:
            try:
                data = store.get(name)
            except PackError as exc:
                raise OSError(f"claw.pyz: {exc}") from None
            if data is not None:
                return data
        return super().get_data(pathname)

    def get_source(self, fullname: str) -> Optional[str]:
        try:
            origin = self.get_filename(fullname)
        except ImportError:
            return None
        try:
            data = self.get_data(origin)
        except OSError:
            return None  # a traceback without source lines, rather than an error in the error report
        return data.decode()

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
        try:
            source = self.get_data(origin)
        except OSError as exc:
            raise ArchiveError(f"{exc}; {_HINT}", path=origin) from None
        return compile(source, origin, "exec", dont_inherit=True)

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


def _lookup(names: Any, base: str) -> Optional[bool]:
    """Whether ``base`` (``claw/x``) is a package (True), a module (False) or neither (None) in
    ``names`` (a pack or the sources index's members; None: neither)."""
    if names is None:
        return None
    if base + "/__init__.py" in names:
        return True
    return False if base + ".py" in names else None


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
    try:
        return cached_reader(loader, tag, index)
    except (OSError, PackError):
        return None


def cached_reader(loader: Any, tag: str, index: PackIndex) -> PackReader:
    """A reader of ``index``'s body: the per-user cache file when there is a good one, else the body
    inflated from the archive's stream (and stored in the cache). Raises OSError or PackError."""
    from claw._pyz import cache

    def inflate() -> bytes:
        body = read_body(loader.get_data(STREAM_PATH.replace("/", os.sep)), index)
        cache.store(tag, index.digest, body)
        return body

    fd = cache.open_body(tag, index.digest, index.size)
    if fd is not None:
        return PackReader(index, FileBody(fd), recover=inflate)
    return PackReader(index, inflate())


def install(loader: Any, tag: str, precompiled: bool) -> Optional[PackReader]:
    """Make imports from ``loader.archive`` go through ``ClawImporter``, with code from the pack of
    ``tag`` (``"cp312"``) when ``precompiled`` (the boot entry was used) and the pack checks out.
    Returns the pack in use, if any."""
    if not isinstance(loader, zipimport.zipimporter):
        return None
    archive = loader.archive
    pack = open_pack(loader, tag) if precompiled else None
    ClawImporter._pack = pack
    ClawImporter._sources = SourceStore(loader)
    ClawImporter._archive = archive
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


def stream_names() -> List[str]:
    """The files the installed archive keeps in its stream (for ``claw help topics``); empty when
    claw does not run from a claw.pyz."""
    store = ClawImporter._sources
    return sorted(store.names()) if store is not None else []


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
