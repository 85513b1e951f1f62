"""The built ``dist/claw.pyz`` on every supported Python (3.9-3.13, the real pyenv binaries): it starts,
answers ``--version``/``--help``/``version``, uses its own vendored libraries and its own bytecode,
runs through its shebang, and turns Python 3.8 away with the version-gate message and exit 2.

Not covered here: what the commands do beyond start-up (their own e2e tests), imports on the fast
path (test_startup_imports.py), how the archive is built (tests/test_build.py).
"""

from __future__ import annotations

import lzma
import re
import subprocess
import zipfile

import pytest

from claw._pyz import pack

from build_zipapp import UNBUNDLED_DOCS
from tests.e2e.util import (
    ROOT, SUPPORTED, TOO_OLD, claw_version, clean_env, find_python, in_ci, probe_modules, python_for,
    run_after_start, run_claw, vendored_pins,
)

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("version", SUPPORTED)
def test_version_flag(claw_pyz, version):
    proc = run_claw(python_for(version), "--version")
    assert proc.returncode == 0, proc.stderr
    assert claw_version() in proc.stdout
    assert proc.stderr == ""


@pytest.mark.parametrize("version", SUPPORTED)
def test_help_flag(claw_pyz, version):
    proc = run_claw(python_for(version), "--help")
    assert proc.returncode == 0, proc.stderr
    assert "--version" in proc.stdout and "claw" in proc.stdout
    assert proc.stderr == ""


@pytest.mark.parametrize("version", SUPPORTED)
def test_help_topics_come_from_the_archive(claw_pyz, version, tmp_path):
    """Someone with only the .pyz reads the docs with `claw help TOPIC`: the pages are inside it."""
    lonely = tmp_path / "claw.pyz"  # no docs/ anywhere near this copy
    lonely.write_bytes(claw_pyz.read_bytes())
    python = python_for(version)
    proc = subprocess.run([str(python), str(lonely), "help", "tools"], capture_output=True, text=True, timeout=60,
                          env=clean_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (ROOT / "docs" / "TOOLS.md").read_text(encoding="utf-8")
    listed = subprocess.run([str(python), str(lonely), "help", "topics"], capture_output=True, text=True,
                            timeout=60, env=clean_env(), cwd=tmp_path).stdout.split()
    assert listed == sorted(p.stem.lower() for p in (ROOT / "docs").glob("*.md") if p.name not in UNBUNDLED_DOCS)
    assert "tools" in listed and "performance" not in listed


@pytest.mark.parametrize("version", SUPPORTED)
def test_version_command_reports_pinned_vendored_libs(claw_pyz, version):
    proc = run_claw(python_for(version), "version")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for pin in vendored_pins():
        assert f"{pin.name} {pin.version} (vendored)" in lines, proc.stdout
    assert any(line.startswith(f"python {version}.") for line in lines), proc.stdout


@pytest.mark.parametrize("version", SUPPORTED)
def test_vendored_copies_win_over_host_packages(claw_pyz, version, tmp_path):
    # A host with its own (here: fake) h11, wsproto, certifi and tomli first on sys.path: claw must
    # not see them. If it did, `version` would print the fake versions or "not available".
    for pin in vendored_pins():
        pkg = tmp_path / pin.name
        pkg.mkdir()
        (pkg / "__init__.py").write_text('__version__ = "0.0.0+host"\nraise ImportError("host copy used")\n')
    proc = run_claw(python_for(version), "version", env={"PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert "0.0.0+host" not in proc.stdout and "not available" not in proc.stdout, proc.stdout
    for pin in vendored_pins():
        assert f"{pin.name} {pin.version} (vendored)" in proc.stdout.splitlines()


@pytest.mark.parametrize("version", SUPPORTED)
def test_modules_come_from_the_archive_and_its_bytecode(claw_pyz, version):
    report = probe_modules(python_for(version), "version")
    assert report["exit"] == 0
    modules = report["modules"]
    archive = str(claw_pyz.resolve())
    tag = "cp" + version.replace(".", "")
    for name in ("claw", "claw.cli.main", "claw._vendor.h11", "claw._vendor.wsproto",
                 "claw._vendor.certifi", "claw._vendor.tomli"):
        assert name in modules, sorted(modules)
    assert modules["claw._vendor.h11"]["file"] == f"{archive}/claw/_vendor/h11/__init__.py"
    for name, info in modules.items():
        assert info["file"].startswith(archive + "/claw/"), (name, info)
        rel = info["file"][len(archive) + 1:]
        # The importer and what it needs run from the boot entry, everything else from the pack.
        entry = pack.boot_path(tag) if name in pack.BOOT_MODULES else pack.pack_path(tag)
        assert info["cached"] == f"{archive}/{entry}/{rel}c", (name, info)


@pytest.mark.parametrize("version", SUPPORTED)
def test_source_only_modules_are_compiled_from_the_archive(claw_pyz, version, tmp_path):
    # build_zipapp.SOURCE_ONLY: rarely run subcommands ship without bytecode and still work.
    report = probe_modules(python_for(version), "plugin", "list",
                           env={"CLAW_CONFIG_HOME": str(tmp_path / "config")})
    assert report["exit"] == 0
    modules = report["modules"]
    assert modules["claw.cli.plugin_cmd"]["cached"] is None  # compiled from the archive's source
    assert modules["claw.cli.plugin_cmd"]["file"] == f"{claw_pyz.resolve()}/claw/cli/plugin_cmd.py"
    assert modules["claw.cli.main"]["cached"] is not None  # the rest still from the pack


@pytest.mark.parametrize("version", SUPPORTED)
def test_sources_are_used_when_bytecode_is_switched_off(claw_pyz, version):
    report = probe_modules(python_for(version), "version", env={"CLAW_PYZ_SOURCES": "1"})
    assert report["exit"] == 0
    assert report["modules"]["claw.cli.main"]["cached"] is None
    assert report["modules"]["claw._vendor.h11"]["cached"] is None


def _copy_with(archive, tmp_path, replace):
    """A copy of ``archive`` with the entries in ``replace`` ({name: new bytes}) swapped."""
    out = tmp_path / "claw.pyz"
    with zipfile.ZipFile(archive) as src, open(out, "wb") as f:
        f.write(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(f, "w") as dst:
            for info in src.infolist():
                dst.writestr(info, replace.get(info.filename, src.read(info.filename)))
    return out


@pytest.mark.parametrize("damage", ["pack-index", "pack-stream", "boot-magic", "boot-body"])
@pytest.mark.parametrize("version", SUPPORTED)
def test_a_pack_that_does_not_check_out_falls_back_to_sources(claw_pyz, version, damage, tmp_path):
    # The importer declines a pack (and __main__.py a boot entry) that does not check out, and claw
    # runs from its sources instead: same output, modules compiled from source. (An empty bytecode
    # cache: else a cache file made from the good archive would serve the same body.)
    tag = "cp" + version.replace(".", "")
    with zipfile.ZipFile(claw_pyz) as zf:
        boot, index, stream = zf.read(pack.boot_path(tag)), zf.read(pack.pack_path(tag)), zf.read(pack.STREAM_PATH)
    if damage == "pack-index":
        replace = {pack.pack_path(tag): index[:4] + b"\xff" * 64 + index[68:]}
    elif damage == "pack-stream":  # a valid stream (sources intact) whose body for this Python is damaged
        raw = bytearray(lzma.decompress(stream))
        start = pack.PackIndex(index).stream
        raw[start + 100:start + 200] = bytes(100)
        replace = {pack.STREAM_PATH: lzma.compress(bytes(raw), format=lzma.FORMAT_XZ)}
    elif damage == "boot-magic":
        replace = {pack.boot_path(tag): b"\0\0\r\n" + boot[4:]}
    else:
        replace = {pack.boot_path(tag): boot[:4] + b"\xff" * 32}
    damaged = _copy_with(claw_pyz, tmp_path, replace)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    expected = run_claw(python_for(version), "version").stdout
    proc = run_claw(python_for(version), "version", pyz=damaged, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected
    report = probe_modules(python_for(version), "version", pyz=damaged, env=env)
    assert report["exit"] == 0
    assert all(info["cached"] is None or "/cp" not in info["cached"] or ".boot/" in info["cached"]
               for info in report["modules"].values()), report["modules"]
    assert report["modules"]["claw.cli.main"]["cached"] is None
    assert not list((tmp_path / "cache").glob("claw/bytecode/cp*.bin"))  # no bytecode cached from a damaged stream


_CACHE_STATE = """
from claw._pyz.importer import ClawImporter
print("from_file" if ClawImporter._pack.from_file else "in_memory")
"""


@pytest.mark.parametrize("version", SUPPORTED)
def test_bytecode_is_cached_on_the_first_run_and_read_from_the_cache_after(claw_pyz, version, tmp_path):
    # First run: the body is inflated from the archive and written to the per-user cache (0700 dir,
    # 0600 file); later runs read it. A damaged cache file is replaced; with the cache turned off
    # or unwritable, the body is inflated in memory on every run. The output is the same throughout.
    python = python_for(version)
    cache_home = tmp_path / "cache"
    env = {"XDG_CACHE_HOME": str(cache_home), "CLAW_NO_BYTECODE_CACHE": None}
    expected = run_claw(python, "version").stdout
    assert run_after_start(python, _CACHE_STATE, env=env).stdout == "in_memory\n"
    (cached,) = (cache_home / "claw" / "bytecode").glob(f"cp{version.replace('.', '')}-*.bin")
    assert oct(cached.stat().st_mode & 0o777) == "0o600"
    assert oct(cached.parent.stat().st_mode & 0o777) == "0o700"
    assert run_after_start(python, _CACHE_STATE, env=env).stdout == "from_file\n"
    good = cached.read_bytes()
    cached.write_bytes(bytes(len(good)))
    proc = run_claw(python, "version", env=env)
    assert proc.returncode == 0 and proc.stdout == expected, proc.stderr
    assert cached.read_bytes() == good
    report = probe_modules(python, "version", env=env)
    assert report["modules"]["claw.cli.main"]["cached"].endswith(".pyc")
    assert not list(cached.parent.glob("src-*.bin"))  # runs with bytecode read no source
    doctor = run_claw(python, "doctor", "--offline", env=env).stdout
    assert f"bytecode cache: {cached.parent} (1 file(s) for cp{version.replace('.', '')}); used by this run" \
        in doctor, doctor
    off = run_after_start(python, _CACHE_STATE, env={**env, "CLAW_NO_BYTECODE_CACHE": "1"})
    assert off.stdout == "in_memory\n"
    (tmp_path / "file").write_text("in the way")
    unwritable = run_after_start(python, _CACHE_STATE, env={"XDG_CACHE_HOME": str(tmp_path / "file")})
    assert unwritable.stdout == "in_memory\n" and unwritable.stderr == ""


@pytest.mark.parametrize("version", SUPPORTED)
def test_bytecode_matches_sources_when_python_checks_hashes(claw_pyz, version):
    # --check-hash-based-pycs always: the importer compares each .pyc's source hash with the source
    # in the archive, and falls back to the source on a mismatch. Every module must still use its .pyc.
    report = probe_modules(python_for(version), "version", python_args=["--check-hash-based-pycs", "always"])
    assert report["exit"] == 0
    assert all(info["cached"] for info in report["modules"].values()), report["modules"]


@pytest.mark.parametrize("version", SUPPORTED)
def test_data_files_and_tracebacks_work_with_bytecode(claw_pyz, version):
    # Modules loaded from bytecode keep their source locations: package data is found next to
    # __file__ (certifi's bundle, through pkgutil and through certifi's own API) and tracebacks
    # show the source line from the archive.
    snippet = """
import traceback
from claw import _vendor
pem = _vendor.certifi_pem()
assert pem.count("BEGIN CERTIFICATE") > 100, pem[:80]
assert _vendor.certifi.contents() == pem
assert _vendor.h11.__cached__.endswith(".pyc"), _vendor.h11.__cached__
try:
    _vendor.h11.Request(method="GET", target="/", headers=[])
except Exception:
    print(traceback.format_exc())
"""
    proc = run_after_start(python_for(version), snippet)
    assert proc.returncode == 0, proc.stderr
    archive = str(claw_pyz.resolve())
    assert f'File "{archive}/claw/_vendor/h11/_events.py"' in proc.stdout, proc.stdout
    assert "LocalProtocolError" in proc.stdout
    # Each archive frame is followed by its source line, as read from the archive's source.
    lines = proc.stdout.splitlines()
    frames = [(i, re.search(r'File "([^"]+)", line (\d+)', line)) for i, line in enumerate(lines)]
    frames = [(i, m.group(1), int(m.group(2))) for i, m in frames if m and m.group(1).startswith(archive)]
    assert frames, proc.stdout
    files = archive_files(claw_pyz)
    for i, path, lineno in frames:
        source = files[path[len(archive) + 1:]].decode().splitlines()
        assert lines[i + 1].strip() == source[lineno - 1].strip(), (lines[i:i + 2], source[lineno - 1])


def archive_files(pyz) -> dict:
    """``{name: bytes}``: the archive's plain members and the files of the sources body in its stream."""
    with zipfile.ZipFile(pyz) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    index = pack.PackIndex(files[pack.SOURCES_PATH], pack.SOURCES_MAGIC)
    files.update(pack.PackReader(index, pack.read_body(files[pack.STREAM_PATH], index)).items())
    return files


_TRACEBACK = """
import traceback
from claw import _vendor
print(_vendor.h11._events.__cached__)
try:
    _vendor.h11.Request(method="GET", target="/", headers=[])
except Exception:
    print(traceback.format_exc())
"""


@pytest.mark.parametrize("version", SUPPORTED)
def test_without_bytecode_sources_tracebacks_and_help_come_from_the_stream(claw_pyz, version, tmp_path):
    # The fallback of a Python with no bytecode (3.14, say): CLAW_PYZ_SOURCES=1 forces it here.
    python, archive = python_for(version), str(claw_pyz.resolve())
    env = {"CLAW_PYZ_SOURCES": "1", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = run_after_start(python, _TRACEBACK, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "None"  # compiled from the source, not taken from a pack
    i = lines.index(next(line for line in lines if line.strip().startswith(f'File "{archive}/claw/_vendor/h11/_events.py"')))
    lineno = int(re.search(r"line (\d+)", lines[i]).group(1))
    source = archive_files(claw_pyz)["claw/_vendor/h11/_events.py"].decode().splitlines()
    assert lines[i + 1].strip() == source[lineno - 1].strip()
    # The sources body was inflated once and cached: one file, private, for every Python.
    (cached,) = (tmp_path / "cache" / "claw" / "bytecode").glob("src-*.bin")
    assert oct(cached.stat().st_mode & 0o777) == "0o600"
    page = run_claw(python, "help", "hooks", env=env)
    assert page.returncode == 0 and page.stdout == (ROOT / "docs" / "HOOKS.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("version", SUPPORTED)
def test_damaged_sources_are_a_clear_error_only_when_they_are_needed(claw_pyz, version, tmp_path):
    with zipfile.ZipFile(claw_pyz) as zf:
        stream = zf.read(pack.STREAM_PATH)
    raw = bytearray(lzma.decompress(stream))
    raw[1000:1100] = bytes(100)  # in the sources body, which comes first
    damaged = _copy_with(claw_pyz, tmp_path, {pack.STREAM_PATH: lzma.compress(bytes(raw), format=lzma.FORMAT_XZ)})
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    python = python_for(version)
    ok = run_claw(python, "--version", pyz=damaged, env=env)  # bytecode: no source needed
    assert ok.returncode == 0 and ok.stdout.strip(), ok.stderr
    proc = run_claw(python, "--version", pyz=damaged, env={**env, "CLAW_PYZ_SOURCES": "1"})
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("claw: claw.pyz: the archive's stream is damaged"), proc.stderr
    assert "Traceback" not in proc.stderr and "another python3" in proc.stderr
    assert not list((tmp_path / "cache").glob("claw/bytecode/src-*.bin"))


def test_runs_through_its_shebang(claw_pyz):
    first = claw_pyz.read_bytes()[:64].split(b"\n", 1)[0]
    assert first == b"#!/usr/bin/env python3"
    proc = run_claw(None, "--version")
    if proc.returncode == 2 and "claw needs Python" in proc.stderr:
        pytest.skip("python3 on PATH is older than 3.9: " + proc.stderr.strip())
    assert proc.returncode == 0, proc.stderr
    assert claw_version() in proc.stdout


def _old_python():
    path = find_python(TOO_OLD)
    if path is None:
        message = f"Python {TOO_OLD} not found (needed to test the version gate)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


def _assert_gate(proc, python):
    assert proc.returncode == 2
    assert proc.stdout == ""
    pattern = (rf"claw needs Python >= 3\.9; found {re.escape(TOO_OLD)}\.\d+ at {re.escape(str(python))}; "
               rf"try: python3\.11 claw\.pyz\n")
    assert re.fullmatch(pattern, proc.stderr), proc.stderr


def test_python_38_gets_the_version_gate(claw_pyz):
    python = _old_python()
    _assert_gate(run_claw(python, "--version"), python)


def test_python_38_gets_the_version_gate_from_the_source_tree():
    # `python3.8 -m claw` in a checkout: claw/__main__.py is the same gate.
    python = _old_python()
    proc = subprocess.run([str(python), "-m", "claw", "--version"], cwd=ROOT, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(), timeout=60)
    _assert_gate(proc, python)


@pytest.mark.parametrize("site", [True, False], ids=["site", "no-site"])  # imported before claw, or after
@pytest.mark.parametrize("version", SUPPORTED)
def test_dataclass_methods_come_precompiled_from_the_pack(claw_pyz, version, site):
    # Importing claw's modules compiles none of the methods dataclasses generates (the audit hook
    # sees every compilation of source text; dataclasses wraps each in a "__create_fn__"): they come
    # from the pack's table. A class the table does not know is compiled as usual and works.
    snippet = """
import sys
compiled = []
def audit(event, args):
    if event == "compile":
        source = args[0]
        compiled.append(bytes(source).decode() if isinstance(source, (bytes, bytearray)) else str(source))
sys.addaudithook(audit)
import claw.api.types, claw.config.models, claw.runtime.events, claw._vendor.h11
generated = [text for text in compiled if "__create_fn__" in text]
assert generated == [], generated
import dataclasses
assert dataclasses.exec.__module__ == "claw._pyz.tables", dataclasses.exec
@dataclasses.dataclass(frozen=True)
class Fresh:
    size_in_furlongs: int = 3
assert Fresh() == Fresh(3) and repr(Fresh()) == "Fresh(size_in_furlongs=3)", repr(Fresh())
assert any("size_in_furlongs" in text for text in compiled), compiled
print("ok")
"""
    proc = run_after_start(python_for(version), snippet, python_args=() if site else ("-S",))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")


@pytest.mark.parametrize("site", [True, False], ids=["site", "no-site"])  # imported before claw, or after
@pytest.mark.parametrize("version", SUPPORTED)
def test_regex_programs_come_precompiled_from_the_pack(claw_pyz, version, site):
    # With the parser made to fail, claw's modules still import (their patterns come from the pack's
    # table), and a pattern the table does not know still reaches the real compiler.
    snippet = """
import re, sys
parser = sys.modules["re._parser" if sys.version_info >= (3, 11) else "sre_parse"]
def refuse(*args, **kwargs):
    raise RuntimeError("parsed")
parser.parse = refuse
re.purge()
import claw.runtime.session_store, claw.net.tls, claw._vendor.h11
assert claw.runtime.session_store._UUID_RE.match("6f1c3a52-8d0e-4c56-9a53-3c2d1e0b7a41")
try:
    re.compile("not in (the)? table{2}")
except RuntimeError as exc:
    assert str(exc) == "parsed"
else:
    raise AssertionError("an unknown pattern did not reach the compiler")
print("ok")
"""
    proc = run_after_start(python_for(version), snippet, python_args=() if site else ("-S",))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")
