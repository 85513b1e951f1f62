"""Tests of build_zipapp.py and buildlib/: the import rewriter, vendor.txt and wheel checks, the archive's
layout, reproducibility (two builds, same bytes), finding interpreters (pyenv, the running one, PATH),
and a build that lacks some interpreters.

The archive's behaviour on each Python is tested by tests/e2e/ against dist/claw.pyz. Builds here run
on a snapshot of claw/ (other work may change the tree meanwhile) into temporary directories, with the
pinned wheels from build/wheels (downloaded there first if missing).
"""

from __future__ import annotations

import ast
import hashlib
import marshal
import os
import shutil
import stat
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
import build_zipapp as bz  # noqa: E402
from buildlib import BuildError, slim, vendoring  # noqa: E402
from buildlib.vendoring import check_rewrite, rewrite_imports  # noqa: E402
from claw._pyz import pack, pack_writer, tables  # noqa: E402

NAMES = ("h11", "wsproto", "certifi", "tomli")


# ------------------------------------------------------------------------------------------------
# slimming claw's sources


_FAT = b'''# -*- coding: utf-8 -*-
"""Module docstring."""

from __future__ import annotations

import dataclasses

HASH = "# not a comment"  # a comment
TEXT = """
    # inside a string
"""


def only_doc():
    """Nothing else."""


class Plain:
    """Undecorated: goes."""

    x = 1  # trailing


@dataclasses.dataclass
class Kept:
    """Decorated: stays (dataclasses computes a signature without one)."""

    y: int = 0


def f(a,  # why a
      b):
    """Doc
    on two lines."""
    return a + b
'''


def test_slimming_blanks_comments_and_dropped_docstrings_line_for_line():
    thin = slim.slim_source(_FAT)
    assert thin.count(b"\n") == _FAT.count(b"\n")
    text = thin.decode()
    assert "# -*- coding: utf-8 -*-" in text  # the encoding line stays
    for gone in ("Module docstring", "Nothing else", "Undecorated", "# a comment", "# trailing", "# why a",
                 "on two lines"):
        assert gone not in text, gone
    for kept in ('"# not a comment"', "    # inside a string", "Decorated: stays", "    pass\n"):
        assert kept in text, kept
    slim.check_slim(_FAT, thin, "fat.py")
    namespace: dict = {}
    exec(compile(thin, "fat.py", "exec"), namespace)
    assert namespace["f"](1, 2) == 3 and namespace["TEXT"] == "\n    # inside a string\n"
    assert namespace["Kept"].__doc__.startswith("Decorated") and namespace["Plain"].__doc__ is None
    # Every line of code is where it was: what a traceback shows is the original line.
    for old, new in zip(_FAT.decode().splitlines(), text.splitlines()):
        assert new == "" or new.strip() == "pass" or old.startswith(new), (old, new)


def test_slimming_keeps_copyright_and_licence_notices():
    thin = slim.slim_source(b"# SPDX-License-Identifier: MIT\n# SPDX-FileCopyrightText: 2021 A\n# other\n"
                            b"x = 1  # Licensed to PSF\n")
    assert thin == b"# SPDX-License-Identifier: MIT\n# SPDX-FileCopyrightText: 2021 A\n\nx = 1  # Licensed to PSF\n"


def test_a_slimmed_file_that_is_another_program_is_refused():
    with pytest.raises(BuildError, match="changed its code"):
        slim.check_slim(b"x = 1\n", b"x = 2\n", "a.py")
    with pytest.raises(BuildError, match="number of lines"):
        slim.check_slim(b"x = 1\n\n", b"x = 1\n", "a.py")


# ------------------------------------------------------------------------------------------------
# the rewriter


@pytest.mark.parametrize("source, expected", [
    ("import h11\n", "from claw._vendor import h11\n"),
    ("import h11 as hh\n", "from claw._vendor import h11 as hh\n"),
    ("from h11 import Request\n", "from claw._vendor.h11 import Request\n"),
    ("from h11._headers import Headers as H11Headers\n",
     "from claw._vendor.h11._headers import Headers as H11Headers\n"),
    ("from h11 import (\n    Request,\n    Response,\n)\n",
     "from claw._vendor.h11 import (\n    Request,\n    Response,\n)\n"),
    ("if TYPE_CHECKING:\n    from wsproto.events import Event\n",
     "if TYPE_CHECKING:\n    from claw._vendor.wsproto.events import Event\n"),
    ("def f():\n    import tomli\n    return tomli\n",
     "def f():\n    from claw._vendor import tomli\n    return tomli\n"),
    ("if x: import h11\n", "if x: from claw._vendor import h11\n"),
    ("x = 1; import h11\n", "x = 1; from claw._vendor import h11\n"),
    ("# a comment\n\nfrom h11._x import y  # import h11\n", "# a comment\n\nfrom claw._vendor.h11._x import y  # import h11\n"),
    ("from \\\n    h11 import x\n", "from \\\n    claw._vendor.h11 import x\n"),
])
def test_rewrites_absolute_imports(source, expected):
    assert rewrite_imports(source, NAMES) == expected
    check_rewrite(source, expected, NAMES)


@pytest.mark.parametrize("source", [
    "from . import h11\n",
    "from .h11 import x\n",
    "from ._headers import Headers\n",
    "import h11x\nimport os.path\nfrom h11x import y\n",
    '"""import h11"""\ns = "from h11 import x"\n',
    "raise ValueError() from h11\n",
    "def g():\n    yield from h11.gen()\n",
    "import os\nfrom typing import List\n",
])
def test_leaves_everything_else_alone(source):
    assert rewrite_imports(source, NAMES) == source


@pytest.mark.parametrize("source", ["import h11.sub\n", "import os, h11\n", "import h11, os\n"])
def test_refuses_imports_whose_bindings_would_change(source):
    with pytest.raises(BuildError, match="cannot rewrite"):
        rewrite_imports(source, NAMES)


def test_check_rewrite_catches_other_changes():
    with pytest.raises(BuildError, match="more than import"):
        check_rewrite("import h11\nx = 'a'\n", "from claw._vendor import h11\nx = 'b'\n", NAMES)
    with pytest.raises(BuildError, match="left after rewriting"):
        check_rewrite("import h11\n", "import h11\n", NAMES)
    with pytest.raises(BuildError, match="number of lines"):
        check_rewrite("import os\n", "import os\n\n", NAMES)


def test_string_literals_naming_vendored_packages_need_a_declared_patch():
    with pytest.raises(BuildError, match="names a vendored package"):
        vendoring.patch_strings("wsproto/x.py", 'NAME = "h11._util"\n', NAMES)
    assert vendoring.patch_strings("wsproto/x.py", 'NAME = "h11 is nice"\n', NAMES) == 'NAME = "h11 is nice"\n'
    patched = vendoring.patch_strings("certifi/core.py", 'a("certifi")\nb(\'certifi\')\nc("certifi")\nd("certifi")\n', NAMES)
    assert patched == 'a("claw._vendor.certifi")\nb(\'claw._vendor.certifi\')\nc("claw._vendor.certifi")\n' \
                      'd("claw._vendor.certifi")\n'
    with pytest.raises(BuildError, match="expected 4"):
        vendoring.patch_strings("certifi/core.py", 'a("certifi")\n', NAMES)


# ------------------------------------------------------------------------------------------------
# vendor.txt and wheels


def test_parse_vendor_txt():
    pins = bz.parse_vendor_txt("# comment\nh11==0.16.0 --hash=sha256:" + "a" * 64 + "  # why\n\n")
    assert pins == [vendoring.Pin("h11", "0.16.0", "a" * 64)]
    with pytest.raises(BuildError, match="line 1"):
        bz.parse_vendor_txt("h11>=0.16 --hash=sha256:" + "a" * 64)
    with pytest.raises(BuildError, match="no package"):
        bz.parse_vendor_txt("# nothing\n")


def test_repository_vendor_txt_pins_the_four_runtime_dependencies():
    pins = bz.parse_vendor_txt((ROOT / "vendor.txt").read_text())
    assert sorted(p.name for p in pins) == sorted(NAMES)


@pytest.fixture(scope="module")
def wheels():
    pins = bz.parse_vendor_txt((ROOT / "vendor.txt").read_text())
    found = bz.fetch_wheels(pins, None, ROOT / "build" / "wheels", log=lambda msg: None)
    return Path(next(iter(found.values()))).parent


def test_wrong_hash_is_refused(wheels, tmp_path):
    pins = bz.parse_vendor_txt((ROOT / "vendor.txt").read_text())
    pin = pins[0]
    real = vendoring._find_wheel(pin, wheels)
    fake = tmp_path / real.name
    fake.write_bytes(real.read_bytes() + b"\0")
    with pytest.raises(BuildError, match="sha256 mismatch"):
        bz.fetch_wheels([pin], tmp_path, tmp_path / "cache", log=lambda msg: None)


def test_offline_build_without_the_wheels_says_how_to_get_them(tmp_path):
    pins = bz.parse_vendor_txt((ROOT / "vendor.txt").read_text())
    with pytest.raises(BuildError, match="pip download --no-deps"):
        bz.fetch_wheels(pins, tmp_path, tmp_path / "cache", log=lambda msg: None)


# ------------------------------------------------------------------------------------------------
# whole builds


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    """A copy of the inputs (claw/ and vendor.txt), so concurrent edits cannot change a build."""
    root = tmp_path_factory.mktemp("snapshot")
    shutil.copytree(ROOT / "claw", root / "claw",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", *[n for n in NAMES]))
    shutil.copy2(ROOT / "vendor.txt", root / "vendor.txt")
    shutil.copytree(ROOT / "docs", root / "docs")
    return root


@pytest.fixture(scope="module")
def two_builds(snapshot, wheels, tmp_path_factory):
    results = []
    for i in range(2):
        out = tmp_path_factory.mktemp(f"build{i}") / "claw.pyz"
        results.append(bz.build(out, wheels_dir=wheels, root=snapshot, log=lambda msg: None))
    return results


def archive_files(zf: zipfile.ZipFile) -> dict:
    """``{name: bytes}`` of every file of the archive: its plain zip members and the files of the
    sources body at the start of its stream."""
    files = {name: zf.read(name) for name in zf.namelist()}
    index = pack.PackIndex(files[pack.SOURCES_PATH], pack.SOURCES_MAGIC)
    files.update(pack.PackReader(index, pack.read_body(files[pack.STREAM_PATH], index)).items())
    return files


def test_two_builds_are_byte_identical(two_builds):
    a, b = two_builds
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.sha256 == b.sha256 == hashlib.sha256(a.path.read_bytes()).hexdigest()


def test_archive_layout(two_builds, snapshot):
    result = two_builds[0]
    data = result.path.read_bytes()
    assert data.startswith(b"#!/usr/bin/env python3\n")
    assert stat.S_IMODE(os.stat(result.path).st_mode) == 0o755
    with zipfile.ZipFile(result.path) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert len(set(names)) == len(names)
        for info in infos:
            assert info.date_time == (1980, 1, 2, 0, 0, 0)
            assert info.external_attr >> 16 == 0o100644
            assert info.compress_type == (zipfile.ZIP_STORED if info.filename == pack.STREAM_PATH
                                          else zipfile.ZIP_DEFLATED), info.filename
            assert "__pycache__" not in info.filename and not info.filename.endswith("/")
            assert "/tests/" not in info.filename and not info.filename.endswith("py.typed")
        # Plain zip members: what starts the importer, data read by other means, the bytecode.
        assert sorted(n for n in names if n.endswith(".py")) == sorted(["__main__.py", *pack_writer.BOOT_SOURCES])
        assert "claw/_vendor/certifi/cacert.pem" in names
        assert "claw/_vendor/vendor.txt" in names
        assert not any(pack_writer.in_stream(n) for n in names)
        files = archive_files(zf)  # ... and everything else is in the stream
        assert not any(n.startswith("claw/_docs/") for n in names)
        assert files["claw/_docs/TOOLS.md"] == (snapshot / "docs" / "TOOLS.md").read_bytes()
        assert "claw/_docs/PERFORMANCE.md" not in files  # bz.UNBUNDLED_DOCS
        for name in NAMES:
            assert f"claw/_vendor/{name}/__init__.py" in files
            assert any(n.startswith(f"claw/_vendor/licenses/{name}-") for n in names), name
        sources = [n for n in files if n.endswith(".py") and n != "__main__.py"]
        # claw's own sources in the stream are slimmed (buildlib/slim.py), each the same program.
        for name in sources:
            original = snapshot / name
            if name in names or not original.exists():
                continue
            assert files[name] != original.read_bytes() or b"#" not in files[name], name
            slim.check_slim(original.read_bytes(), files[name], name)
        own = {str(p.relative_to(snapshot).as_posix()) for p in (snapshot / "claw").rglob("*.py")}
        assert own <= set(sources)
        # Nothing at the top level but __main__.py and claw/.
        assert {n.split("/", 1)[0] for n in names} == {"__main__.py", "claw"}
        assert sorted(n for n in names if n.endswith((".pack", ".boot", ".xz"))) == sorted(
            [path for tag in result.trees for path in (pack.boot_path(tag), pack.pack_path(tag))]
            + [pack.STREAM_PATH, pack.SOURCES_PATH])
        boot_sources = {"claw/__init__.py", "claw/_pyz/__init__.py", "claw/_pyz/cpython.py", "claw/_pyz/pack.py",
                        "claw/_pyz/cache.py", "claw/_pyz/importer.py"}
        assert len(boot_sources) == len(pack.BOOT_MODULES)
        assert boot_sources <= set(sources)
        stream = zf.read(pack.STREAM_PATH)
        starts = []
        for tag in result.trees:
            index = pack.PackIndex(zf.read(pack.pack_path(tag)))
            starts.append((index.stream, tag))
            reader = pack.PackReader(index, pack.read_body(stream, index))
            codes = dict(reader.items())
            if tag == "cp%d%d" % sys.version_info[:2]:
                # Module, function and undecorated class docstrings are left out of the packed
                # code; dataclasses keep theirs.
                namespace = {"__name__": "claw.errors"}
                errors_code = marshal.loads(codes["claw/errors.py"])
                # Compiled without a file name (the importer sets each module's own at load time):
                # a path repeated in every code object costs ~16 KiB of the stream.
                assert errors_code.co_filename == ""
                exec(errors_code, namespace)
                assert namespace.get("__doc__") is None and namespace["ClawError"].__doc__ is None
                assert namespace["ClawError"].to_dict.__doc__ is None
                # So are the annotations of functions (nothing reads them); classes keep theirs.
                assert namespace["ClawError"].to_dict.__annotations__ == {}
                assert namespace["ClawError"].__init__.__annotations__ == {}
                __import__("claw.api.types")  # dataclasses looks the class's module up
                namespace = {"__name__": "claw.api.types"}
                exec(marshal.loads(codes["claw/api/types.py"]), namespace)
                assert namespace["MessageStarted"].__doc__
                assert "message_id" in namespace["MessageStarted"].__annotations__  # dataclass fields
            table = marshal.loads(codes.pop(tables.DATACLASS_CODE))
            _sre_magic, programs = marshal.loads(codes.pop(tables.REGEX_PROGRAMS))
            # Every module is in the pack but those the boot entry holds and the source-only ones.
            assert sorted(codes) == sorted(set(sources) - boot_sources - bz.SOURCE_ONLY), tag
            boot = zf.read(pack.boot_path(tag))
            assert boot[:4] == reader.magic
            # The modules claw.cli.main needs come first in the stream (a --version run inflates
            # only them), the built-in tools before the vendored libraries a -p run does not use.
            position = {name: reader.members[name][:2] for name in reader.members}  # (segment, offset)
            assert position["claw/cli/main.py"] < position[tables.DATACLASS_CODE] < position["claw/cli/headless.py"]
            assert position["claw/tools/bash.py"] < position["claw/_vendor/wsproto/__init__.py"]
            # ... in a first segment of their own, small to inflate for --version.
            first = [name for name, (segment, _) in position.items() if segment == 0]
            assert {"claw/cli/__init__.py", "claw/cli/main.py"} <= set(first), first
            assert tables.DATACLASS_CODE not in first and reader.segments[0][1] < 64 * 1024
            # The dataclass table holds the generated methods of claw's and the vendored classes
            # (keyed by a digest of their source).
            assert all(type(key) is bytes and len(key) == 8 for key in table), tag
            assert any(b"message_id" in code for code in table.values()), tag  # claw.api.types.MessageStarted
            assert any(b"status_code" in code and b"reason" in code for code in table.values()), tag  # h11's
            assert all(isinstance(code, bytes) for code in table.values())
            # The regex table holds the patterns claw compiles at import (claw.runtime.session_store's).
            assert any("[0-9a-fA-F]{8}-" in pattern for pattern, _flags in programs), tag
        # One stream: the sources, then all Pythons, newest first (a first run on the newest
        # inflates the least).
        assert [tag for _, tag in sorted(starts)] == sorted(result.trees, key=lambda t: -int(t[2:]))
        sources_index = pack.PackIndex(zf.read(pack.SOURCES_PATH), pack.SOURCES_MAGIC)
        assert sources_index.stream == 0 and min(starts)[0] == sources_index.size
        # No vendored module still imports its siblings by their top-level name.
        for n in sources:
            if n.startswith("claw/_vendor/"):
                assert vendoring.absolute_imports(ast.parse(files[n]), NAMES) == [], n


def test_vendored_sources_differ_from_the_wheel_only_in_imports_comments_and_dropped_docstrings(two_builds, wheels):
    pins = bz.parse_vendor_txt((ROOT / "vendor.txt").read_text())
    with zipfile.ZipFile(two_builds[0].path) as zf:
        files = archive_files(zf)
        for pin in pins:
            with zipfile.ZipFile(vendoring._find_wheel(pin, wheels)) as whl:
                for member in whl.namelist():
                    if not member.endswith(".py") or f"claw/_vendor/{member}" not in files:
                        continue
                    original = whl.read(member).decode()
                    vendored = files[f"claw/_vendor/{member}"].decode()
                    # Slimmed as claw's own sources are, licence notices kept.
                    thin = slim.slim_source(original.encode()).decode()
                    assert thin != original or "#" not in original, member
                    for line in original.splitlines():
                        if "SPDX" in line or "Copyright" in line:
                            assert line in vendored.splitlines(), (member, line)
                    if not any(p[0] == member for p in vendoring.STRING_PATCHES):
                        check_rewrite(thin, vendored, NAMES)
                    changed = [(a, b) for a, b in zip(thin.splitlines(), vendored.splitlines()) if a != b]
                    for old, new in changed:
                        assert "import" in old or "claw._vendor." in new, (member, old, new)


def test_source_date_epoch_sets_the_timestamps(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    bz.write_pyz({"b.txt": b"b", "a.txt": b"a"}, tmp_path / "x.pyz")
    with zipfile.ZipFile(tmp_path / "x.pyz") as zf:
        assert [i.filename for i in zf.infolist()] == ["a.txt", "b.txt"]
        assert zf.infolist()[0].date_time == (2023, 11, 14, 22, 13, 20)


@pytest.fixture(scope="module")
def one_python_root(tmp_path_factory):
    """A pythons root holding only one supported interpreter (a symlink to the real install)."""
    pythons = bz.find_pythons(running=False, path="")
    if "3.12" not in pythons or "3.11" not in pythons:
        pytest.skip("needs Python 3.11 and 3.12 under $(pyenv root)/versions")
    root = tmp_path_factory.mktemp("pythons")
    (root / "versions").mkdir()
    real = pythons["3.12"].parents[1]
    os.symlink(real, root / "versions" / real.name)
    return root


def test_missing_interpreters_fail_the_build_when_all_are_required(snapshot, wheels, one_python_root, tmp_path):
    with pytest.raises(BuildError, match=r"no interpreter for Python 3\.9, 3\.10, 3\.11, 3\.13"):
        bz.build(tmp_path / "x.pyz", wheels_dir=wheels, root=snapshot, pythons_root=one_python_root,
                 require_all_pythons=True, search_path="", running=False, log=lambda msg: None)
    assert not (tmp_path / "x.pyz").exists()


def test_missing_interpreters_warn_and_those_pythons_run_from_sources(snapshot, wheels, one_python_root, tmp_path):
    from tests.e2e.util import find_python, probe_modules

    messages = []
    result = bz.build(tmp_path / "x.pyz", wheels_dir=wheels, root=snapshot, pythons_root=one_python_root,
                      search_path="", running=False, log=messages.append)
    assert sorted(result.trees) == ["cp312"]
    assert result.missing == ["3.9", "3.10", "3.11", "3.13"]
    assert sum("warning: no Python" in m for m in messages) == 4

    with_tree = probe_modules(find_python("3.12"), "version", pyz=result.path)
    assert with_tree["exit"] == 0
    assert all(info["cached"] and "/claw/_pyz/cp312." in info["cached"]
               for info in with_tree["modules"].values())

    without = probe_modules(find_python("3.11"), "version", pyz=result.path)
    assert without["exit"] == 0
    assert "claw._vendor.h11" in without["modules"]
    assert all(info["cached"] is None for info in without["modules"].values())


# ------------------------------------------------------------------------------------------------
# finding interpreters without pyenv


@pytest.fixture(scope="module")
def path_pythons(tmp_path_factory):
    """A PATH of symlinks (python3.10 and python3.12 to the real binaries, python3.9 to the 3.12 one,
    a python3.13 that fails like a pyenv shim without that version) and an empty pyenv root."""
    real = bz.find_pythons(running=False, path="")
    if not {"3.10", "3.12"} <= set(real):
        pytest.skip("needs Python 3.10 and 3.12 under $(pyenv root)/versions")
    base = tmp_path_factory.mktemp("path")
    first, second, empty = base / "bin1", base / "bin2", base / "pyenv"
    for d in (first, second, empty):
        d.mkdir()
    os.symlink(real["3.10"], first / "python3.10")
    os.symlink(real["3.12"], first / "python3.12")
    os.symlink(real["3.12"], second / "python3.12")  # the same binary again, later on PATH
    os.symlink(real["3.12"], second / "python3.9")  # a misleading name: it is 3.12
    shim = second / "python3.13"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    return {"path": f"{first}{os.pathsep}{second}", "root": empty, "real": real}


def test_interpreters_come_from_path_and_the_running_python_without_pyenv(path_pythons):
    found = bz.discover_pythons(path_pythons["root"], path=path_pythons["path"])
    by_version = {p.version: p for p in found}
    running = "%d.%d" % sys.version_info[:2]
    expected = {"3.10", "3.12", running}
    assert set(by_version) == expected  # not 3.9 (that name is 3.12), not 3.13 (it fails)
    assert by_version["3.10"].origin == "PATH"
    assert os.path.realpath(by_version["3.10"].path) == os.path.realpath(path_pythons["real"]["3.10"])
    assert os.path.realpath(by_version["3.12"].path) == os.path.realpath(path_pythons["real"]["3.12"])
    assert by_version[running].origin == "running"
    assert by_version["3.12"].release.startswith("3.12.")
    # Without the running interpreter and PATH nothing is found in an empty pyenv root.
    assert bz.discover_pythons(path_pythons["root"], path="", running=False) == []


def test_a_build_says_which_interpreters_it_uses(snapshot, wheels, path_pythons, tmp_path):
    messages = []
    result = bz.build(tmp_path / "x.pyz", wheels_dir=wheels, root=snapshot, pythons_root=path_pythons["root"],
                      search_path=path_pythons["path"], running=False, versions=("3.10", "3.12", "3.13"),
                      log=messages.append)
    assert sorted(result.trees) == ["cp310", "cp312"]
    assert result.missing == ["3.13"]
    found = [m for m in messages if m.startswith("build: Python ")]
    assert len(found) == 2 and all("(PATH)" in m for m in found), messages
    assert any("warning: no Python 3.13" in m for m in messages)
    with zipfile.ZipFile(result.path) as zf:
        assert {pack.pack_path("cp310"), pack.pack_path("cp312")} <= set(zf.namelist())


def test_source_only_modules_exist_and_a_run_does_not_start_with_them():
    # A stale name would be silently ignored; a source-only module a -p run imports would be
    # compiled on every run.
    start = {module.replace(".", "/") + ".py" for module in bz.START_ORDER}
    for name in bz.SOURCE_ONLY:
        assert (ROOT / name).exists(), name
        assert name not in start, name


def test_start_order_names_modules_that_exist():
    # A stale name costs start-up time silently (the pack's order no longer follows a -p run).
    for module in bz.START_ORDER:
        base = ROOT / module.replace(".", "/")
        assert (base.with_suffix(".py").exists() or (base / "__init__.py").exists()
                or module.startswith("claw._vendor.")), module
