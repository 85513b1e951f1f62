"""Benchmark: SSE framing throughput of claw.proto.sse against a naive splitter and the anthropic SDK.

Builds a synthetic Anthropic Messages stream (message_start, content_block_start, many
content_block_delta text_delta events with realistic short texts and occasional non-ASCII, pings,
content_block_stop, message_delta, message_stop; repeated until the target size), cuts it into 16 KiB
chunks and measures, as the median of several repetitions:

  (a) claw's SSEDecoder framing only (bytes in, SSEEvent objects out);
  (b) claw framing plus json.loads of every event's data;
  (c) a naive line splitter written here (the baseline a hand-rolled client would use);
  (d) the official ``anthropic`` SDK's SSEDecoder (anthropic/_streaming.py) fed the same chunks,
      when the package is importable (it is a bench-only dependency: bench/requirements.txt).

It prints MB/s for each and the ratios claw/naive and claw/SDK. Targets: (a) >= 150 MB/s and >= 2x (d).
It also checks that every decoder produced the same number of events, so a fast wrong decoder cannot
win. Timing uses CPU time of this process (time.process_time), which is less disturbed by other load
on the machine than wall time; pass --wall to use wall time instead.

Usage: python bench/sse_throughput.py [--mb 50] [--reps 5] [--chunk 16384] [--wall]
Not a test: it asserts nothing about speed and never fails on a slow machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from claw.proto.sse import SSEDecoder  # noqa: E402

WORDS = (
    "the of and to in a is that for it as was with be by on not this are or from at which but have an "
    "they you were function return value error file test line code import class def self data stream "
    "request response model token proxy certificate"
).split()


def _event(name: str, obj: dict) -> bytes:
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return f"event: {name}\ndata: {body}\n\n".encode("utf-8")


def make_stream(target_bytes: int, seed: int = 1) -> bytes:
    """A byte string of back-to-back Anthropic Messages streams, at least ``target_bytes`` long."""
    rnd = random.Random(seed)
    parts: list[bytes] = []
    size = 0
    while size < target_bytes:
        msg = [
            _event(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
                        "type": "message",
                        "role": "assistant",
                        "content": [],
                        "model": "claude-sonnet-4-5",
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": 25, "output_tokens": 1},
                    },
                },
            ),
            _event(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            ),
            _event("ping", {"type": "ping"}),
        ]
        for _ in range(rnd.randint(50, 400)):
            text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 8)))
            if rnd.random() < 0.05:
                text += "\n\n"
            if rnd.random() < 0.02:
                text += " \u2014 na\u00efve caf\u00e9 \u2713"
            msg.append(
                _event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": text},
                    },
                )
            )
            if rnd.random() < 0.01:
                msg.append(_event("ping", {"type": "ping"}))
        msg += [
            _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
            _event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": 15},
                },
            ),
            _event("message_stop", {"type": "message_stop"}),
        ]
        block = b"".join(msg)
        parts.append(block)
        size += len(block)
    return b"".join(parts)


def run_claw(chunks: list[bytes]) -> int:
    decoder = SSEDecoder()
    count = 0
    for chunk in chunks:
        count += len(decoder.feed(chunk))
    decoder.close()
    return count


def run_claw_json(chunks: list[bytes]) -> int:
    decoder = SSEDecoder()
    loads = json.loads
    count = 0
    for chunk in chunks:
        for event in decoder.feed(chunk):
            loads(event.data)
            count += 1
    decoder.close()
    return count


def run_naive(chunks: list[bytes]) -> int:
    """What a hand-rolled client does: append to a buffer, split it on newlines, decode and parse each
    line. ("\n" line ends only, no limits, no BOM; a split-based loop, not a quadratic one.)"""
    buf = b""
    event = "message"
    data: list[str] = []
    count = 0
    for chunk in chunks:
        buf += chunk
        lines = buf.split(b"\n")
        buf = lines.pop()
        for raw in lines:
            line = raw.decode("utf-8")
            if not line:
                if data:
                    _ = (event, "\n".join(data))
                    count += 1
                event, data = "message", []
            elif line.startswith("data:"):
                data.append(line[6:] if line.startswith("data: ") else line[5:])
            elif line.startswith("event:"):
                event = line[7:] if line.startswith("event: ") else line[6:]
    return count


def sdk_runner():
    try:
        from anthropic._streaming import SSEDecoder as SDKDecoder  # type: ignore
    except Exception as exc:  # noqa: BLE001 - any import failure means "not available"
        return None, f"{type(exc).__name__}: {exc}"

    def run_sdk(chunks: list[bytes]) -> int:
        decoder = SDKDecoder()
        count = 0
        for _event in decoder.iter_bytes(iter(chunks)):
            count += 1
        return count

    import anthropic  # type: ignore

    return run_sdk, getattr(anthropic, "__version__", "?")


def measure(fn, chunks: list[bytes], reps: int, clock) -> tuple[float, float, int]:
    times = []
    count = 0
    for _ in range(reps):
        start = clock()
        count = fn(chunks)
        times.append(clock() - start)
    return statistics.median(times), min(times), count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="stream size in MB (default 50)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per decoder (median taken)")
    parser.add_argument("--chunk", type=int, default=16384, help="chunk size in bytes (default 16 KiB)")
    parser.add_argument("--wall", action="store_true", help="time with wall clock, not CPU time")
    args = parser.parse_args(argv)
    clock = time.perf_counter if args.wall else time.process_time

    stream = make_stream(int(args.mb * 1_000_000))
    chunks = [stream[i : i + args.chunk] for i in range(0, len(stream), args.chunk)]
    total_mb = len(stream) / 1e6
    n_events = stream.count(b"\n\n")
    print(
        f"python {sys.version.split()[0]}; stream {total_mb:.1f} MB, {len(chunks)} chunks of "
        f"{args.chunk} B, {n_events} events; {args.reps} reps, "
        f"{'wall' if args.wall else 'cpu'} time, median (best)"
    )

    results: dict[str, float] = {}
    counts: dict[str, int] = {}
    runners = [
        ("a", "claw SSEDecoder framing", run_claw),
        ("b", "claw framing + json.loads", run_claw_json),
        ("c", "naive line splitter", run_naive),
    ]
    sdk, sdk_info = sdk_runner()
    if sdk is not None:
        runners.append(("d", f"anthropic {sdk_info} SDK SSEDecoder", sdk))
    for key, label, fn in runners:
        median, best, count = measure(fn, chunks, args.reps, clock)
        results[key] = total_mb / median
        counts[key] = count
        print(f"  ({key}) {label:<38} {results[key]:8.1f} MB/s  ({total_mb / best:.1f})  {count} events")
    if sdk is None:
        print(f"  (d) anthropic SDK: skipped, not importable ({sdk_info}); see bench/requirements.txt")

    if len(set(counts.values())) != 1:
        print(f"WARNING: decoders disagree on the event count: {counts}")
    print(f"ratio claw/naive: {results['a'] / results['c']:.2f}x")
    if "d" in results:
        print(f"ratio claw/SDK:   {results['a'] / results['d']:.2f}x  (target >= 2x)")
    print(f"claw framing target >= 150 MB/s: {'met' if results['a'] >= 150 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
