"""Unit tests of claw._pyz: the pack format (writer and reader), the CPython-internals gate, the
start-up tables, and the importer on a small zip archive built here.

The importer tests install it into this process (sys.path_hooks) and undo that afterwards; each
serves a module whose packed code differs from its source, so the test sees which one ran. The
archive claw.pyz itself is tested on every Python by tests/e2e/.
"""

from __future__ import annotations

import dataclasses
import marshal
import random
import re
import sys
import zipfile
import zipimport

import pytest

from claw._pyz import cpython, importer, pack, tables

MAGIC = cpython.pyc_magic() or b"\0\0\r\n"
TAG = "cp%d%d" % sys.version_info[:2]


def _members(n=40):
    # Incompressible members (5 KB each), so the stream is far longer than the first decoding step.
    return [(f"claw/m{i}.py", random.Random(i).getrandbits(8 * 5000).to_bytes(5000, "little"), bytes([i]) * 8)
            for i in range(n)]


# ------------------------------------------------------------------------------------------------
# the format


@pytest.mark.parametrize("codec", pack.CODECS)
def test_pack_round_trip_keeps_order_and_decompresses_lazily(codec):
    members = _members()
    data = pack.write_pack(MAGIC, members, codec, segment_size=30_000)
    reader = pack.PackReader(data, MAGIC)
    assert reader.codec == codec
    assert [name for name, _ in reader.items()] == [m[0] for m in members]
    fresh = pack.PackReader(data, MAGIC)
    assert len(fresh.segments) == 7  # 40 members of 5 KB, 30 KB segments: 6 members each
    assert fresh.get("claw/m20.py") == members[20][1]
    assert list(fresh._inflated) == [3]  # only the segment of the member asked for is inflated
    cut = pack.PackReader(pack.write_pack(MAGIC, members, codec, cut_before=["claw/m2.py"]), MAGIC)
    assert cut.segments[0][0] == 2 * 5000 and cut.members["claw/m2.py"][:2] == (1, 0)
    assert fresh.get("claw/nothing.py") is None and "claw/m3.py" in fresh
    for name, raw, source_hash in members:
        assert fresh.get(name) == raw and fresh.source_hash(name) == source_hash
    assert pack.write_pack(MAGIC, members, codec, segment_size=30_000) == data  # deterministic


def test_members_can_be_read_from_several_threads_at_once():
    # Imports may run in several threads (zlib releases the GIL while it inflates): each must get the
    # right bytes while others inflate and drop segments.
    import threading

    members = _members(60)
    data = pack.write_pack(MAGIC, members, segment_size=20_000)
    expected = {name: raw for name, raw, _ in members}
    errors = []

    def read(seed):
        order = list(expected)
        random.Random(seed).shuffle(order)
        for name in order:
            try:
                if reader.get(name) != expected[name]:
                    errors.append(name)
            except Exception as exc:  # e.g. a chunk list another thread is halfway through updating
                errors.append(repr(exc))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, to meet the races
    try:
        for _ in range(20):
            reader = pack.PackReader(data, MAGIC)
            threads = [threading.Thread(target=read, args=(seed,)) for seed in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []


def test_pack_is_refused_when_it_does_not_check_out():
    data = pack.write_pack(MAGIC, _members())
    with pytest.raises(pack.PackError, match="another Python"):
        pack.PackReader(data, b"\1\2\r\n")
    with pytest.raises(pack.PackError):
        pack.PackReader(data[:4] + b"\xff" * 40 + data[44:], MAGIC)
    with pytest.raises(pack.PackError):
        pack.PackReader(data[:4] + marshal.dumps({"format": 99}) + b"x", MAGIC)
    reader = pack.PackReader(data, MAGIC)
    damaged = bytearray(data)
    damaged[reader.stream_offset + 50:] = bytes(len(data) - reader.stream_offset - 50)
    with pytest.raises(pack.PackError):
        pack.PackReader(bytes(damaged), MAGIC).items()
    with pytest.raises(pack.PackError):  # cut short
        pack.PackReader(data[:-1000], MAGIC).items()
    with pytest.raises(ValueError, match="unknown codec"):
        pack.write_pack(MAGIC, _members(), "bz2")


def test_a_pack_read_in_parts_from_its_zip_entry(tmp_path):
    # The importer reads the header, then each segment when needed, from the stored zip entry.
    members = _members()
    data = pack.write_pack(MAGIC, members, segment_size=30_000)
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("claw/other.txt", "deflated " * 100, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("claw/_pyz/cp.pack", data)  # stored
    zipimport.zipimporter(str(archive))  # reads the table of contents, as the import system does
    location = cpython.stored_zip_entry(str(archive), "claw/_pyz/cp.pack")
    assert location is not None and location[1] == len(data)
    assert archive.read_bytes()[location[0]:location[0] + location[1]] == data
    assert cpython.stored_zip_entry(str(archive), "claw/other.txt") is None  # deflated
    assert cpython.stored_zip_entry(str(archive), "claw/missing") is None
    reader = pack.PackReader(pack.FileSpan(str(archive), *location), MAGIC)
    assert reader.items() == pack.PackReader(data, MAGIC).items()
    short = pack.PackReader(pack.FileSpan(str(archive), location[0], location[1] - 100), MAGIC)
    with pytest.raises(pack.PackError):  # the entry, cut short
        short.items()


def test_a_member_whose_checksum_differs_is_refused():
    members = [("claw/a.py", b"A" * 100, b""), ("claw/b.py", b"B" * 100, b"")]
    data = pack.write_pack(MAGIC, members)
    header = marshal.loads(data[4:])
    segment, offset, length, source_hash, crc = header["members"]["claw/b.py"]
    header["members"]["claw/b.py"] = (segment, offset, length, source_hash, crc ^ 1)
    stream = data[len(data) - header["length"]:]
    tampered = pack.PackReader(MAGIC + marshal.dumps(header, 4) + stream, MAGIC)
    assert tampered.get("claw/a.py") == b"A" * 100
    with pytest.raises(pack.PackError, match="claw/b.py"):
        tampered.get("claw/b.py")


def test_a_python_without_lzma_declines_an_lzma_pack(monkeypatch):
    data = pack.write_pack(MAGIC, _members(), "lzma")
    monkeypatch.setitem(sys.modules, "lzma", None)  # import lzma now raises ImportError
    with pytest.raises(pack.PackError, match="no lzma"):
        pack.PackReader(data, MAGIC)


def test_boot_round_trip():
    code = compile("X = 1\n", "claw/x.py", "exec")
    data = pack.write_boot(MAGIC, [("claw", True, code)])
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


def test_internals_decline_on_an_unchecked_python(monkeypatch):
    monkeypatch.setattr(cpython, "_VERSION", (3, cpython.TESTED[1][1] + 1))
    assert not cpython.tested()
    assert cpython.pyc_magic() is None
    assert cpython.regex_compiler_name() is None
    assert cpython.sre_arguments("a", 0) is None and cpython.sre_magic() is None
    assert not cpython.zipimporter_subclassable()
    assert cpython.stored_zip_entry(__file__, "x") is None

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
    assert any("furlongs" in source for source in code)
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


def _archive(tmp_path, pack_bytes=None, source_hash=None):
    """A zip with package pyzpkg (its module says "source") and a pack whose code says "pack"."""
    source = b'WHERE = "source"\n'
    path = tmp_path / "a.pyz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pyzpkg/__init__.py", "")
        zf.writestr("pyzpkg/mod.py", source)
        if pack_bytes is None:
            packed = marshal.dumps(compile('WHERE = "pack"\n', "pyzpkg/mod.py", "exec"))
            pack_bytes = pack.write_pack(MAGIC, [
                ("pyzpkg/__init__.py", marshal.dumps(compile("", "pyzpkg/__init__.py", "exec")),
                 cpython.source_hash(b"")),
                ("pyzpkg/mod.py", packed, source_hash or cpython.source_hash(source))])
        zf.writestr(pack.pack_path(TAG), pack_bytes)
    return path


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
    if case == "unchecked python":  # the importer was not installed at all: stock zipimport ran it
        assert not isinstance(pyzpkg.mod.__loader__, importer.ClawImporter)
    else:
        assert isinstance(pyzpkg.mod.__loader__, importer.ClawImporter)
