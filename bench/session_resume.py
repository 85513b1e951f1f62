"""Benchmark: resuming a 20 MB session file (target: median load ≤ 0.5 s).

Generates, under a temporary directory in /tmp, a session of realistic records written through
``SessionStore`` (user prompts, assistant text with tool_use blocks and usage, tool results of a few
hundred bytes to tens of KB - source files, grep output, command output - and a compaction every few
hundred messages, as a long session has; ``--no-compaction`` for the worst case), then times ``SessionStore.open`` (read, parse, apply compactions, repair check) and
``SessionStore.list``, and the cost of one append with each fsync mode. Prints medians; asserts nothing.

Usage: python bench/session_resume.py [--mb 20] [--runs 7] [--keep]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from claw.runtime.session_store import SessionStore  # noqa: E402

WORDS = (
    "the function returns a value when the request fails we retry with backoff and log the status "
    "code then parse the response body into a dataclass before handing it to the caller"
).split()


def _source_file(rng: random.Random, lines: int) -> str:
    out = []
    for i in range(lines):
        indent = "    " * rng.randint(0, 3)
        out.append(f"{i + 1:6}\t{indent}{' '.join(rng.choice(WORDS) for _ in range(rng.randint(2, 12)))}")
    return "\n".join(out)


def _redact_or_identity():
    try:
        from claw.redact import redact_obj  # noqa: F401

        return None  # the store's default (the real redactor)
    except ImportError:
        return lambda obj: obj


def generate(directory: str, target_bytes: int, seed: int = 7, compaction: bool = True) -> str:
    rng = random.Random(seed)
    store = SessionStore(directory, redact=_redact_or_identity(), fsync="never")
    session = store.create(model="claude-sonnet-4-5", cwd=directory)
    n = 0
    tool_id = 0
    while True:
        session.append_message({"role": "user", "content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60)))})
        for _step in range(rng.randint(1, 6)):
            tool_id += 1
            tid = f"toolu_{tool_id:020d}"
            kind = rng.choice(["read_file", "bash", "grep_search", "edit_file"])
            if kind == "read_file":
                tool_input = {"path": f"src/module_{rng.randint(1, 300)}.py"}
                output = _source_file(rng, rng.randint(20, 400))
            elif kind == "bash":
                tool_input = {"command": "pytest -q tests/ -x", "timeout": 120000}
                output = _source_file(rng, rng.randint(3, 80))
            elif kind == "grep_search":
                tool_input = {"pattern": rng.choice(WORDS), "output_mode": "content", "-n": True}
                output = "\n".join(f"src/m{rng.randint(1, 99)}.py:{rng.randint(1, 900)}: {rng.choice(WORDS)}" for _ in range(rng.randint(5, 120)))
            else:
                tool_input = {"path": "src/app.py", "old_string": _source_file(rng, 4), "new_string": _source_file(rng, 6)}
                output = "The file src/app.py has been edited."
            session.append_message(
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40)))},
                        {"type": "tool_use", "id": tid, "name": kind, "input": tool_input},
                    ],
                },
                usage={"input_tokens": rng.randint(1000, 90000), "output_tokens": rng.randint(10, 900),
                       "cache_creation_input_tokens": 0, "cache_read_input_tokens": rng.randint(0, 80000)},
            )
            session.append_message(
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tid, "content": output}]}
            )
            n += 2
        session.append_message(
            {"role": "assistant", "content": [{"type": "text", "text": " ".join(rng.choice(WORDS) for _ in range(80))}]},
            usage={"input_tokens": 5000, "output_tokens": 200},
        )
        n += 2
        history = session.messages
        if compaction and n % 400 < 8 and len(history) > 60:
            # Keep the recent turns: cut just before a user prompt, never between a tool pair.
            cut = max(i for i in range(1, len(history) - 20) if isinstance(history[i]["content"], str))
            session.append_compaction(
                {"role": "user", "content": "Summary of the earlier conversation: " + " ".join(rng.choice(WORDS) for _ in range(300))},
                upto=cut,
                trigger="auto",
            )
        if os.path.getsize(session.path) >= target_bytes:
            break
    session.close()
    return session.id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the generated directory")
    parser.add_argument("--no-compaction", action="store_true",
                        help="worst case: no compaction records, every line is parsed on resume")
    args = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="claw-bench-session-", dir="/tmp")
    try:
        t0 = time.perf_counter()
        session_id = generate(directory, int(args.mb * 1024 * 1024), compaction=not args.no_compaction)
        gen = time.perf_counter() - t0
        store = SessionStore(directory)
        path = store.resolve(session_id)
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            records = sum(1 for _ in f)

        loads, cpu = [], []
        session = None
        for _ in range(args.runs):
            session = None  # free the previous load outside the timed region
            gc.collect()
            t, c = time.perf_counter(), time.process_time()
            session = store.open(session_id)
            loads.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        lists = []
        for _ in range(args.runs):
            t = time.perf_counter()
            store.list()
            lists.append(time.perf_counter() - t)

        append = {}
        for mode in ("never", "turn", "always"):
            s = SessionStore(directory, fsync=mode, redact=_redact_or_identity()).open(session_id)
            times = []
            for i in range(200):
                t = time.perf_counter()
                s.append_message({"role": "user", "content": f"bench append {i} " + "x" * 400})
                if mode == "turn" and i % 3 == 2:
                    s.sync()  # a turn ≈ 3 records
                times.append(time.perf_counter() - t)
            s.close()
            append[mode] = statistics.median(times)

        med = statistics.median(loads)
        print(f"session file: {size / 1e6:.1f} MB, {records} records, {len(session.messages)} messages after compaction "
              f"(generated in {gen:.1f} s)")
        print(f"resume (SessionStore.open): median {med * 1000:.0f} ms over {args.runs} runs "
              f"(min {min(loads) * 1000:.0f}, max {max(loads) * 1000:.0f}; CPU median {statistics.median(cpu) * 1000:.0f}); "
              f"target 500 ms -> ratio {med / 0.5:.2f}")
        print(f"list (one session): median {statistics.median(lists) * 1000:.1f} ms")
        print("append one message (median): " + ", ".join(f"fsync={m} {v * 1e6:.0f} us" for m, v in append.items()))
        if session.warnings:
            print("warnings:", session.warnings[:3])
    finally:
        if args.keep:
            print("kept", directory)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
