#!/usr/bin/env python3
"""Run every benchmark in bench/ in sequence and print one summary table against the issues' targets.

Each benchmark runs as its own process with the interpreter it needs (the anthropic-SDK comparisons
with the bench virtualenv, /tmp/bench-venv or $BENCH_SDK_PYTHON; the MCP and relay benchmarks with
the test virtualenv .venv-test, which has the mcp and websockets packages; the rest with the Python
running this script). Its output is shown as it runs and kept in ``--log-dir``; the figures the
targets are about are then read back from that output (each benchmark's own wording: when one
changes its output, its ``summarize`` function here must follow) into a Markdown table: issue,
figure, measured, target, met. The machine, the date and the load average before and after each
benchmark are printed with it, since the machine may be shared.

Before anything else it rebuilds dist/claw.pyz (``--no-build`` to keep the current one), and with
``--max-load L`` it first waits (up to ``--wait`` seconds) for the 1-minute load average to drop
below L.

Usage: python3 bench/run_all.py [--quick] [--only NAME,...] [--skip NAME,...] [--no-build]
                                [--max-load 1.5] [--wait 1800] [--log-dir DIR]
``--quick`` passes small parameters to every benchmark (a smoke run: the figures are not the ones to
record). It judges nothing but the printed targets, asserts nothing and never fails on a slow run;
its exit status is non-zero only when a benchmark itself failed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


@dataclass
class Row:
    issue: str
    figure: str
    measured: str
    target: str
    met: Optional[bool]  # None: for information, no target


@dataclass
class Bench:
    name: str
    script: str
    python: str  # "self", "sdk" (bench venv) or "test" (.venv-test)
    args: Sequence[str]
    quick: Sequence[str]
    summarize: Callable[[str], List[Row]]
    note: str = ""
    rows: List[Row] = field(default_factory=list)


def _f(pattern: str, text: str, group: int = 1, flags: int = 0) -> Optional[str]:
    m = re.search(pattern, text, flags)
    return m.group(group) if m else None


def _all(pattern: str, text: str, flags: int = re.M) -> list:
    return re.findall(pattern, text, flags)


def s_startup(text: str) -> List[Row]:
    rows = []
    walls = _all(r"^(3\.\d+)\s+[\d.]+ms\s+[\d.]+ms\s+[\d.]+ms\s+([\d.]+)x\s+([\d.]+)x", text)
    cpus = _all(r"^  cpu\s+[\d.]+ms\s+[\d.]+ms\s+[\d.]+ms\s+([\d.]+)x\s+([\d.]+)x", text)
    if walls:
        worst = max(float(r) for _, r, _ in walls)
        rows.append(Row("2", "start-up: `claw.pyz --version` / `python -S -c pass`, wall",
                        ", ".join(f"{v} {float(r):.2f}x" for v, r, _ in walls), "<= 1.6x", worst <= 1.6))
        rows.append(Row("2", "  same, vs an empty .pyz (what claw adds to any zipapp), wall",
                        ", ".join(f"{v} {float(e):.2f}x" for v, _, e in walls), "-", None))
    if cpus and walls:
        rows.append(Row("2", "  same, CPU time", ", ".join(f"{v} {float(c[0]):.2f}x" for (v, _, _), c in zip(walls, cpus)),
                        "<= 1.6x", max(float(c[0]) for c in cpus) <= 1.6))
    return rows


def s_size(text: str) -> List[Row]:
    kib = _f(r"claw\.pyz: ([\d.]+) KiB", text)
    nobc = _f(r"everything but bytecode\s+([\d.]+) KiB", text)
    rows = []
    if kib:
        rows.append(Row("2", "size of dist/claw.pyz", f"{kib} KiB", "<= 600 KiB", float(kib) <= 600))
        rows.append(Row("13", "size of dist/claw.pyz", f"{float(kib) * 1024 / 1e6:.2f} MB", "<= 2.5 MB",
                        float(kib) * 1024 <= 2.5e6))
    if nobc:
        rows.append(Row("2", "  of which everything but the bytecode packs", f"{nobc} KiB", "-", None))
    return rows


def s_sse(text: str) -> List[Row]:
    rows = []
    a = _f(r"\(a\) claw SSEDecoder framing\s+([\d.]+) MB/s", text)
    mb = _f(r"stream ([\d.]+) MB", text) or "?"
    b = _f(r"\(b\) claw framing \+ json\.loads\s+([\d.]+) MB/s", text)
    sdk = _f(r"ratio claw/SDK:\s+([\d.]+)x", text)
    if a:
        rows.append(Row("2", f"SSE framing throughput, {mb} MB in 16 KiB chunks", f"{a} MB/s", ">= 150 MB/s",
                        float(a) >= 150))
    if b:
        rows.append(Row("2", "  framing + json.loads", f"{b} MB/s", "-", None))
    if sdk:
        rows.append(Row("2", "  SSE framing, claw / anthropic SDK decoder", f"{sdk}x", ">= 2x", float(sdk) >= 2))
    return rows


def s_api(text: str) -> List[Row]:
    rows = []
    per = _f(r"16 KiB chunks :\s+([\d.]+) us/event", text)
    last = _f(r"last byte -> accumulated message :\s+([\d.]+) us", text)
    m = re.search(r"ratio claw/SDK: wall ([\d.]+)x .*peak RSS ([\d.]+)x", text)
    if per:
        rows.append(Row("3", "stream folding (decode+parse+accumulate), 2,000 events, 16 KiB chunks",
                        f"{per} us/event", "-", None))
    if last:
        rows.append(Row("3", "last byte -> accumulated message", f"{last} us", "-", None))
    if m:
        rows.append(Row("3", "one streamed request, whole process: claw / anthropic SDK, wall", f"{m.group(1)}x",
                        "<= 0.2x", float(m.group(1)) <= 0.2))
        rows.append(Row("3", "  same, peak RSS", f"{m.group(2)}x", "<= 0.3x", float(m.group(2)) <= 0.3))
    return rows


def s_rules(text: str) -> List[Row]:
    rows = []
    for n, ms, ratio, per in re.findall(r"([\d,]+) rules \([\d.]+ MB\): load \+ PermissionPolicy +([\d.]+) ms.*?"
                                        r"ratio +([\d.]+)x +\(([\d.]+) us per rule\)", text):
        count = int(n.replace(",", ""))
        target = "<= 500 ms" if count == 20_000 else "linear"
        met = float(ms) <= 500 if count == 20_000 else None
        rows.append(Row("12", f"load settings + PermissionPolicy, {n} rules ({per} us/rule, {ratio}x json.loads)",
                        f"{ms} ms", target, met))
    return rows


def s_session(text: str) -> List[Row]:
    med = _f(r"resume \(SessionStore\.open\): median (\d+) ms", text)
    size = _f(r"session file: ([\d.]+) MB", text)
    if not med:
        return []
    return [Row("4", f"resume a {size} MB session file", f"{med} ms", "<= 500 ms", int(med) <= 500)]


def s_grep(text: str) -> List[Row]:
    m = re.search(r"median ratio grep_search/rg: ([\d.]+)x .*worst ([\d.]+)x", text)
    files = _f(r"\((\d+) files, ready", text)
    if not m:
        return []
    return [Row("4", f"grep_search / rg on a {files}-file tree (median of queries; worst)",
                f"{m.group(1)}x (worst {m.group(2)}x)", "<= 1.3x", float(m.group(1)) <= 1.3)]


def s_tool(text: str) -> List[Row]:
    rf = _f(r"read_file small file\s+median\s+([\d.]+) ms", text)
    return [Row("4", "  tool-side share of a read_file round trip (validate, policy, run)", f"{rf} ms", "-", None)] if rf else []


def s_agent(text: str) -> List[Row]:
    rows = []
    for label, med in _all(r"^  (-S|site)\s+median\s+([\d.]+) ms over all", text):
        rows.append(Row("4", f"tool round trip (read_file), end of tool_use stream -> next request, {label}",
                        f"{med} ms", "<= 5 ms", float(med) <= 5))
    base = _f(r"replay client .*?median ([\d.]+) ms", text)
    if base:
        rows.append(Row("4", "  baseline: replay client, same server and bodies", f"{base} ms", "-", None))
    for label, turns, mib, mb in _all(r"^  (-S|site)\s+(\d+) turns: ([\d.]+) MiB \(([\d.]+) MB", text):
        rows.append(Row("4", f"peak RSS, {turns}-turn session, {label}", f"{mb} MB ({mib} MiB)", "<= 80 MB",
                        float(mb) <= 80))
    for label, early, late in _all(r"^  (-S|site)\s+first 10: ([\d.]+) ms .*?last 10: ([\d.]+) ms", text):
        rows.append(Row("4", f"  read_file round trip in that session, first 10 -> last 10, {label}",
                        f"{early} -> {late} ms", "-", None))
    return rows


def s_cc(text: str) -> List[Row]:
    rows = []
    for label, scen, wall, rss in _all(r"^(claw -S|claw \(site\))\s+(text|tool)\s+.*?([\d.]+)x (?:met|NOT met), "
                                       r"([\d.]+)x (?:met|NOT met)", text):
        how = "-S" if label == "claw -S" else "site"
        rows.append(Row("5", f"`claw -p` ({how}) / Claude Code, "
                        f"{'one-turn text' if scen == 'text' else 'two-turn read_file'}: wall",
                        f"{wall}x", "<= 0.25x", float(wall) <= 0.25))
        rows.append(Row("5", "  same, peak RSS", f"{rss}x", "<= 0.2x", float(rss) <= 0.2))
    return rows


def s_cache(text: str) -> List[Row]:
    rows = []
    for label, share, ratio in _all(r"^(claw|Claude Code)\s+\d+\s+\d+\s+[\d,]+\s+([\d.]+)%\s+\$\s*[\d.]+\s+"
                                    r"\$\s*[\d.]+\s+([\d.]+)x", text):
        rows.append(Row("15", f"{label}: prompt tokens read from the cache, turns 2..N", f"{share} %", ">= 90 %",
                        float(share) >= 90))
        rows.append(Row("15", f"{label}: cost with caching / without", f"{ratio}x", "<= 0.25x", float(ratio) <= 0.25))
    refused = _f(r"refused loopback connection .*? median (\d+) ms", text)
    if refused:
        rows.append(Row("15", "refused loopback connection -> failure result, `claw -p`", f"{refused} ms", "<= 2000 ms",
                        int(refused) <= 2000))
    return rows


def s_mcp(text: str) -> List[Row]:
    rows = []
    for section in re.split(r"^1\. start-up with ", text, flags=re.M)[1:]:
        which = section.split(":", 1)[0]  # "3 real servers (time, git, FastMCP)", "3 light servers (...)"
        extra = _f(r"claw's extra time\s+(\d+) ms", section)
        limit = _f(r"target: <= slowest alone \+ 50 ms\s+(\d+) ms", section)
        if extra and limit:
            rows.append(Row("7", f"session start with {which}: claw's extra time to the first request",
                            f"{extra} ms", f"<= slowest server alone + 50 ms = {limit} ms", int(extra) <= int(limit)))
    for label, ratio in _all(r"^   (.+?): claw .*ratio ([\d.]+)x", text):
        rows.append(Row("7", f"tools/call round trip, claw / mcp client ({label})", f"{ratio}x", "<= 1.2x",
                        float(ratio) <= 1.2))
    return rows


def s_relay(text: str) -> List[Row]:
    rows = []
    for section in re.split(r"\nthrough claw's relay, upstream = ", text)[1:]:
        upstream = section.split(" ", 1)[0]
        for kind, ratio in _all(r"^\s+(download|upload)\s+direct .*ratio ([\d.]+)x", section):
            rows.append(Row("8", f"relay throughput / direct, {kind}, upstream {upstream}", f"{ratio}x", ">= 0.5x",
                            float(ratio) >= 0.5))
        added = _f(r"added per tunnel: ([\d.]+) ms", section)
        if added:
            rows.append(Row("8", f"added latency per tunnel open, upstream {upstream}", f"{added} ms", "<= 10 ms",
                            float(added) <= 10))
    return rows


BENCHES = [
    Bench("startup", "startup.py", "self", [], ["--runs", "3", "--python", "3.11"], s_startup),
    Bench("size", "size.py", "self", [], [], s_size),
    Bench("sse", "sse_throughput.py", "sdk", [], ["--mb", "5", "--reps", "2"], s_sse),
    Bench("api", "api_stream.py", "sdk", [], ["--runs", "2"], s_api),
    Bench("session", "session_resume.py", "self", [], ["--mb", "2", "--runs", "2"], s_session),
    Bench("rules", "permission_rules.py", "self", [], ["--rules", "20000", "--runs", "2"], s_rules),
    Bench("grep", "grep_bench.py", "self", [], ["--runs", "2", "--python-runs", "0"], s_grep),
    Bench("tools", "tool_overhead.py", "self", [], ["--runs", "200"], s_tool),
    Bench("agent", "agent_overhead.py", "self", [], ["--processes", "1", "--rounds", "10", "--turns", "30",
                                                     "--rss-runs", "1"], s_agent),
    Bench("vs-claude-code", "cli_vs_claude_code.py", "self", [], ["--runs", "2", "--no-trace"], s_cc),
    Bench("cache", "cache_cost.py", "test", [], ["--turns", "10", "--refused-runs", "2"], s_cache),
    Bench("mcp", "mcp_bench.py", "test", [], ["--runs", "1", "--calls", "30"], s_mcp),
    Bench("relay", "relay_bench.py", "test", [], ["--size-mb", "10", "--opens", "30", "--repeat", "1"], s_relay),
]


def interpreter(kind: str) -> str:
    if kind == "sdk":
        sdk = os.environ.get("BENCH_SDK_PYTHON", "/tmp/bench-venv/bin/python")
        return sdk if os.path.exists(sdk) else sys.executable
    if kind == "test":
        test = ROOT / ".venv-test" / "bin" / "python"
        return str(test) if test.exists() else sys.executable
    return sys.executable


def machine() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "?")
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return f"{os.cpu_count()} CPUs ({cpu}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}"


def load() -> float:
    return os.getloadavg()[0]


def wait_for_load(max_load: float, wait: float) -> None:
    deadline = time.monotonic() + wait
    while load() >= max_load and time.monotonic() < deadline:
        print(f"load average {load():.2f} >= {max_load}; waiting (up to {deadline - time.monotonic():.0f} s more)",
              flush=True)
        time.sleep(min(30.0, max(1.0, deadline - time.monotonic())))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small parameters: a smoke run, not figures to record")
    ap.add_argument("--only", help="comma-separated names: " + ",".join(b.name for b in BENCHES))
    ap.add_argument("--skip", help="comma-separated names to leave out")
    ap.add_argument("--no-build", action="store_true", help="do not rebuild dist/claw.pyz first")
    ap.add_argument("--max-load", type=float, default=0.0,
                    help="wait for the 1-minute load average to drop below this before each benchmark")
    ap.add_argument("--wait", type=float, default=1800.0, help="longest wait for --max-load, seconds (per bench)")
    ap.add_argument("--log-dir", type=Path, help="where each benchmark's output is kept (default: a new temp dir)")
    args = ap.parse_args(argv)
    names = {b.name for b in BENCHES}
    chosen = [b for b in BENCHES if (not args.only or b.name in args.only.split(","))
              and not (args.skip and b.name in args.skip.split(","))]
    unknown = set((args.only or "").split(",") + (args.skip or "").split(",")) - names - {""}
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(names))}")
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="claw-bench-logs-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    print(f"claw benchmarks, {started:%Y-%m-%d %H:%M} UTC; {machine()}; logs in {log_dir}")
    if not args.no_build:
        print("building dist/claw.pyz ...", flush=True)
        subprocess.run([sys.executable, str(ROOT / "build_zipapp.py")], cwd=ROOT, check=True)
    failed = []
    loads = {}
    for bench in chosen:
        if args.max_load:
            wait_for_load(args.max_load, args.wait)
        python = interpreter(bench.python)
        cmd = [python, str(BENCH / bench.script), *(bench.quick if args.quick else bench.args)]
        before = load()
        print(f"\n=== {bench.name}: {' '.join(cmd)} (load average {before:.2f})", flush=True)
        t0 = time.perf_counter()
        lines = []
        with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
            for line in proc.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                lines.append(line)
        text = "".join(lines)
        (log_dir / f"{bench.name}.txt").write_text(text)
        loads[bench.name] = (before, load(), time.perf_counter() - t0)
        if proc.returncode != 0:
            failed.append(bench.name)
            print(f"=== {bench.name} FAILED with exit status {proc.returncode}")
        try:
            bench.rows = bench.summarize(text)
        except Exception as exc:  # noqa: BLE001 - a changed output format must not hide the others
            bench.rows = [Row("?", f"{bench.name}: could not read its output ({exc})", "see log", "", None)]
        if not bench.rows and proc.returncode == 0:
            bench.rows = [Row("?", f"{bench.name}: no figure found in its output", "see log", "", None)]

    print(f"\n## Summary ({started:%Y-%m-%d} UTC, {machine()}{'; --quick' if args.quick else ''})\n")
    print("| issue | figure | measured | target | met | bench (load before/after, time) |")
    print("|---|---|---|---|---|---|")
    for bench in chosen:
        b, a, secs = loads.get(bench.name, (0, 0, 0))
        where = f"{bench.script} ({b:.1f}/{a:.1f}, {secs:.0f} s)"
        for i, row in enumerate(bench.rows):
            met = "-" if row.met is None else ("met" if row.met else "**not met**")
            print(f"| {row.issue} | {row.figure} | {row.measured} | {row.target} | {met} | {where if i == 0 else ''} |")
        if bench.name in failed:
            print(f"| ? | {bench.name} failed | see {log_dir / (bench.name + '.txt')} | | | {where} |")
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
