"""Benchmark the model API client: stream folding speed, and a whole-process comparison with the SDK.

Part 1 (in-process): a pre-recorded 2,000-event Anthropic stream (the SSE bytes the fake model server
sends) is fed through ``claw.proto.sse.SSEDecoder`` + ``json.loads`` + ``MessageAccumulator``:
  - per event: total decode+parse+fold time divided by the number of events, in microseconds, for
    16 KiB network-sized chunks and for one chunk per event;
  - last byte -> message: the time from handing over the final chunk to holding the complete
    ``ModelResponse`` (what a user waits for after the server is done).

Part 2 (whole process): the same stream served by tests/fakes/model_server.py on 127.0.0.1; a one-shot
streamed request made in a fresh process with claw's client (the source tree, with its bytecode cache;
``--pyz`` puts dist/claw.pyz on sys.path instead, which compiles from source on every start because
zipimport keeps no bytecode cache for a plain sys.path entry) against the same request made with the official ``anthropic`` SDK
(its interpreter from --sdk-python, $BENCH_SDK_PYTHON, or /tmp/bench-venv/bin/python; that half is
skipped with a note when absent). Wall time and peak RSS (``/usr/bin/time -f "%e %M"``, else
``resource`` on the child) are the medians of --runs runs, printed with the ratios claw/SDK
(targets: <= 0.2x wall, <= 0.3x RSS).

Usage: python bench/api_stream.py [--runs 7] [--events 2000] [--sdk-python PATH] [--pyz]
It prints numbers and ratios; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.model_server import ModelServer, anthropic_events, reply, sse_bytes  # noqa: E402

MODEL = "claude-sonnet-4-5"


def stream_spec(events: int) -> dict:
    """A reply whose Anthropic stream has ``events`` events (text deltas of 24 characters)."""
    fixed = 7  # message_start, ping, block start, block stop, message_delta, message_stop ... + 1 slack
    deltas = max(1, events - fixed + 1)
    text = "".join(f"word{i % 1000:03d} lorem ipsum dolor. "[:24] for i in range(deltas))
    return reply(text, text_chunk=24)


def part1(events: int) -> None:
    import claw.api.accumulator as accumulator_mod
    from claw.proto.sse import SSEDecoder

    spec = stream_spec(events)
    evts = anthropic_events(spec["reply"], MODEL, {"messages": []})
    wire = sse_bytes(evts)
    n = len(evts)
    per_event_chunks = [sse_bytes([e]) for e in evts]
    net_chunks = [wire[i:i + 16384] for i in range(0, len(wire), 16384)]
    loads = json.loads

    def fold(chunks):
        dec = SSEDecoder()
        acc = accumulator_mod.MessageAccumulator()
        for chunk in chunks:
            for sse in dec.feed(chunk):
                acc.feed(loads(sse.data))
        dec.close()
        return acc.finish()

    def best(chunks, repeat=30):
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fold(chunks)
            times.append(time.perf_counter() - t0)
        return min(times), statistics.median(times)

    fold(net_chunks)  # warm up
    b16, m16 = best(net_chunks)
    bev, mev = best(per_event_chunks)

    # last byte -> message: everything but the final chunk is already folded.
    lat = []
    for _ in range(200):
        dec = SSEDecoder()
        acc = accumulator_mod.MessageAccumulator()
        for chunk in per_event_chunks[:-1]:
            for sse in dec.feed(chunk):
                acc.feed(loads(sse.data))
        t0 = time.perf_counter()
        for sse in dec.feed(per_event_chunks[-1]):
            acc.feed(loads(sse.data))
        dec.close()
        acc.finish()
        lat.append(time.perf_counter() - t0)
    lat.sort()

    print(f"part 1: {n} events, {len(wire):,} bytes of SSE")
    print(f"  decode+parse+fold, 16 KiB chunks : {b16 / n * 1e6:6.2f} us/event (median {m16 / n * 1e6:.2f}), "
          f"{len(wire) / b16 / 1e6:.0f} MB/s")
    print(f"  decode+parse+fold, 1 chunk/event : {bev / n * 1e6:6.2f} us/event (median {mev / n * 1e6:.2f})")
    print(f"  last byte -> accumulated message : {statistics.median(lat) * 1e6:6.1f} us (median of 200; "
          f"p90 {lat[int(len(lat) * 0.9)] * 1e6:.1f} us)")


CLAW_SCRIPT = r"""
import asyncio, os, sys
sys.path.insert(0, sys.argv[1])
from claw.api.client import create_provider
from claw.api.types import ModelRequest
async def main():
    p = create_provider(sys.argv[2])
    try:
        r = await p.complete(ModelRequest(model=sys.argv[2], max_tokens=1024,
                                          messages=[{"role": "user", "content": "Say hello"}]))
    finally:
        await p.aclose()
    print(len(r.text))
asyncio.run(main())
"""

SDK_SCRIPT = r"""
import sys
import anthropic
client = anthropic.Anthropic()
with client.messages.stream(model=sys.argv[1], max_tokens=1024,
                            messages=[{"role": "user", "content": "Say hello"}]) as s:
    msg = s.get_final_message()
print(len(msg.content[0].text))
"""


def measure(cmd, env, runs):
    """Median wall seconds and median peak RSS (KiB) of ``cmd`` over ``runs`` runs."""
    timer = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None
    walls, rss, out = [], [], ""
    for _ in range(runs):
        full = [timer, "-f", "%e %M", *cmd] if timer else cmd
        t0 = time.perf_counter()
        proc = subprocess.run(full, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        out = proc.stdout.strip()
        if timer:
            line = proc.stderr.strip().splitlines()[-1]
            rss.append(int(line.split()[1]))
        else:  # pragma: no cover - resource fallback (max over children so far)
            import resource

            rss.append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        walls.append(wall)
    return statistics.median(walls), statistics.median(rss), out


def claw_path(use_pyz: bool) -> tuple:
    pyz = ROOT / "dist" / "claw.pyz"
    if use_pyz and pyz.exists():
        try:
            with zipfile.ZipFile(pyz) as z:
                if "claw/api/provider.py" in z.namelist():
                    return str(pyz), "dist/claw.pyz"
        except zipfile.BadZipFile:
            pass
    return str(ROOT), "source tree"


def part2(events: int, runs: int, sdk_python: str, use_pyz: bool) -> None:
    spec = stream_spec(events)
    with ModelServer({"responses": [], "default": spec}) as srv:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_PROXY") and not k.endswith("_proxy")}
        env.update(ANTHROPIC_BASE_URL=srv.url, ANTHROPIC_API_KEY="bench-key", NO_PROXY="*",
                   CLAW_MAX_RETRIES="0")
        env.pop("ANTHROPIC_AUTH_TOKEN", None)
        path, where = claw_path(use_pyz)
        with tempfile.TemporaryDirectory() as tmp:
            claw_script = Path(tmp, "claw_one_shot.py")
            claw_script.write_text(CLAW_SCRIPT)
            sdk_script = Path(tmp, "sdk_one_shot.py")
            sdk_script.write_text(SDK_SCRIPT)
            claw_python = sys.executable
            # warm the page cache for both
            subprocess.run([claw_python, str(claw_script), path, MODEL], env=env, capture_output=True)
            c_wall, c_rss, c_out = measure([claw_python, str(claw_script), path, MODEL], env, runs)
            print(f"part 2: one streamed request of {events} events, {runs} runs each (medians)")
            print(f"  claw ({where}, {Path(claw_python).name} {sys.version.split()[0]}): "
                  f"{c_wall * 1000:7.1f} ms wall, {c_rss / 1024:6.1f} MiB peak RSS (text {c_out} chars)")
            if not sdk_python or not os.path.exists(sdk_python):
                print(f"  anthropic SDK: skipped - no SDK interpreter at {sdk_python or '(none)'}; create one with "
                      "`python3 -m venv /tmp/bench-venv && /tmp/bench-venv/bin/pip install anthropic` "
                      "or pass --sdk-python")
                return
            check = subprocess.run([sdk_python, "-c", "import anthropic, sys; print(anthropic.__version__, "
                                    "sys.version.split()[0])"], capture_output=True, text=True)
            if check.returncode != 0:
                print(f"  anthropic SDK: skipped - `import anthropic` fails with {sdk_python}")
                return
            version, pyver = check.stdout.split()
            subprocess.run([sdk_python, str(sdk_script), MODEL], env=env, capture_output=True)
            s_wall, s_rss, s_out = measure([sdk_python, str(sdk_script), MODEL], env, runs)
            print(f"  anthropic SDK {version} (python {pyver}): {s_wall * 1000:7.1f} ms wall, "
                  f"{s_rss / 1024:6.1f} MiB peak RSS (text {s_out} chars)")
            print(f"  ratio claw/SDK: wall {c_wall / s_wall:.2f}x (target <= 0.20x), "
                  f"peak RSS {c_rss / s_rss:.2f}x (target <= 0.30x)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sdk-python", default=os.environ.get("BENCH_SDK_PYTHON", "/tmp/bench-venv/bin/python"))
    parser.add_argument("--pyz", action="store_true", help="put dist/claw.pyz on sys.path instead of the source tree")
    parser.add_argument("--skip-process", action="store_true", help="only part 1")
    args = parser.parse_args(argv)
    part1(args.events)
    if not args.skip_process:
        part2(args.events, args.runs, args.sdk_python, args.pyz)
    return 0


if __name__ == "__main__":
    sys.exit(main())
