#!/usr/bin/env python3
"""Start-up time of dist/claw.pyz on each Python, and what its bytecode trees buy.

For every Python 3.9-3.13 found under $(pyenv root)/versions (the real binaries, never pyenv shims),
all in one run, interleaving the commands compared so that machine load hits them alike:

1. ``python -c pass`` vs ``python dist/claw.pyz --version``: medians and their ratio (target <= 1.6x);
   also an empty .pyz (``__main__.py`` that does nothing), which shows what running any zipapp costs
   the interpreter before claw's code starts (runpy, os, zipimport, zlib; on 3.9/3.10 also typing).
2. A copy of claw.pyz built WITHOUT bytecode vs dist/claw.pyz WITH it, for
   - ``claw.pyz version``, which imports the vendored libraries, and
   - importing the vendored libraries plus every module of claw.net (the network stack) and
   - importing every claw module (roughly what a full agent run loads),
   each through the archive's own __main__ and importer (run with runpy from a tiny ``-c`` script).

``--baseline OTHER.pyz`` (another build, e.g. of the main branch) adds its ``--version`` to the
interleaved commands of part 1, with the ratio new / baseline: the way to compare two builds on a
machine whose load changes from one run to the next.

Usage: python3 bench/startup.py [--runs 15] [--pyz dist/claw.pyz] [--baseline OLD.pyz] [--python 3.11 ...]
       [--with-site]
Every command runs with ``-S`` (no site module) unless ``--with-site`` is given: on these machines
the interpreters' site-packages hold a .pth file, not claw's, that imports certifi at every start
(~150 ms), which would drown what is measured here. Wall time per process with time.perf_counter around subprocess.run, and the child's CPU time
(user+system, from getrusage: far less disturbed by other load on the machine, shown on the "cpu"
rows); medians of ``--runs`` runs after 2 warm-up runs. It prints results; it asserts nothing and writes no files outside a temp dir.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import build_zipapp  # noqa: E402

TARGET_RATIO = 1.6

_IMPORT_VIA_PYZ = r"""
import importlib, os, runpy, sys
pyz, mods = sys.argv[1], [m for m in sys.argv[2].split(",") if m]
sys.argv = [pyz, "--version"]
out = os.dup(1); os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
def _exit_here(status):  # claw ends with os._exit; this script goes on importing after it
    raise SystemExit(status)
os._exit = _exit_here
try:
    runpy.run_path(pyz, run_name="__main__")
except SystemExit:
    pass
failed = []
for m in mods:
    try:
        importlib.import_module(m)
    except Exception:
        failed.append(m)
os.dup2(out, 1)
if failed:
    sys.stderr.write("not importable: %s\n" % ",".join(failed))
"""


def clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "CLAW_"))}


def timed(cmd, env) -> tuple:
    """(wall seconds, CPU seconds user+system) of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env=env)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{proc.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


CPU = {}  # label -> median CPU seconds of the last compare()


def compare(commands: dict, runs: int) -> dict:
    """Median wall seconds per labelled command, runs interleaved (median CPU seconds go to CPU)."""
    env = clean_env()
    times = {label: [] for label in commands}
    cpus = {label: [] for label in commands}
    for i in range(runs + 2):
        for label, cmd in commands.items():
            wall, cpu = timed(cmd, env)
            if i >= 2:
                times[label].append(wall)
                cpus[label].append(cpu)
    CPU.clear()
    CPU.update({label: statistics.median(ts) for label, ts in cpus.items()})
    return {label: statistics.median(ts) for label, ts in times.items()}


def module_names(pyz: Path, prefixes) -> list:
    from claw._pyz import pack

    with zipfile.ZipFile(pyz) as zf:
        names = []
        listed = list(zf.namelist())
        if pack.SOURCES_PATH in listed:  # most sources are in the archive's stream
            listed += pack.PackIndex(zf.read(pack.SOURCES_PATH), pack.SOURCES_MAGIC).members
        for n in listed:
            if n.startswith("claw/") and n.endswith(".py") and not n.endswith("__main__.py"):
                mod = n[:-3].replace("/", ".")
                mod = mod[: -len(".__init__")] if mod.endswith(".__init__") else mod
                if any(mod == p or mod.startswith(p + ".") for p in prefixes):
                    names.append(mod)
    return sorted(names)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--pyz", type=Path, default=ROOT / "dist" / "claw.pyz")
    parser.add_argument("--baseline", type=Path, metavar="PYZ", help="another build to compare --version with")
    parser.add_argument("--python", action="append", help="X.Y to measure (default: all found)")
    parser.add_argument("--with-site", action="store_true", help="do not pass -S to the interpreters")
    args = parser.parse_args(argv)
    flags = [] if args.with_site else ["-S"]
    if not args.pyz.exists():
        print(f"{args.pyz} not found; build it with: python3 build_zipapp.py", file=sys.stderr)
        return 2
    pythons = build_zipapp.find_pythons()
    if args.python:
        pythons = {v: p for v, p in pythons.items() if v in args.python}
    vendored = [f"claw._vendor.{p.name}" for p in build_zipapp.parse_vendor_txt((ROOT / "vendor.txt").read_text())]
    net = vendored + module_names(args.pyz, ["claw.net"])
    everything = vendored + module_names(args.pyz, ["claw"])
    print(f"{args.runs} runs each, medians; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}; "
          f"interpreter flags: {' '.join(flags) or '(none)'}")
    with tempfile.TemporaryDirectory(prefix="claw-bench-") as tmp:
        nobc = Path(tmp) / "claw-nobytecode.pyz"
        build_zipapp.build(nobc, bytecode=False, log=lambda m: None)
        empty = Path(tmp) / "empty.pyz"
        with zipfile.ZipFile(empty, "w") as zf:
            zf.writestr("__main__.py", "")
        print(f"\n{'python':8} {'-c pass':>9} {'empty.pyz':>10} {'--version':>10} {'ratio':>6} {'vs empty':>9}"
              f"   (target: ratio <= {TARGET_RATIO}x)")
        rows = []
        for version, python in sorted(pythons.items(), key=lambda kv: tuple(map(int, kv[0].split(".")))):
            commands = {"pass": [str(python), *flags, "-c", "pass"],
                        "empty": [str(python), *flags, str(empty)],
                        "version": [str(python), *flags, str(args.pyz), "--version"]}
            if args.baseline:
                commands["baseline"] = [str(python), *flags, str(args.baseline), "--version"]
            m = compare(commands, args.runs)
            c = dict(CPU)
            ratio = m["version"] / m["pass"]
            print(f"{version:8} {m['pass'] * 1000:7.1f}ms {m['empty'] * 1000:8.1f}ms {m['version'] * 1000:8.1f}ms "
                  f"{ratio:5.2f}x {m['version'] / m['empty']:8.2f}x{'' if ratio <= TARGET_RATIO else '  OVER'}"
                  + (f"   vs baseline {m['baseline'] * 1000:.1f}ms: {m['version'] / m['baseline']:.3f}x wall, "
                     f"{c['version'] / c['baseline']:.3f}x cpu" if args.baseline else ""))
            print(f"{'  cpu':8} {c['pass'] * 1000:7.1f}ms {c['empty'] * 1000:8.1f}ms {c['version'] * 1000:8.1f}ms "
                  f"{c['version'] / c['pass']:5.2f}x {c['version'] / c['empty']:8.2f}x")
            rows.append((version, python))
        print(f"\nwithout -> with bytecode ({len(net)} modules for vendored+net, {len(everything)} for all)")
        print(f"{'python':8} {'`version`':>22} {'vendored+claw.net':>22} {'all claw modules':>22}")
        for version, python in rows:
            cells, cpu_cells = [], []
            for label, make in (
                ("version", lambda pyz: [str(python), *flags, str(pyz), "version"]),
                ("net", lambda pyz: [str(python), *flags, "-c", _IMPORT_VIA_PYZ, str(pyz), ",".join(net)]),
                ("all", lambda pyz: [str(python), *flags, "-c", _IMPORT_VIA_PYZ, str(pyz), ",".join(everything)]),
            ):
                m = compare({"without": make(nobc), "with": make(args.pyz)}, args.runs)
                cells.append(f"{m['without'] * 1000:6.0f} -> {m['with'] * 1000:4.0f}ms "
                             f"({m['without'] / m['with']:.1f}x)")
                cpu_cells.append(f"{CPU['without'] * 1000:6.0f} -> {CPU['with'] * 1000:4.0f}ms "
                                 f"({CPU['without'] / CPU['with']:.1f}x)")
            print(f"{version:8} " + " ".join(f"{c:>22}" for c in cells))
            print(f"{'  cpu':8} " + " ".join(f"{c:>22}" for c in cpu_cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
