"""Unit tests of claw._pyz: the pack format (writer and reader), the CPython-internals gate, the
start-up tables, and the importer on a small zip archive built here.

The importer tests install it into this process (sys.path_hooks) and undo that afterwards; each
serves a module whose packed code differs from its source, so the test sees which one ran. The
archive claw.pyz itself is tested on every Python by tests/e2e/.
"""

from __future__ import annotations

import dataclasses
import marshal
import os
import random
import re
import stat
import sys
import zipfile
import zipimport

import pytest

from claw._pyz import cache, cpython, importer, pack, pack_writer, tables

MAGIC = cpython.pyc_magic() or b"\0\0\r\n"
TAG = "cp%d%d" % sys.version_info[:2]


def _members(n=40):
    # Incompressible members (5 KB each), so the stream is far longer than the first decoding step.
    return [(f"claw/m{i}.py", random.Random(i).getrandbits(8 * 5000).to_bytes(5000, "little"), bytes([i]) * 8)
            for i in range(n)]


# ------------------------------------------------------------------------------------------------
# the format


def _pack(members, segment_size=pack.SEGMENT_SIZE, tag=TAG, others=()):
    """(PackIndex, archive entries) for ``members``, joined with the packs in ``others`` ((tag, members))."""
    packs = [(tag, *pack_writer.write_pack(MAGIC, members, segment_size))]
    packs += [(t, *pack_writer.write_pack(MAGIC, m)) for t, m in others]
    entries = pack_writer.join_packs(packs)
    return pack.PackIndex(entries[pack.pack_path(tag)], MAGIC), entries


def test_pack_round_trip_keeps_order_and_reads_segments_lazily():
    members = _members()
    index, entries = _pack(members, segment_size=30_000, others=[("cp1", _members(3)), ("cp999", _members(5))])
    assert set(entries) == {pack.pack_path(TAG), pack.pack_path("cp1"), pack.pack_path("cp999"), pack.STREAM_PATH}
    body = pack.read_body(entries[pack.STREAM_PATH], index)
    assert index.stream == 5 * 5000  # newest Python first in the stream: cp999, then this one
    reader = pack.PackReader(index, body)
    assert [name for name, _ in reader.items()] == [m[0] for m in members]
    fresh = pack.PackReader(index, body)
    assert len(fresh.segments) == 7  # 40 members of 5 KB, 30 KB segments: 6 members each
    assert fresh.get("claw/m20.py") == members[20][1]
    assert list(fresh._checked) == [3]  # only the segment of the member asked for is read and checked
    cut_index = pack.PackIndex(pack_writer.write_pack(MAGIC, members, cut_before=["claw/m2.py"])[0], MAGIC)
    assert cut_index.segments[0][1] == 2 * 5000 and cut_index.members["claw/m2.py"][:2] == (1, 0)
    assert fresh.get("claw/nothing.py") is None and "claw/m3.py" in fresh
    for name, raw, source_hash in members:
        assert fresh.get(name) == raw and fresh.source_hash(name) == source_hash
    # deterministic
    assert _pack(members, segment_size=30_000, others=[("cp1", _members(3)), ("cp999", _members(5))])[1] == entries


def test_a_body_is_inflated_in_pieces_keeping_only_its_own(monkeypatch):
    members = _members(10)
    index, entries = _pack(members, others=[("cp999", _members(7)), ("cp1", _members(3))])
    whole = pack.read_body(entries[pack.STREAM_PATH], index)
    monkeypatch.setattr(pack, "_PIECE", 7001)  # pieces that straddle the bodies' boundary
    assert pack.read_body(entries[pack.STREAM_PATH], index) == whole
    assert pack.PackReader(index, whole).items() == [(name, raw) for name, raw, _ in members]


def test_a_body_read_from_a_file(tmp_path):
    members = _members()
    index, entries = _pack(members, segment_size=30_000)
    path = tmp_path / "body"
    path.write_bytes(pack.read_body(entries[pack.STREAM_PATH], index))
    with open(path, "rb") as f:
        reader = pack.PackReader(index, pack.FileBody(f.fileno()))
        assert reader.from_file
        assert reader.items() == [(name, raw) for name, raw, _ in members]
        assert len(reader._checked) == pack._KEEP  # a file body keeps only the last segments read


def test_members_can_be_read_from_several_threads_at_once(tmp_path):
    # Imports may run in several threads: each must get the right bytes while others read segments
    # and drop them.
    import threading

    members = _members(60)
    index, entries = _pack(members, segment_size=20_000)
    path = tmp_path / "body"
    path.write_bytes(pack.read_body(entries[pack.STREAM_PATH], index))
    expected = {name: raw for name, raw, _ in members}
    errors = []

    def read(seed):
        order = list(expected)
        random.Random(seed).shuffle(order)
        for name in order:
            try:
                if reader.get(name) != expected[name]:
                    errors.append(name)
            except Exception as exc:  # e.g. a segment table another thread is halfway through updating
                errors.append(repr(exc))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, to meet the races
    try:
        with open(path, "rb") as f:
            for _ in range(10):
                reader = pack.PackReader(index, pack.FileBody(f.fileno()))
                threads = [threading.Thread(target=read, args=(seed,)) for seed in range(8)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []


def test_pack_is_refused_when_it_does_not_check_out():
    index_bytes, body = pack_writer.write_pack(MAGIC, _members())
    with pytest.raises(pack.PackError, match="another Python"):
        pack.PackIndex(index_bytes, b"\1\2\r\n")
    with pytest.raises(pack.PackError):
        pack.PackIndex(index_bytes[:4] + b"\xff" * 40 + index_bytes[44:], MAGIC)
    with pytest.raises(pack.PackError):
        pack.PackIndex(index_bytes[:4] + marshal.dumps({"format": 99}), MAGIC)
    index, entries = _pack(_members())
    stream = entries[pack.STREAM_PATH]
    with pytest.raises(pack.PackError):  # damaged
        pack.read_body(stream[:len(stream) // 2] + bytes(len(stream) - len(stream) // 2), index)
    with pytest.raises(pack.PackError):  # cut short
        pack.read_body(stream[:-1000], index)
    body = bytearray(pack.read_body(stream, index))
    body[-10] ^= 1  # a body whose last segment differs from its digest
    reader = pack.PackReader(index, bytes(body))
    assert reader.get("claw/m0.py") == _members()[0][1]
    with pytest.raises(pack.PackError, match="damaged"):
        reader.get("claw/m39.py")


def test_a_damaged_segment_is_recovered_once_when_the_reader_can():
    members = _members()
    index, entries = _pack(members, segment_size=30_000)
    good = pack.read_body(entries[pack.STREAM_PATH], index)
    calls = []

    def recover():
        calls.append(1)
        return good

    reader = pack.PackReader(index, bytes(len(good)), recover=recover)
    assert reader.get("claw/m39.py") == members[39][1] and reader.get("claw/m0.py") == members[0][1]
    assert calls == [1]


def test_join_refuses_a_body_its_index_does_not_describe():
    index_bytes, body = pack_writer.write_pack(MAGIC, _members(3))
    with pytest.raises(ValueError, match="not the one"):
        pack_writer.join_packs([(TAG, index_bytes, body + b"x")])


def test_a_python_without_lzma_cannot_inflate_the_stream(monkeypatch):
    index, entries = _pack(_members())
    monkeypatch.setitem(sys.modules, "lzma", None)  # import lzma now raises ImportError
    with pytest.raises(pack.PackError, match="no lzma"):
        pack.read_body(entries[pack.STREAM_PATH], index)


def test_boot_round_trip():
    code = compile("X = 1\n", "claw/x.py", "exec")
    data = pack_writer.write_boot(MAGIC, [("claw", True, code)])
    ((name, is_package, loaded),) = pack.read_boot(data, MAGIC)
    assert (name, is_package) == ("claw", True)
    namespace = {}
    exec(loaded, namespace)
    assert namespace["X"] == 1
    with pytest.raises(pack.PackError):
        pack.read_boot(data, b"\1\2\r\n")
    with pytest.raises(pack.PackError):
        pack.read_boot(data[:4] + b"\xff\xff", MAGIC)


# ------------------------------------------------------------------------------------------------
# CPython internals


def test_internals_are_used_on_the_pythons_they_were_checked_on():
    assert cpython.tested()
    assert cpython.pyc_magic() == __import__("importlib.util").util.MAGIC_NUMBER
    assert cpython.regex_compiler_name() in sys.modules
    for pattern, flags in [(r"(?P<a>\d+)-(x|y)*", 0), (rb"[^\s]+", re.I), (r"^a.b$", re.M | re.S)]:
        arguments = cpython.sre_arguments(pattern, flags)
        assert cpython.sre_compile(pattern, arguments) == re.compile(pattern, flags)


def test_digests_are_blake2b_without_hashlib():
    import hashlib

    assert pack.digest(b"claw") == hashlib.blake2b(b"claw", digest_size=32).digest()
    assert len(pack.digest(memoryview(b"x" * 100))) == pack.DIGEST_SIZE


def test_internals_decline_on_an_unchecked_python(monkeypatch):
    monkeypatch.setattr(cpython, "_VERSION", (3, cpython.TESTED[1][1] + 1))
    assert not cpython.tested()
    assert cpython.pyc_magic() is None
    assert cpython.regex_compiler_name() is None
    assert cpython.sre_arguments("a", 0) is None and cpython.sre_magic() is None

    class Module:
        exec = compile = None

    assert cpython.set_dataclasses_exec(Module, print) is False and Module.exec is None
    assert cpython.set_regex_compile(Module, print) is False and Module.compile is None


# ------------------------------------------------------------------------------------------------
# start-up tables


@pytest.fixture
def restore_patches(monkeypatch):
    """Whatever the tests do to dataclasses.exec and the regex compiler is undone afterwards."""
    compiler = sys.modules[cpython.regex_compiler_name()]
    monkeypatch.setattr(dataclasses, "exec", getattr(dataclasses, "exec", exec), raising=False)
    monkeypatch.setattr(compiler, "compile", compiler.compile)
    return compiler


def test_tables_recorded_are_served(restore_patches):
    recorder = tables.Recorder()
    assert recorder.install()

    @dataclasses.dataclass
    class Recorded:
        """A class whose generated methods the recorder sees."""

        furlongs: int = 1

    re.compile("recorded (pattern)+")
    recorded = recorder.tables()
    code = marshal.loads(recorded[tables.DATACLASS_CODE])
    # Keyed by an 8-byte digest of the generated source, not the source itself.
    assert all(type(key) is bytes and len(key) == 8 for key in code)
    assert any(b"furlongs" in value for value in code.values())
    magic, programs = marshal.loads(recorded[tables.REGEX_PROGRAMS])
    assert magic == cpython.sre_magic() and ("recorded (pattern)+", 0) in programs

    compiled = []

    def audit(event, args):
        if event == "compile" and isinstance(args[0], str) and "furlongs" in args[0]:
            compiled.append(args[0])

    sys.addaudithook(audit)
    tables.serve(recorded.get, recorded)
    assert dataclasses.exec.__module__ == "claw._pyz.tables"

    @dataclasses.dataclass
    class Served:
        """The same fields: its methods come from the table, not from compile()."""

        furlongs: int = 1

    assert not any("__create_fn__" in text for text in compiled), compiled
    assert Served(2).furlongs == 2 and repr(Served()) == "test_tables_recorded_are_served.<locals>.Served(furlongs=1)"
    re.purge()
    assert re.compile("recorded (pattern)+").match("recorded patternpattern")
    assert re.compile("not recorded").pattern == "not recorded"


def test_a_regex_table_for_another_engine_is_ignored(restore_patches):
    pattern = "(a)(b)"
    arguments = cpython.sre_arguments(pattern, 0)
    wrong = (arguments[0], [0], *arguments[2:])  # a program that would fail if used
    tables.patch_on_import({cpython.regex_compiler_name(): tables.regex_patch(lambda: (-1, {(pattern, 0): wrong}))})
    re.purge()
    assert re.compile(pattern).match("ab").groups() == ("a", "b")


# ------------------------------------------------------------------------------------------------
# the importer


@pytest.fixture
def installed(monkeypatch):
    """Call as installed(archive, precompiled) to install the importer for ``archive``; undone after."""
    monkeypatch.setattr(sys, "path_hooks", list(sys.path_hooks))
    monkeypatch.setattr(sys, "path_importer_cache", dict(sys.path_importer_cache))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setattr(sys, "path", list(sys.path))
    for attr in ("_pack", "_cached_prefix", "_check_hash"):
        monkeypatch.setattr(importer.ClawImporter, attr, getattr(importer.ClawImporter, attr))
    added = []

    def install(archive, precompiled=True):
        reader = importer.install(zipimport.zipimporter(str(archive)), TAG, precompiled)
        sys.path.insert(0, str(archive))
        added.append(archive)
        return reader

    yield install
    for name in [n for n in sys.modules if n == "pyzpkg" or n.startswith("pyzpkg.")]:
        del sys.modules[name]


def _members_saying(where, source_hash=None):
    source = b'WHERE = "source"\n'
    return [("pyzpkg/__init__.py", marshal.dumps(compile("", "pyzpkg/__init__.py", "exec"), pack.MARSHAL_VERSION),
             cpython.source_hash(b"")),
            ("pyzpkg/mod.py", marshal.dumps(compile(f'WHERE = "{where}"\n', "pyzpkg/mod.py", "exec"), pack.MARSHAL_VERSION),
             source_hash or cpython.source_hash(source))]


def _archive(tmp_path, pack_bytes=None, source_hash=None):
    """A zip with package pyzpkg (its module says "source") and a pack whose code says "pack"."""
    path = tmp_path / "a.pyz"
    entries = pack_writer.join_packs([(TAG, *pack_writer.write_pack(MAGIC, _members_saying("pack", source_hash)))])
    if pack_bytes is not None:
        entries[pack.pack_path(TAG)] = pack_bytes
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pyzpkg/__init__.py", "")
        zf.writestr("pyzpkg/mod.py", b'WHERE = "source"\n')
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    """The per-user cache of these tests: $XDG_CACHE_HOME in tmp_path (not the real one)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(cache.DISABLE_ENV, raising=False)
    return tmp_path / "xdg" / "claw" / "bytecode"


def test_modules_come_from_the_pack_with_their_source_locations(installed, tmp_path):
    archive = _archive(tmp_path)
    assert installed(archive) is not None
    import pyzpkg.mod

    assert pyzpkg.mod.WHERE == "pack"
    assert pyzpkg.mod.__file__ == f"{archive}/pyzpkg/mod.py"
    assert pyzpkg.mod.__cached__ == f"{archive}/{pack.pack_path(TAG)}/pyzpkg/mod.pyc"
    assert pyzpkg.__path__ == [f"{archive}/pyzpkg"]
    assert isinstance(pyzpkg.mod.__loader__, importer.ClawImporter)
    assert pyzpkg.mod.__loader__.get_source("pyzpkg.mod") == 'WHERE = "source"\n'


@pytest.mark.parametrize("case", ["not precompiled", "damaged pack", "unchecked python", "hash mismatch"])
def test_sources_are_compiled_when_the_pack_is_not_usable(installed, tmp_path, monkeypatch, case):
    archive = _archive(tmp_path, pack_bytes=MAGIC + b"garbage" if case == "damaged pack" else None,
                       source_hash=b"\0" * 8 if case == "hash mismatch" else None)
    if case == "unchecked python":
        monkeypatch.setattr(cpython, "_VERSION", (3, 99))
    if case == "hash mismatch":
        monkeypatch.setattr(cpython, "check_source_hashes", lambda: True)
    installed(archive, precompiled=case != "not precompiled")
    import pyzpkg.mod

    assert pyzpkg.mod.WHERE == "source"
    assert getattr(pyzpkg.mod, "__cached__", None) is None or "__pycache__" in pyzpkg.mod.__cached__
    # On an unchecked Python too: the importer compiles the source (stock zipimport could not read
    # the sources an archive keeps in its stream).
    assert isinstance(pyzpkg.mod.__loader__, importer.ClawImporter)


# ------------------------------------------------------------------------------------------------
# the per-user cache of inflated bodies


def _open(archive):
    return importer.open_pack(zipimport.zipimporter(str(archive)), TAG)


def _cache_file(cache_home, archive):
    index = pack.PackIndex(zipfile.ZipFile(archive).read(pack.pack_path(TAG)), MAGIC)
    return cache_home / cache.file_name(TAG, index.digest)


def test_a_first_run_writes_the_cache_and_later_runs_read_it(tmp_path, cache_home):
    archive = _archive(tmp_path)
    first = _open(archive)
    assert not first.from_file  # inflated from the archive...
    cached = _cache_file(cache_home, archive)
    assert cached.exists()  # ... and written for the next run, private to the user
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600 and stat.S_IMODE(cache_home.stat().st_mode) == 0o700
    assert [p.name for p in cache_home.iterdir()] == [cached.name]  # no temporary file left
    second = _open(archive)
    assert second.from_file
    assert second.get("pyzpkg/mod.py") == first.get("pyzpkg/mod.py")


def test_a_damaged_cache_file_is_ignored_and_rewritten(installed, tmp_path, cache_home):
    archive = _archive(tmp_path)
    good = _open(archive).get("pyzpkg/mod.py")
    cached = _cache_file(cache_home, archive)
    body = cached.read_bytes()
    cached.write_bytes(bytes(len(body)))  # same size, all zeros
    assert installed(archive).from_file
    import pyzpkg.mod

    assert pyzpkg.mod.WHERE == "pack"
    assert cached.read_bytes() == body
    assert _open(archive).get("pyzpkg/mod.py") == good


def test_code_planted_in_the_cache_is_never_run(installed, tmp_path, cache_home):
    # A cache file of the right name and size whose code differs from the archive's ("evil" has as
    # many letters as "pack"): its digests do not match the archive's index, so it is replaced.
    archive = _archive(tmp_path)
    _open(archive)
    cached = _cache_file(cache_home, archive)
    _, planted = pack_writer.write_pack(MAGIC, _members_saying("evil"))
    assert len(planted) == cached.stat().st_size
    cached.write_bytes(planted)
    installed(archive)
    import pyzpkg.mod

    assert pyzpkg.mod.WHERE == "pack"
    assert b"evil" not in cached.read_bytes()


@pytest.mark.parametrize("case", ["group-writable", "another user's", "a symlink", "a symlinked file"])
def test_a_cache_that_others_could_write_is_not_used(tmp_path, cache_home, monkeypatch, case):
    archive = _archive(tmp_path)
    _open(archive)
    cached = _cache_file(cache_home, archive)
    assert _open(archive).from_file
    if case == "group-writable":
        cache_home.chmod(0o770)
    elif case == "another user's":
        monkeypatch.setattr(cache, "_uid", lambda: os.geteuid() + 1)
    elif case == "a symlink":
        real = tmp_path / "elsewhere"
        cache_home.rename(real)
        cache_home.symlink_to(real)
    else:
        real = tmp_path / "elsewhere.bin"
        cached.rename(real)
        cached.symlink_to(real)
    reader = _open(archive)
    assert reader is not None and not reader.from_file  # inflated in memory instead
    assert reader.get("pyzpkg/mod.py") == marshal.dumps(compile('WHERE = "pack"\n', "pyzpkg/mod.py", "exec"),
                                                         pack.MARSHAL_VERSION)
    assert cache.store(TAG, b"x" * 32, b"body") is (case == "a symlinked file")
    if case == "group-writable":  # nothing was written into it
        assert sorted(p.name for p in cache_home.iterdir()) == [cached.name]


def test_a_cache_file_that_is_group_writable_is_not_used(tmp_path, cache_home):
    archive = _archive(tmp_path)
    _open(archive)
    _cache_file(cache_home, archive).chmod(0o620)
    assert not _open(archive).from_file


@pytest.mark.parametrize("case", ["read-only home", "turned off"])
def test_without_a_cache_the_body_is_inflated_in_memory(installed, tmp_path, monkeypatch, cache_home, case):
    if case == "read-only home":  # (as root, a chmod would not stop the writes: a file in the way does)
        (tmp_path / "xdg").write_text("not a directory")
    else:
        monkeypatch.setenv(cache.DISABLE_ENV, "1")
    archive = _archive(tmp_path)
    reader = installed(archive)
    assert reader is not None and not reader.from_file
    import pyzpkg.mod

    assert pyzpkg.mod.WHERE == "pack"
    assert not cache_home.exists()
    assert "off" in cache.describe(TAG) or "not" in cache.describe(TAG)


def test_without_lzma_a_cache_file_is_still_used_and_without_one_sources_are(installed, tmp_path, cache_home,
                                                                            monkeypatch):
    archive = _archive(tmp_path)
    monkeypatch.setitem(sys.modules, "lzma", None)  # import lzma now raises ImportError
    assert _open(archive) is None  # no cache file yet: the sources will be compiled
    monkeypatch.delitem(sys.modules, "lzma")
    _open(archive)
    monkeypatch.setitem(sys.modules, "lzma", None)
    assert installed(archive).from_file
    import pyzpkg.mod

    assert pyzpkg.mod.WHERE == "pack"


def test_old_cache_files_of_a_python_are_pruned(cache_home):
    for i in range(6):
        assert cache.store(TAG, bytes([i]) * 32, b"body %d" % i)
        os.utime(cache_home / cache.file_name(TAG, bytes([i]) * 32), (1000 + i, 1000 + i))
    assert cache.store("cp1", b"\xff" * 32, b"other python")
    names = sorted(p.name for p in cache_home.iterdir())
    assert len([n for n in names if n.startswith(TAG + "-")]) == 1 + cache._KEEP_PER_PYTHON
    assert cache.file_name(TAG, b"\5" * 32) in names and cache.file_name(TAG, b"\0" * 32) not in names
    assert cache.file_name("cp1", b"\xff" * 32) in names
    assert cache.describe(TAG).startswith(str(cache_home))


def test_no_directory_is_created_in_one_that_is_not_the_users(tmp_path, monkeypatch, cache_home):
    # root with another user's HOME (sudo), or a cache under a shared directory: nothing is created
    # there, and the run inflates in memory.
    monkeypatch.setattr(cache, "_uid", lambda: os.geteuid() + 1)
    archive = _archive(tmp_path)
    reader = _open(archive)
    assert reader is not None and not reader.from_file
    assert not (tmp_path / "xdg").exists()
    assert "not yours" in cache.describe(TAG)


# ------------------------------------------------------------------------------------------------
# sources and data files in the stream


def test_undecorated_classes_lose_their_docstrings_decorated_ones_keep_them():
    import ast

    from claw._pyz import compile_worker

    source = ('"""m"""\nclass A:\n    """a"""\n    x = 1\nclass B:\n    """b"""\n'
              '@dataclasses.dataclass\nclass C:\n    """c"""\n    y: int = 0\n')
    namespace = {"dataclasses": dataclasses}
    exec(compile(compile_worker.strip_docstrings(ast.parse(source)), "<t>", "exec"), namespace)
    assert namespace["A"].__doc__ is None and namespace["A"].x == 1 and namespace["B"].__doc__ is None
    assert namespace["C"].__doc__ == "c" and namespace.get("__doc__") is None


def test_functions_lose_their_annotations_classes_and_modules_keep_them():
    import ast

    from claw._pyz import compile_worker

    source = ('from __future__ import annotations\nlimit: int = 3\n'
              'def f(a: int, /, b: str = "x", *c: bytes, d: float, **e: list) -> dict:\n    return {}\n'
              'async def g(a: int) -> None:\n    pass\n'
              '@dataclasses.dataclass\nclass C:\n    y: int = 0\n    def m(self, z: int) -> int:\n        return z\n')
    namespace = {"dataclasses": dataclasses}
    tree = compile_worker.strip_function_annotations(ast.parse(source))
    exec(compile(tree, "<t>", "exec"), namespace)
    assert namespace["f"].__annotations__ == {} and namespace["g"].__annotations__ == {}
    assert namespace["C"].m.__annotations__ == {} and namespace["C"](y=2).m(5) == 5
    assert namespace["__annotations__"] == {"limit": "int"} and namespace["C"].__annotations__ == {"y": "int"}
    assert [f.name for f in dataclasses.fields(namespace["C"])] == ["y"]


def test_which_files_go_into_the_stream():
    assert pack_writer.in_stream("claw/cli/main.py") and pack_writer.in_stream("claw/_vendor/h11/_events.py")
    assert pack_writer.in_stream("claw/_docs/TOOLS.md") and pack_writer.in_stream("claw/_pyz/tables.py")
    for plain in (*pack_writer.BOOT_SOURCES, "__main__.py", "claw/_vendor/certifi/cacert.pem", "claw/_vendor/vendor.txt",
                  "claw/_vendor/licenses/h11-0.16.0/LICENSE.txt"):
        assert not pack_writer.in_stream(plain), plain
    # The boot sources are what __main__.py imports when it cannot use the boot entry.
    assert pack_writer.BOOT_SOURCES == tuple(m.replace(".", "/") + ("/__init__.py" if m in ("claw", "claw._pyz") else ".py")
                                      for m in pack.BOOT_MODULES)


def test_sources_come_first_in_the_stream_and_round_trip():
    files = {"claw/b.py": b"B = 1\n", "claw/a.py": b"A = 1\n" * 50000, "claw/_docs/X.md": b"# X\n"}
    entries = pack_writer.join_packs([(TAG, *pack_writer.write_pack(MAGIC, _members(5)))], pack_writer.write_sources(files))
    assert set(entries) == {pack.pack_path(TAG), pack.SOURCES_PATH, pack.STREAM_PATH}
    sources = pack.PackIndex(entries[pack.SOURCES_PATH], pack.SOURCES_MAGIC)
    assert sources.stream == 0 and pack.PackIndex(entries[pack.pack_path(TAG)], MAGIC).stream == sources.size
    reader = pack.PackReader(sources, pack.read_body(entries[pack.STREAM_PATH], sources))
    assert {name: reader.get(name) for name in files} == files
    assert [name for name, _ in reader.items()] == sorted(files)
    with pytest.raises(pack.PackError):  # a Python's magic number is not the sources'
        pack.PackIndex(entries[pack.SOURCES_PATH], MAGIC)


_MOD = b'WHERE = "stream"\n\n\ndef fail():\n    raise ValueError("from the stream")\n'


def _stream_archive(tmp_path, with_pack=True, damage_sources=False):
    """A zip whose package pyzpkg is only in the stream (sources body), with a data file next to it,
    and (``with_pack``) a pack whose code says "pack"."""
    import lzma

    path = tmp_path / "s.pyz"
    files = {"pyzpkg/__init__.py": b"", "pyzpkg/mod.py": _MOD, "pyzpkg/data.txt": b"data in the stream\n"}
    packs = [(TAG, *pack_writer.write_pack(MAGIC, _members_saying("pack", cpython.source_hash(_MOD))))] if with_pack else []
    entries = pack_writer.join_packs(packs, pack_writer.write_sources(files))
    if damage_sources:  # a valid xz stream whose sources body does not match its digest
        raw = bytearray(lzma.decompress(entries[pack.STREAM_PATH]))
        raw[len(_MOD) // 2] ^= 0xFF
        entries[pack.STREAM_PATH] = lzma.compress(bytes(raw), format=lzma.FORMAT_XZ)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("case", ["no pack", "unchecked python"])
def test_modules_and_data_are_read_from_the_stream_when_there_is_no_bytecode(installed, tmp_path, cache_home,
                                                                            monkeypatch, case):
    import pkgutil
    import traceback

    archive = _stream_archive(tmp_path, with_pack=case != "no pack")
    if case == "unchecked python":  # a Python newer than the packs know (3.14, say)
        monkeypatch.setattr(cpython, "_VERSION", (3, 99))
    assert installed(archive) is None
    import pyzpkg.mod

    assert pyzpkg.mod.WHERE == "stream"  # compiled from the source in the stream
    assert pyzpkg.mod.__file__ == f"{archive}/pyzpkg/mod.py" and isinstance(pyzpkg.mod.__loader__, importer.ClawImporter)
    assert pkgutil.get_data("pyzpkg", "data.txt") == b"data in the stream\n"
    with pytest.raises(ValueError) as caught:
        pyzpkg.mod.fail()
    text = "".join(traceback.format_exception(caught.type, caught.value, caught.tb))
    assert f'File "{archive}/pyzpkg/mod.py", line 5, in fail\n    raise ValueError("from the stream")' in text
    # The sources body was inflated once and kept in the private cache for the next run.
    assert [p.name for p in cache_home.iterdir()] == [cache.file_name(pack.SOURCES_TAG, _sources_digest(archive))]
    assert "pyz/data.txt" not in importer.stream_names() and "pyzpkg/data.txt" in importer.stream_names()


def _sources_digest(archive):
    return pack.PackIndex(zipfile.ZipFile(archive).read(pack.SOURCES_PATH), pack.SOURCES_MAGIC).digest


def test_a_run_with_bytecode_reads_no_source_until_one_is_needed(installed, tmp_path, cache_home):
    archive = _stream_archive(tmp_path)
    assert installed(archive) is not None
    import pyzpkg.mod

    assert pyzpkg.mod.WHERE == "pack"
    assert importer.ClawImporter._sources._reader is None  # nothing inflated, nothing opened
    assert not (cache_home / cache.file_name(pack.SOURCES_TAG, _sources_digest(archive))).exists()
    assert pyzpkg.mod.__loader__.get_source("pyzpkg.mod") == _MOD.decode()  # a traceback would ask this
    assert (cache_home / cache.file_name(pack.SOURCES_TAG, _sources_digest(archive))).exists()


def test_sources_are_read_from_the_cache_once_it_has_them(installed, tmp_path, cache_home, monkeypatch):
    archive = _stream_archive(tmp_path, with_pack=False)
    first = importer.SourceStore(zipimport.zipimporter(str(archive)))
    assert first.get("pyzpkg/mod.py") == _MOD and not first._reader.from_file
    monkeypatch.setitem(sys.modules, "lzma", None)  # the stream cannot be inflated any more...
    second = importer.SourceStore(zipimport.zipimporter(str(archive)))
    assert second.get("pyzpkg/mod.py") == _MOD and second._reader.from_file  # ... and need not be


def test_a_planted_sources_cache_file_is_not_used(installed, tmp_path, cache_home):
    archive = _stream_archive(tmp_path, with_pack=False)
    store = importer.SourceStore(zipimport.zipimporter(str(archive)))
    store.get("pyzpkg/mod.py")
    planted = cache_home / cache.file_name(pack.SOURCES_TAG, _sources_digest(archive))
    data = planted.read_bytes()
    planted.write_bytes(data.replace(b'WHERE = "stream"', b'WHERE = "planted"'))
    again = importer.SourceStore(zipimport.zipimporter(str(archive)))
    assert again.get("pyzpkg/mod.py") == _MOD  # the digest did not match: inflated from the archive again
    assert planted.read_bytes() == data


@pytest.mark.parametrize("case", ["damaged stream", "no lzma"])
def test_sources_that_cannot_be_read_give_a_clear_import_error(installed, tmp_path, cache_home, monkeypatch, case):
    archive = _stream_archive(tmp_path, with_pack=False, damage_sources=case == "damaged stream")
    if case == "no lzma":
        monkeypatch.setitem(sys.modules, "lzma", None)
    installed(archive, precompiled=False)
    with pytest.raises(importer.ArchiveError) as caught:
        import pyzpkg.mod  # noqa: F401
    assert caught.value.claw_pyz and "claw.pyz:" in str(caught.value) and "another python3" in str(caught.value)
    assert ("lzma" if case == "no lzma" else "damaged") in str(caught.value)
    assert not list(cache_home.glob("*.bin")) if cache_home.exists() else True


def test_modules_found_in_the_pack_need_no_sources_index(installed, tmp_path, monkeypatch):
    archive = _stream_archive(tmp_path)
    installed(archive)
    monkeypatch.setattr(importer.SourceStore, "names", lambda self: pytest.fail("sources index read"))
    import pyzpkg.mod

    assert pyzpkg.mod.WHERE == "pack"
