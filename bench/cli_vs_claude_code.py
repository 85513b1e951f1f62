#!/usr/bin/env python3
"""``claw -p`` (dist/claw.pyz) against the real Claude Code CLI on the same fake model server and prompts.

Claude Code is the binary the claude-agent-sdk wheel ships (``claude_agent_sdk/_bundled/claude`` in
the test virtualenv; ``--claude`` for another). Both CLIs talk to one scripted fake model server
(tests/fakes/model_server.py) started in this process, with the same prompt and ``--model``, in two
scenarios:

  text  a one-turn text reply;
  tool  a two-turn round trip: the model asks to read small.txt (claw's ``read_file`` with ``path``,
        Claude Code's ``Read`` with an absolute ``file_path``; the server picks by the tools offered),
        gets the tool_result, then answers.

The server answers whatever else a CLI asks: token counting, requests without tools (a title or
summary) get a short text. Each run is checked (exit code, the answer on stdout, the tool_result
with the file's content in the last request), and the endpoints each CLI called are listed.

Claude Code runs with a private HOME and CLAUDE_CONFIG_DIR in a temporary directory,
ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY pointing at the fake, non-essential traffic, telemetry,
error reporting and the auto-updater disabled, and ``--permission-mode bypassPermissions`` (with
``IS_SANDBOX=1``, which it requires for that mode when run as root); claw with the same private HOME
and its default mode (danger-full-access, which is the same thing). When ``strace`` is installed,
one extra run of each CLI per scenario lists the connections it opened and the programs it
executed, to show that nothing but the fake server was reached.

claw runs with the real CPython 3.11 binary, with ``-S`` and with the site module (the sandbox's
``.pth`` imports certifi at every start here: not claw's cost, but part of a plain run on this
machine). Runs are interleaved (run i of every command before run i+1), after one warm-up run each.
Wall time (spawn to exit), CPU time and peak RSS (GNU time %M; see bench/benchlib.py), medians of
``--runs``, and the ratios claw / Claude Code. Targets: wall <= 0.25x, peak RSS <= 0.2x. Where the
wall time goes: spawn to the first model request read by the server, and from the last byte of the
last response to the process's exit.

``--baseline OTHER.pyz`` (another build, e.g. of the main branch) adds ``claw -S`` with it to the
interleaved commands, to compare two builds on a machine whose load changes from run to run.

Usage: python3 bench/cli_vs_claude_code.py [--runs 9] [--python PATH] [--pyz dist/claw.pyz] [--claude PATH]
       [--baseline OLD.pyz]
It prints figures; it asserts nothing about speed, and writes only temporary directories.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.benchlib import (CLAUDE_CODE, PYZ, bench_env, fmt_mib, load_average, measure, median,  # noqa: E402
                            real_python)
from tests.fakes.model_server import ModelServer, RecordedRequest, raw, reply, tool_use  # noqa: E402
from tests.fakes.claude_code import CLAUDE_QUIET  # noqa: E402

TARGET_WALL = 0.25
TARGET_RSS = 0.2
MODEL = "claude-sonnet-4-5"
PROMPTS = {
    "text": "Reply with a one-line greeting.",
    "tool": "Read small.txt and say how many lines it has.",
}
TOOL_MARKER = "Read small.txt and say how many"
ANSWERS = {"text": "Hello from the fake model.", "tool": "small.txt has 30 lines."}
SMALL_FILE = "".join(f"line {i}: value = {i * 7}\n" for i in range(30))


def _texts(message: Dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content or [] if isinstance(b, dict))


def _has_tool_result(message: Dict[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_result"
                                             for b in content)


class Scripted:
    """The fake server's handler: answers both CLIs in both scenarios, whatever else they ask."""

    def __init__(self, small_path: Path) -> None:
        self.small_path = small_path
        self._lock = threading.Lock()

    def __call__(self, req: RecordedRequest) -> Optional[Dict[str, Any]]:
        path = req.path.split("?")[0]
        body = req.json if isinstance(req.json, dict) else {}
        if path.endswith("/count_tokens"):
            return raw(json.dumps({"input_tokens": 100}), content_type="application/json")
        messages = body.get("messages") or []
        tools = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
        if not messages or not tools:
            return reply("Bench title")
        last = messages[-1]
        if _has_tool_result(last):
            return reply(ANSWERS["tool"])
        first_user = next((m for m in messages if m.get("role") == "user"), last)
        if TOOL_MARKER in _texts(first_user):
            if "Read" in tools:
                return reply(tool_uses=[tool_use("Read", {"file_path": str(self.small_path)})])
            return reply(tool_uses=[tool_use("read_file", {"path": "small.txt"})])
        return reply(ANSWERS["text"])


def check(label: str, scenario: str, run, reqs: List[RecordedRequest]) -> None:
    if run.returncode != 0:
        raise SystemExit(f"{label} ({scenario}) failed with {run.returncode}:\n{run.stderr[-2000:]}")
    if ANSWERS[scenario] not in run.stdout:
        raise SystemExit(f"{label} ({scenario}): answer not on stdout: {run.stdout[-500:]!r}")
    if scenario == "tool":
        results = [b for r in reqs if isinstance(r.json, dict)
                   for m in (r.json.get("messages") or [])[-1:] if _has_tool_result(m)
                   for b in m["content"] if b.get("type") == "tool_result"]
        text = json.dumps(results)
        if not results or "line 29: value = 203" not in text:
            raise SystemExit(f"{label}: no tool_result with the file's content reached the server: {text[:500]}")


def endpoints(reqs: List[RecordedRequest]) -> str:
    counts = collections.Counter(f"{r.method} {r.path}" + ("" if (r.json or {}).get("tools") else " (no tools)")
                                 for r in reqs)
    return ", ".join(f"{n} x {k}" for k, n in counts.items())


def trace(cmd: List[str], env: Dict[str, str], cwd: str, port: int) -> str:
    """Connections and programs of one run under strace: a one-line summary."""
    strace = shutil.which("strace")
    if not strace:
        return "strace not installed"
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
        subprocess.run([strace, "-f", "-qq", "-e", "trace=connect,execve", "-o", out.name, *cmd], env=env,
                       cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lines = out.read().splitlines()
    inet, programs = [], collections.Counter()
    for line in lines:
        m = re.search(r'connect\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\).*?"([0-9a-f.:]+)"', line)
        if m:
            inet.append((m.group(2), int(m.group(1))))
        m = re.search(r'execve\("([^"]+)".* = 0$', line)
        if m:
            programs[os.path.basename(m.group(1))] += 1
    programs[os.path.basename(cmd[0])] -= 1  # the command itself
    elsewhere = sorted({f"{a}:{p}" for a, p in inet if not (a in ("127.0.0.1", "::1") and p == port)})
    children = ", ".join(f"{k} x{v}" for k, v in sorted(programs.items()) if v > 0) or "none"
    return (f"{len(inet)} inet connect(s), {'only to the fake server' if not elsewhere else 'ALSO TO ' + ', '.join(elsewhere)}; "
            f"programs run: {children}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--python", type=Path, help="interpreter for claw (default: the real CPython 3.11 binary)")
    ap.add_argument("--pyz", type=Path, default=PYZ)
    ap.add_argument("--baseline", type=Path, metavar="PYZ", help="another build of claw to run alongside")
    ap.add_argument("--claude", type=Path, default=CLAUDE_CODE)
    ap.add_argument("--no-trace", action="store_true", help="skip the strace check runs")
    args = ap.parse_args(argv)
    if not args.pyz.exists():
        print(f"{args.pyz} not found; build it with: python3 build_zipapp.py", file=sys.stderr)
        return 2
    if not args.claude.exists():
        print(f"Claude Code binary not found at {args.claude} (pip install claude-agent-sdk in .venv-test)",
              file=sys.stderr)
        return 2
    python = args.python or real_python("3.11")

    with tempfile.TemporaryDirectory(prefix="claw-bench-vs-cc-") as tmp:
        tmp_path = Path(tmp)
        work = tmp_path / "work"
        work.mkdir()
        small = work / "small.txt"
        small.write_text(SMALL_FILE)
        home = tmp_path / "home"
        home.mkdir()
        with ModelServer(handler=Scripted(small)) as srv:
            base = bench_env(srv.url, str(home))
            cc_env = dict(base, CLAUDE_CONFIG_DIR=str(home / ".claude"), **CLAUDE_QUIET)
            version = subprocess.run([str(args.claude), "--version"], env=cc_env, capture_output=True,
                                     text=True).stdout.strip()
            commands = {
                "claw -S": (lambda s: [str(python), "-S", str(args.pyz), "-p", PROMPTS[s], "--model", MODEL], base),
                "claw (site)": (lambda s: [str(python), str(args.pyz), "-p", PROMPTS[s], "--model", MODEL], base),
                "Claude Code": (lambda s: [str(args.claude), "-p", PROMPTS[s], "--model", MODEL,
                                           "--permission-mode", "bypassPermissions"], cc_env),
            }
            if args.baseline:
                commands["baseline -S"] = (
                    lambda s: [str(python), "-S", str(args.baseline), "-p", PROMPTS[s], "--model", MODEL], base)
            print(f"claw ({args.pyz.name}, {python}) vs Claude Code {version}; {os.cpu_count()} CPUs, "
                  f"load average {load_average()}; {args.runs} runs each, interleaved, medians")
            seen: Dict[tuple, str] = {}
            results: Dict[tuple, List] = collections.defaultdict(list)
            for i in range(args.runs + 1):  # run 0 is the warm-up
                for scenario in PROMPTS:
                    for label, (make, env) in commands.items():
                        before = len(srv.requests)
                        spawned = time.time()
                        run = measure(make(scenario), env, cwd=str(work))
                        reqs = srv.requests[before:]
                        check(label, scenario, run, reqs)
                        seen.setdefault((label, scenario), endpoints(reqs))
                        if i:
                            results[(label, scenario)].append(
                                (run, reqs[0].time - spawned, spawned + run.wall - reqs[-1].finished))
            print(f"load average after: {load_average()}")
            print("\nrequests per run:")
            for (label, scenario), text in seen.items():
                print(f"  {label:12} {scenario:5} {text}")
            if not args.no_trace:
                print("\nstrace check (one extra run each):")
                for scenario in PROMPTS:
                    for label in ("claw -S", "Claude Code"):
                        make, env = commands[label]
                        print(f"  {label:12} {scenario:5} {trace(make(scenario), env, str(work), srv.port)}")

        print(f"\n{'command':12} {'scenario':8} {'wall':>8} {'CPU':>8} {'peak RSS':>10} {'1st req':>8} {'tail':>6}"
              f"   ratio to Claude Code: wall (target <= {TARGET_WALL}x), RSS (target <= {TARGET_RSS}x)")
        for scenario in PROMPTS:
            cc = results[("Claude Code", scenario)]
            cc_wall, cc_rss = median([r.wall for r, _, _ in cc]), median([r.maxrss_kib for r, _, _ in cc])
            for label in commands:
                rs = results[(label, scenario)]
                wall, cpu, rss = (median([r.wall for r, _, _ in rs]), median([r.cpu for r, _, _ in rs]),
                                  median([r.maxrss_kib for r, _, _ in rs]))
                first, tail = median([f for _, f, _ in rs]), median([t for _, _, t in rs])
                ratio = "" if label == "Claude Code" else (
                    f"   {wall / cc_wall:.3f}x {'met' if wall / cc_wall <= TARGET_WALL else 'NOT met'}, "
                    f"{rss / cc_rss:.3f}x {'met' if rss / cc_rss <= TARGET_RSS else 'NOT met'}")
                print(f"{label:12} {scenario:8} {wall * 1000:5.0f} ms {cpu * 1000:5.0f} ms {fmt_mib(rss):>10} "
                      f"{first * 1000:5.0f} ms {tail * 1000:3.0f} ms{ratio}")
        print("(1st req: spawn -> first model request read by the server; tail: last byte of the last response "
              "-> process reaped)")
        if args.baseline:
            for scenario in PROMPTS:
                new, old = results[("claw -S", scenario)], results[("baseline -S", scenario)]
                print(f"claw -S / baseline -S, {scenario}: wall "
                      f"{median([r.wall for r, _, _ in new]) / median([r.wall for r, _, _ in old]):.3f}x, CPU "
                      f"{median([r.cpu for r, _, _ in new]) / median([r.cpu for r, _, _ in old]):.3f}x, peak RSS "
                      f"{median([r.maxrss_kib for r, _, _ in new]) / median([r.maxrss_kib for r, _, _ in old]):.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
