#!/usr/bin/env python3
"""The agent loop's own costs in a whole ``claw -p`` run: tool round-trip overhead and peak RSS.

Both parts run dist/claw.pyz with the real CPython 3.11 binary (``--python`` for another) against
the scripted fake model server (tests/fakes/model_server.py) started in this process, once with
``-S`` and once with the site module: on these machines a sandbox ``.pth`` in site-packages imports
certifi at every start, which is not claw's cost but is part of a plain ``python3 claw.pyz`` here.

(a) Tool round-trip overhead (target: median <= 5 ms). One ``claw -p`` run is a scripted
    conversation of ``--rounds`` (20) model turns that each ask for ``read_file`` of a small file,
    then a final text answer. For every round the server records, with ``time.time()`` in its own
    threads, when the last byte of the tool_use response was written (``RecordedRequest.finished``)
    and when the next request had been read in full (``RecordedRequest.time``); the difference is
    everything claw does between the end of the tool_use stream and its next request: finishing the
    stream, the permission decision, running the tool, the session-file append, building and sending
    the next request. The server's own share (parsing the request's headers and JSON) is inside that
    difference; the JSON part is timed separately and printed. Each next request is checked to carry
    the tool_result of the previous tool_use. Medians per process (``--processes`` runs) and over all
    rounds; the first round is shown apart (it includes lazy imports of the tool modules). Baseline,
    measured the same way in the same run: a minimal raw-socket client that replays claw's own request
    bodies, each as soon as the previous response has ended (the server's, the loopback's and a
    do-nothing client's share of the gap); claw's own share is the difference of the medians.
(b) Peak RSS of a 200-turn session (target <= 80 MB). One ``claw -p --max-turns 250`` run in which
    the model calls read_file / glob_search / grep_search in turn on a generated source tree for
    ``--turns`` - 1 (199) turns, then answers. Peak RSS is GNU time's %M of the claw process (see
    bench/benchlib.py), next to a one-turn text reply measured in the same run as the baseline;
    medians of ``--rss-runs``. The same run also shows how the read_file round trip of (a) grows with
    the conversation: the first ten read_file turns against the last ten.

Usage: python3 bench/agent_overhead.py [--rounds 20] [--processes 3] [--turns 200] [--rss-runs 3]
                                       [--python PATH] [--pyz dist/claw.pyz] [--site both|on|off]
Build the archive first (python3 build_zipapp.py). It prints figures; it asserts nothing about
speed, and writes only temporary directories.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.benchlib import PYZ, bench_env, fmt_mib, load_average, measure, median, real_python  # noqa: E402
from tests.fakes.model_server import ModelServer, RecordedRequest, reply, tool_use  # noqa: E402

TARGET_ROUND_TRIP_MS = 5.0
TARGET_RSS_MB = 80.0
SMALL_FILE = "".join(f"line {i}: value = {i * 7}\n" for i in range(30))


class ScriptedAgent:
    """A handler for the fake server: ``tool_turns`` tool_use replies chosen by ``pick``, then text.

    Requests without tools (a compaction summary, anything unexpected) get a text reply and do not
    count as turns."""

    def __init__(self, tool_turns: int, pick) -> None:
        self.tool_turns = tool_turns
        self.pick = pick
        self.served = 0
        self.tool_requests: List[RecordedRequest] = []
        self.other_requests: List[RecordedRequest] = []
        self._lock = threading.Lock()

    def __call__(self, req: RecordedRequest) -> Optional[Dict[str, Any]]:
        body = req.json if isinstance(req.json, dict) else {}
        with self._lock:
            if not body.get("tools"):
                self.other_requests.append(req)
                return reply("Summary: the model read files and searched the tree.")
            n = self.served
            self.served += 1
            self.tool_requests.append(req)
        if n < self.tool_turns:
            name, tool_input = self.pick(n)
            return reply(tool_uses=[tool_use(name, tool_input, id=f"toolu_bench_{n:05d}")])
        return reply("done")


def last_tool_result_id(req: RecordedRequest) -> Optional[str]:
    messages = (req.json or {}).get("messages") or []
    if not messages or not isinstance(messages[-1].get("content"), list):
        return None
    for block in messages[-1]["content"]:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            return block.get("tool_use_id")
    return None


def claw_cmd(python: Path, flags: List[str], pyz: Path, prompt: str, *extra: str) -> List[str]:
    return [str(python), *flags, str(pyz), "-p", prompt, *extra]


# --------------------------------------------------------------------------------------------- (a)


def round_trip_run(python: Path, flags: List[str], pyz: Path, rounds: int, work: Path, home: Path) -> Dict[str, Any]:
    agent = ScriptedAgent(rounds, lambda n: ("read_file", {"path": "small.txt"}))
    with ModelServer(handler=agent) as srv:
        run = measure(claw_cmd(python, flags, pyz, "Read small.txt again and again.", "--max-turns",
                               str(rounds + 5)), bench_env(srv.url, str(home)), cwd=str(work))
    if run.returncode != 0 or "done" not in run.stdout:
        raise SystemExit(f"claw failed ({run.returncode}): {run.stderr[-2000:]}")
    reqs = agent.tool_requests
    if len(reqs) != rounds + 1:
        raise SystemExit(f"expected {rounds + 1} model requests, the server got {len(reqs)}")
    gaps, parse = [], []
    for k in range(rounds):
        prev, nxt = reqs[k], reqs[k + 1]
        if last_tool_result_id(nxt) != f"toolu_bench_{k:05d}":
            raise SystemExit(f"request {k + 1} does not carry the tool_result of tool_use {k}")
        gaps.append(nxt.time - prev.finished)
        t0 = time.perf_counter()
        json.loads(nxt.body)
        parse.append(time.perf_counter() - t0)
    return {"gaps": gaps, "parse": parse, "wall": run.wall, "last_body": len(reqs[-1].body),
            "bodies": [r.body for r in reqs]}


REPLAY_CLIENT = r"""
import json, socket, sys
bodies = [b.encode("utf-8") for b in json.load(open(sys.argv[2], encoding="utf-8"))]
heads = [b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
         b"Content-Length: %d\r\n\r\n" % len(b) for b in bodies]
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for head, body in zip(heads, bodies):
    s.sendall(head + body)
    buf = b""
    while not buf.endswith(b"\r\n0\r\n\r\n"):
        data = s.recv(65536)
        if not data:
            raise SystemExit("connection closed")
        buf += data
"""


def replay_run(python: Path, bodies: List[bytes], tmp: Path) -> List[float]:
    """The baseline of (a): a client that does nothing between responses. It sends claw's own recorded
    request bodies, each as soon as the previous response has ended, over one connection, to a server
    scripted as for claw; the same server-side gaps, measured the same way."""
    rounds = len(bodies) - 1
    agent = ScriptedAgent(rounds, lambda n: ("read_file", {"path": "small.txt"}))
    bodies_file = tmp / "bodies.json"
    bodies_file.write_text(json.dumps([b.decode("utf-8") for b in bodies]))
    with ModelServer(handler=agent) as srv:
        run = measure([str(python), "-S", "-c", REPLAY_CLIENT, str(srv.port), str(bodies_file)], {})
    if run.returncode != 0 or len(agent.tool_requests) != rounds + 1:
        raise SystemExit(f"replay client failed ({run.returncode}): {run.stderr[-2000:]}")
    reqs = agent.tool_requests
    return [reqs[k + 1].time - reqs[k].finished for k in range(rounds)]


# --------------------------------------------------------------------------------------------- (b)

WORDS = ("request response handler config client server token cache buffer stream socket worker queue "
         "event loop future task timeout retry backoff status parse body value").split()


def make_tree(root: Path, files: int = 60) -> List[str]:
    """A deterministic tree of small Python-like files (1-3 KB each); returns their relative paths."""
    import random

    rng = random.Random(200)
    paths = []
    for i in range(files):
        rel = f"src/pkg{i % 6}/mod{i:02d}.py"
        lines = []
        for j in range(rng.randint(4, 10)):
            lines.append(f"def handle_{rng.choice(WORDS)}_{j}(request, config):")
            for _ in range(rng.randint(2, 5)):
                lines.append("    " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))))
            lines.append("    return None\n")
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        paths.append(rel)
    return paths


def long_session_run(python: Path, flags: List[str], pyz: Path, turns: int, work: Path, home: Path,
                     files: List[str]) -> Dict[str, Any]:
    def pick(n: int):
        kind = n % 3
        if kind == 0:
            return "read_file", {"path": files[(n // 3) % len(files)]}
        if kind == 1:
            return "glob_search", {"pattern": "src/**/*.py"}
        return "grep_search", {"pattern": rf"def handle_{WORDS[(n // 3) % len(WORDS)]}_\d"}

    agent = ScriptedAgent(turns - 1, pick)
    with ModelServer(handler=agent) as srv:
        run = measure(claw_cmd(python, flags, pyz, "Survey the source tree, one tool call at a time.",
                               "--max-turns", str(turns + 50)), bench_env(srv.url, str(home)), cwd=str(work))
    if run.returncode != 0 or "done" not in run.stdout:
        raise SystemExit(f"claw failed ({run.returncode}) in the long session: {run.stderr[-2000:]}")
    if len(agent.tool_requests) != turns:
        raise SystemExit(f"expected {turns} model requests, the server got {len(agent.tool_requests)}")
    reqs = agent.tool_requests
    read_gaps = [(reqs[k + 1].time - reqs[k].finished, len(reqs[k + 1].body))
                 for k in range(0, turns - 1, 3)]  # the read_file turns
    last = reqs[-1]
    t0 = time.perf_counter()
    json.loads(last.body)
    last_parse = time.perf_counter() - t0
    results = sum(1 for m in last.json["messages"] if isinstance(m.get("content"), list)
                  and any(b.get("type") == "tool_result" for b in m["content"]))
    return {"rss": run.maxrss_kib, "wall": run.wall, "cpu": run.cpu, "last_body": len(last.body),
            "tool_results": results, "other": len(agent.other_requests), "read_gaps": read_gaps,
            "last_parse": last_parse}


def one_turn_run(python: Path, flags: List[str], pyz: Path, work: Path, home: Path) -> Dict[str, Any]:
    with ModelServer({"responses": [], "default": reply("hello")}) as srv:
        run = measure(claw_cmd(python, flags, pyz, "Say hello."), bench_env(srv.url, str(home)), cwd=str(work))
    if run.returncode != 0:
        raise SystemExit(f"claw failed ({run.returncode}): {run.stderr[-2000:]}")
    return {"rss": run.maxrss_kib, "wall": run.wall, "cpu": run.cpu}


# --------------------------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20, help="read_file round trips per claw process (a)")
    ap.add_argument("--processes", type=int, default=3, help="claw processes per variant for (a)")
    ap.add_argument("--turns", type=int, default=200, help="model turns of the long session (b)")
    ap.add_argument("--rss-runs", type=int, default=3, help="long sessions per variant (b)")
    ap.add_argument("--python", type=Path, help="interpreter (default: the real CPython 3.11 binary)")
    ap.add_argument("--pyz", type=Path, default=PYZ)
    ap.add_argument("--site", choices=("both", "on", "off"), default="both",
                    help="run with -S (off), with the site module (on), or both (default)")
    ap.add_argument("--skip-rss", action="store_true", help="only part (a)")
    args = ap.parse_args(argv)
    if not args.pyz.exists():
        print(f"{args.pyz} not found; build it with: python3 build_zipapp.py", file=sys.stderr)
        return 2
    python = args.python or real_python("3.11")
    variants = {"off": ("-S", ["-S"]), "on": ("site", [])}
    chosen = [variants[k] for k in (("off", "on") if args.site == "both" else (args.site,))]
    print(f"agent overhead: {args.pyz.name} on {python} ({os.cpu_count()} CPUs, load average {load_average()})")

    with tempfile.TemporaryDirectory(prefix="claw-bench-agent-") as tmp:
        tmp_path = Path(tmp)
        work = tmp_path / "work"
        work.mkdir()
        (work / "small.txt").write_text(SMALL_FILE)
        files = make_tree(work)
        home = tmp_path / "home"
        home.mkdir()

        # (a) interleaved: process 1 of each variant, then process 2 of each, ...
        per = {label: [] for label, _ in chosen}
        replay: List[float] = []
        for _ in range(args.processes):
            for label, flags in chosen:
                per[label].append(round_trip_run(python, flags, args.pyz, args.rounds, work, home))
            replay.extend(replay_run(python, per[chosen[0][0]][-1]["bodies"], tmp_path))
        print(f"\n(a) tool round trip, read_file of a {len(SMALL_FILE)}-byte file: server-side time from the last "
              f"byte of the tool_use response to the next request read in full; {args.rounds} rounds per process, "
              f"{args.processes} processes (target: median <= {TARGET_ROUND_TRIP_MS:g} ms)")
        summary_a = {}
        for label, _ in chosen:
            runs = per[label]
            every = [g for r in runs for g in r["gaps"][1:]]
            firsts = [r["gaps"][0] for r in runs]
            parse = median([p for r in runs for p in r["parse"]])
            per_process = ", ".join(f"{median(r['gaps']) * 1000:.2f}" for r in runs)
            all_rounds = [g for r in runs for g in r["gaps"]]
            med = median(all_rounds)
            summary_a[label] = med
            every.sort()
            p90 = every[int(len(every) * 0.9)] if every else float("nan")
            print(f"  {label:5} median {med * 1000:6.2f} ms over all {len(all_rounds)} rounds (per process: "
                  f"{per_process} ms); rounds 2+: median {median(every) * 1000:.2f}, p90 {p90 * 1000:.2f}, "
                  f"min {min(every) * 1000:.2f} ms; first round {median(firsts) * 1000:.2f} ms; "
                  f"server JSON parse {parse * 1000:.3f} ms; last request {runs[0]['last_body'] / 1024:.1f} KiB; "
                  f"{'met' if med * 1000 <= TARGET_ROUND_TRIP_MS else 'NOT met'}")
        base = median(replay)
        print(f"  baseline: a replay client that does nothing between responses (claw's own request bodies, "
              f"one connection): median {base * 1000:.2f} ms; so claw's own share is about "
              + ", ".join(f"{label} {(summary_a[label] - base) * 1000:.2f} ms" for label, _ in chosen))

        if args.skip_rss:
            return 0
        # (b)
        long_runs = {label: [] for label, _ in chosen}
        base_runs = {label: [] for label, _ in chosen}
        for _ in range(args.rss_runs):
            for label, flags in chosen:
                base_runs[label].append(one_turn_run(python, flags, args.pyz, work, home))
                long_runs[label].append(long_session_run(python, flags, args.pyz, args.turns, work, home, files))
        print(f"\n(b) peak RSS of the claw process (GNU time %M), a {args.turns}-turn session "
              f"(read_file/glob_search/grep_search on {len(files)} files, then an answer) against a one-turn text "
              f"reply; medians of {args.rss_runs} (target <= {TARGET_RSS_MB:g} MB)")
        for label, _ in chosen:
            longs, bases = long_runs[label], base_runs[label]
            rss = median([r["rss"] for r in longs])
            base = median([r["rss"] for r in bases])
            mb = rss * 1024 / 1e6
            r0 = longs[0]
            print(f"  {label:5} {args.turns} turns: {fmt_mib(rss)} ({mb:.1f} MB; runs "
                  f"{', '.join(fmt_mib(r['rss']) for r in longs)}), one turn: {fmt_mib(base)}, "
                  f"ratio {rss / base:.2f}x; long session wall {median([r['wall'] for r in longs]):.2f} s, "
                  f"CPU {median([r['cpu'] for r in longs]):.2f} s; last request {r0['last_body'] / 1024:.0f} KiB "
                  f"with {r0['tool_results']} tool results; extra requests {r0['other']}; "
                  f"{'met' if mb <= TARGET_RSS_MB else 'NOT met'}")
        print("    read_file round trip as the conversation grows (median of 10 read_file turns; next request "
              "size; server JSON parse of the last request):")
        for label, _ in chosen:
            gaps = [r["read_gaps"] for r in long_runs[label]]
            n = len(gaps[0])
            early = median([g for run in gaps for g, _ in run[:10]])
            late = median([g for run in gaps for g, _ in run[n - 10:]])
            print(f"  {label:5} first 10: {early * 1000:.2f} ms (~{gaps[0][4][1] / 1024:.0f} KiB); last 10: "
                  f"{late * 1000:.2f} ms (~{gaps[0][n - 5][1] / 1024:.0f} KiB); server parse of the last "
                  f"request {median([r['last_parse'] for r in long_runs[label]]) * 1000:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
