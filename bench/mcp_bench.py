#!/usr/bin/env python3
"""MCP costs: session start-up with three stdio servers, and the tools/call round trip.

1. Start-up. ``claw -p`` against the scripted fake model server (tests.fakes.model_server), measured
   from process start to the arrival of the first model request, with no MCP server and with three
   real stdio servers configured (mcp-server-time, mcp-server-git, and the tests' FastMCP server).
   The servers' own cost is measured without claw: each one alone (spawn to initialize answer), and
   all three started at once by a minimal client (spawn, initialize, initialized, tools/list — the
   handshake claw does), since on a small machine three Python servers starting together compete
   for the CPU. Target: claw's extra time <= the slowest server's own initialize time + 50 ms; the
   report shows it against both baselines, and claw's own overhead (its delta minus the bare
   concurrent handshake).
2. Round trip. ``tools/call`` of the same tool on the same server (mcp-server-time's
   ``get_current_time``, and the FastMCP test server's ``echo``) through claw's client and through
   the ``mcp`` package's ``ClientSession``: median per call over ``--calls`` sequential calls after a
   warm-up. Target: claw <= 1.2x the mcp client.

Runs are interleaved so machine load hits the variants alike; medians are printed. Run it with the
test virtualenv (it needs the mcp package and the servers):

    .venv-test/bin/python bench/mcp_bench.py [--runs 5] [--calls 200]

It prints results; it asserts nothing and writes only temporary files.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.model_server import ModelServer, reply  # noqa: E402

PY = sys.executable


def light_servers() -> dict:
    """Three instances of the tests' hand-written stdio server: plain Python, no SDK to import, so
    they barely compete for the CPU and claw's own overhead shows."""
    raw = ["-m", "tests.mcp.servers.raw_stdio_server"]
    return {name: {"command": PY, "args": raw, "cwd": str(ROOT)} for name in ("light1", "light2", "light3")}


def servers_config(repo: str) -> dict:
    return {
        "time": {"command": PY, "args": ["-m", "mcp_server_time"]},
        "git": {"command": PY, "args": ["-m", "mcp_server_git", "--repository", repo]},
        "fast": {"command": PY, "args": ["-m", "tests.mcp.servers.fastmcp_server", "stdio"], "cwd": str(ROOT)},
    }


def make_repo(directory: str) -> str:
    repo = os.path.join(directory, "repo")
    env = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@e", GIT_COMMITTER_NAME="b",
               GIT_COMMITTER_EMAIL="b@e")
    subprocess.run(["git", "init", "-q", repo], check=True, env=env)
    Path(repo, "f").write_text("x\n")
    subprocess.run(["git", "-C", repo, "add", "f"], check=True, env=env)
    subprocess.run(["git", "-C", repo, "commit", "-q", "-m", "c"], check=True, env=env)
    return repo


# -- 1. start-up --------------------------------------------------------------------------------


def first_request_time(work: str, home: str, mcp_config: str | None) -> float:
    """Seconds from spawning ``claw -p`` to the first model request reaching the fake server."""
    with ModelServer({"responses": [], "default": reply(text="ok")}) as srv:
        env = dict(os.environ, **srv.env(), CLAW_CONFIG_HOME=home, HOME=os.path.dirname(home),
                   PYTHONPATH=str(ROOT))
        args = [PY, "-m", "claw", "-p", "hi", "--output-format", "json", "--strict-mcp-config"]
        if mcp_config:
            args += ["--mcp-config", mcp_config]
        started = time.time()
        done = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or not srv.requests:
            raise RuntimeError(f"claw failed: {done.stderr[-2000:]}")
        return srv.requests[0].time - started


async def bare_handshake(servers: dict, names: list) -> float:
    """Spawn ``names`` at once, run initialize/initialized/tools/list on each; seconds until every
    tools/list answer is in (the servers' own cost, with no client overhead to speak of)."""
    started = time.monotonic()
    procs = []

    async def one(name: str) -> None:
        entry = servers[name]
        proc = await asyncio.create_subprocess_exec(
            entry["command"], *entry["args"], cwd=entry.get("cwd"), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            env=dict(os.environ, PYTHONPATH=str(ROOT)))
        procs.append(proc)
        assert proc.stdin and proc.stdout
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"}}}).encode() + b"\n")
        await proc.stdin.drain()
        await proc.stdout.readline()
        proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
                         b'{"jsonrpc":"2.0","id":2,"method":"tools/list"}\n')
        await proc.stdin.drain()
        await proc.stdout.readline()

    await asyncio.gather(*(one(name) for name in names))
    elapsed = time.monotonic() - started
    for proc in procs:
        proc.stdin.close()
    for proc in procs:
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
    return elapsed


async def bare_initialize(entry: dict) -> float:
    """One server alone: spawn to its initialize answer."""
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        entry["command"], *entry["args"], cwd=entry.get("cwd"), stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.stdin and proc.stdout
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}}
                                ).encode() + b"\n")
    await proc.stdin.drain()
    await proc.stdout.readline()
    elapsed = time.monotonic() - started
    proc.stdin.close()
    await proc.wait()
    return elapsed


def startup(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.join(tmp, "work")
        os.mkdir(work)
        home = os.path.join(tmp, "home")
        scenarios = [("3 real servers (time, git, FastMCP)", servers_config(make_repo(tmp))),
                     ("3 light servers (hand-written, no SDK)", light_servers())]
        first_request_time(work, home, None)  # warm-up (bytecode caches)
        for label, servers in scenarios:
            config = json.dumps({"mcpServers": servers})
            asyncio.run(bare_handshake(servers, list(servers)))
            rows = {"claw, no servers": [], "claw, with the servers": [], "bare handshake, all at once": []}
            alone = {name: [] for name in servers}
            for _ in range(runs):
                rows["claw, no servers"].append(first_request_time(work, home, None))
                rows["claw, with the servers"].append(first_request_time(work, home, config))
                rows["bare handshake, all at once"].append(asyncio.run(bare_handshake(servers, list(servers))))
                for name, entry in servers.items():
                    alone[name].append(asyncio.run(bare_initialize(entry)))
            med = {k: statistics.median(v) for k, v in rows.items()}
            alone_med = {k: statistics.median(v) for k, v in alone.items()}
            print(f"1. start-up with {label}: time to the first model request (median of {runs})")
            for key, value in med.items():
                print(f"   {key:<34} {value * 1000:8.0f} ms")
            for name, value in alone_med.items():
                print(f"   server {name + ' alone (initialize)':<27} {value * 1000:8.0f} ms")
            delta = med["claw, with the servers"] - med["claw, no servers"]
            slowest = max(alone_med.values())
            bare = med["bare handshake, all at once"]
            print(f"   claw's extra time                  {delta * 1000:8.0f} ms")
            print(f"   target: <= slowest alone + 50 ms   {(slowest + 0.05) * 1000:8.0f} ms  "
                  f"({'met' if delta <= slowest + 0.05 else 'NOT met'})")
            print(f"   <= bare concurrent handshake + 50  {(bare + 0.05) * 1000:8.0f} ms  "
                  f"({'met' if delta <= bare + 0.05 else 'NOT met'}); claw's own overhead "
                  f"{(delta - bare) * 1000:+.0f} ms")


# -- 2. round trip --------------------------------------------------------------------------------


async def claw_calls(entry: dict, tool: str, arguments: dict, calls: int) -> list:
    from claw.mcp.client import McpServer
    from claw.mcp.config import ServerEntry
    from claw.config.models import StdioServerConfig

    config = StdioServerConfig("bench", entry["command"], tuple(entry["args"]), {}, entry.get("cwd"))
    server = McpServer(ServerEntry("bench", "bench", "bench", config, entry),
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    await server.connect()
    if server.status != "connected":
        raise RuntimeError(server.error)
    try:
        for _ in range(20):
            await server.call_tool(tool, arguments)
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            await server.call_tool(tool, arguments)
            times.append(time.perf_counter() - started)
        return times
    finally:
        await server.aclose()


async def mcp_calls(entry: dict, tool: str, arguments: dict, calls: int) -> list:
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=entry["command"], args=entry["args"], cwd=entry.get("cwd"),
                                   env={"PYTHONPATH": str(ROOT)})
    with open(os.devnull, "w") as devnull:
        async with stdio_client(params, errlog=devnull) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                for _ in range(20):
                    await session.call_tool(tool, arguments)
                times = []
                for _ in range(calls):
                    started = time.perf_counter()
                    await session.call_tool(tool, arguments)
                    times.append(time.perf_counter() - started)
                return times


def round_trip(calls: int, runs: int) -> None:
    cases = [
        ("mcp-server-time get_current_time", {"command": PY, "args": ["-m", "mcp_server_time"]},
         "get_current_time", {"timezone": "UTC"}),
        ("FastMCP test server echo", {"command": PY, "args": ["-m", "tests.mcp.servers.fastmcp_server", "stdio"],
                                      "cwd": str(ROOT)}, "echo", {"text": "x" * 100}),
    ]
    print(f"2. tools/call round trip (median per call, {calls} calls x {runs} runs, interleaved)")
    for label, entry, tool, arguments in cases:
        ours, theirs = [], []
        for _ in range(runs):
            ours += asyncio.run(claw_calls(entry, tool, arguments, calls))
            theirs += asyncio.run(mcp_calls(entry, tool, arguments, calls))
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"   {label}: claw {a * 1e6:7.0f} us, mcp client {b * 1e6:7.0f} us, ratio {a / b:.2f}x "
              f"(target <= 1.2x: {'met' if a / b <= 1.2 else 'NOT met'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--only", choices=("startup", "roundtrip"))
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}")
    if args.only != "roundtrip":
        startup(args.runs)
    if args.only != "startup":
        round_trip(args.calls, max(1, args.runs // 2))


if __name__ == "__main__":
    main()
