#!/usr/bin/env python3
"""The upstream-proxy relay on loopback: throughput against a direct connection, and the latency a tunnel
open adds.

Four processes, as in a remote session: the target (an HTTP server that sends N bytes for ``GET /N`` and
reads a POST body), the fake session upstream (``tests.fakes.relay_server upstream``: the WebSocket side
of the tunnel, pointing at the target), claw's relay (``claw.remote.relay.UpstreamRelay`` on its own
event loop, as claw runs it) and the client — curl when installed (``curl -p -x``: a CONNECT tunnel even
for http://), else a Python socket client.

1. Throughput: a ``--size-mb`` download (default 100 MB) and an upload of the same size, directly to
   the target and through the relay, interleaved, ``--repeat`` times each (default 3: the best counts,
   which filters out other load on the machine); MB/s and the ratio relay/direct (target >= 0.5x).
   For each relayed transfer it also reads, from /proc (Linux), the CPU time the relay process and the
   session-side process spent on it, per MB: the relay's figure is claw's own cost, much less disturbed
   by other load than throughput is, and ``1 / (relay ms per MB)`` is what one tunnel could reach if
   the relay had a core to itself (the lowest of the repeats is printed). The time comes from
   ``/proc/PID/task/*/schedstat`` (nanoseconds) where the kernel has it, else from ``/proc/PID/stat``
   (user + system, in 10 ms ticks: 0.1 ms/MB steps at 100 MB).
2. Tunnel open: ``--opens`` sequential opens (default 200). Through the relay: TCP connect to the relay,
   ``CONNECT``, wait for the upstream's ``200`` (which includes the relay's WebSocket handshake and the
   upstream's TCP connect to the target). Direct: a TCP connect to the target. The added latency is the
   difference of the medians (target <= 10 ms).

Both measurements run against two session sides: a lean asyncio upstream written here (what is measured
is then mostly claw's relay) and the ``websockets`` test fake. In a real session the session side runs
on another machine; here it shares the CPUs with claw's relay, so its cost lowers the ratio too. The lean
one therefore does as little as a WebSocket server can (since 2026-11-22: receive buffers shared by its
connections, each piece of a frame unmasked as it arrives and passed on without reassembling the frame,
each read of the target sent as one frame written around the data in place — one send per chunk instead
of two, no copy); the transfers measured are the same 100 MB through claw's relay, and the direct
transfers do not involve it.

3. ``--ceiling`` (off by default) also runs both transfers through two chained trivial TCP forwarders
   (Python asyncio protocols, no framing, no WebSocket: four processes on the same CPUs, two of which
   only pass bytes on). A reference for what the relayed path can reach on the machine, not a strict
   bound: each forwarder costs about what the relay costs on a download.

Usage: python3 bench/relay_bench.py [--size-mb 100] [--opens 200] [--repeat 3] [--upstream lean|websockets|both]
                                    [--python-client] [--ceiling]
Run from the repository root with the test virtualenv (it needs ``websockets`` for the fake upstream):
  .venv-test/bin/python bench/relay_bench.py
It prints results; it asserts nothing and leaves no files behind.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
TARGET_THROUGHPUT = 0.5
TARGET_ADDED_MS = 10.0
SESSION, TOKEN = "bench-session", "bench-token"

RELAY_SCRIPT = r"""
import asyncio, json, sys
from claw.net.config import NetConfig
from claw.remote.endpoints import upstream_proxy_ws_url
from claw.remote.relay import RelaySettings, UpstreamRelay

async def main():
    relay = UpstreamRelay(RelaySettings(upstream_proxy_ws_url(sys.argv[1]), sys.argv[2], sys.argv[3],
                                        NetConfig.from_env({})))
    await relay.start()
    print(json.dumps({"port": relay.port}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await relay.aclose()

asyncio.run(main())
"""


LEAN_UPSTREAM = r"""
# A lean upstream for the benchmark: the same protocol as tests/fakes/relay_server.py (WebSocket handshake
# with the bearer token, UpstreamProxyChunk messages, CONNECT chunk first, 200 answer, bytes both ways) on
# bare asyncio buffered protocols, so that what is measured is claw's relay rather than a Python
# WebSocket server. A real session side runs on another machine; this one shares the CPUs with the relay,
# so it does as little as it can: it reads into buffers it shares, unmasks each piece of a frame as it
# arrives with websockets' C helper and passes it on (no reassembly of frames), and sends each read of the
# target as one frame written around the data in place (one send, no copy). Not a general WebSocket
# server: no fragmented messages, no extensions.
import asyncio, base64, hashlib, json, struct, sys
from websockets.speedups import apply_mask

TOKEN, SESSION = sys.argv[1], sys.argv[2]
HOSTS = dict((k, (v.rsplit(":", 1)[0], int(v.rsplit(":", 1)[1]))) for k, v in
             (item.split("=", 1) for item in sys.argv[3:]))
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX = 512 * 1024
ROOM = 16  # before the data read from the target: a frame header (<= 10) and a chunk prefix (<= 4)
# One receive buffer for all connections of each kind (a buffer per connection would cost every tunnel
# open a fresh, zeroed 1.5 MiB): what is read is used up before buffer_updated returns — unmasked into
# new bytes, or sent. Python 3.12+ transports keep a view of what they could not send yet instead of a
# copy: the target buffer is then replaced, not reused.
TARGET_VIEW = [memoryview(bytearray(ROOM + MAX))]
UPSTREAM_VIEW = memoryview(bytearray(1 << 20))
KEEPS_VIEWS = sys.version_info >= (3, 12)

def pb_prefix(n):
    out = bytearray(b"\x0a")
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80); n >>= 7
    out.append(n)
    return bytes(out)

def frame_header(opcode, size):
    if size < 126: return bytes((0x80 | opcode, size))
    if size < 65536: return struct.pack("!BBH", 0x80 | opcode, 126, size)
    return struct.pack("!BBQ", 0x80 | opcode, 127, size)

def message(data):
    head = pb_prefix(len(data))
    return frame_header(2, len(head) + len(data)) + head + data

class Target(asyncio.BufferedProtocol):
    def __init__(self, up):
        self.up = up
    def connection_made(self, transport):
        self.transport = transport
    def get_buffer(self, sizehint):
        return TARGET_VIEW[0][ROOM:]
    def buffer_updated(self, n):
        # the frame is written around the data: one send
        view, up = TARGET_VIEW[0], self.up.transport
        head = pb_prefix(n)
        head = frame_header(2, len(head) + n) + head
        start = ROOM - len(head)
        view[start:ROOM] = head
        up.write(view[start:ROOM + n])
        if KEEPS_VIEWS and up.get_write_buffer_size():
            TARGET_VIEW[0] = memoryview(bytearray(ROOM + MAX))
    def connection_lost(self, exc):
        if not self.up.transport.is_closing():
            self.up.transport.write(frame_header(8, 2) + struct.pack("!H", 1000))
            self.up.transport.close()
    def pause_writing(self): self.up.transport.pause_reading()
    def resume_writing(self): self.up.transport.resume_reading()

class Upstream(asyncio.BufferedProtocol):
    def connection_made(self, transport):
        self.transport, self.target, self.early = transport, None, []
        self.view = UPSTREAM_VIEW
        self.handshake = b""  # the request head, until the WebSocket is open
        self.open = False
        self.head = b""  # a frame header cut by a read
        self.left = 0  # payload bytes of the current frame still to come
        self.key, self.phase, self.opcode = b"", 0, 0
        self.prefix = None  # the start of a message's chunk prefix (tag, varint) while it is read
        self.control = b""  # the payload of a control frame
    def pause_writing(self):
        if self.target: self.target.transport.pause_reading()
    def resume_writing(self):
        if self.target: self.target.transport.resume_reading()
    def get_buffer(self, sizehint):
        return self.view
    def buffer_updated(self, n):
        data = self.view[:n]
        if not self.open:
            self.handshake += bytes(data)
            end = self.handshake.find(b"\r\n\r\n")
            if end < 0: return
            head, data = self.handshake[:end].decode("latin-1"), memoryview(self.handshake[end + 4:])
            headers = dict((k.strip().lower(), v.strip()) for k, _, v in
                           (line.partition(":") for line in head.split("\r\n")[1:]))
            if headers.get("authorization") != "Bearer " + TOKEN:
                self.transport.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
                self.transport.close(); return
            accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest())
            self.transport.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            self.open = True
        self.frames(data)
    def frames(self, data):
        pos, size = 0, len(data)
        while pos < size:
            if not self.left and self.key == b"":
                h = self.head + bytes(data[pos:pos + 14])
                if len(h) < 2: self.head = h; return
                length, hlen = h[1] & 0x7F, 2
                if length == 126: length, hlen = int.from_bytes(h[2:4], "big"), 4
                elif length == 127: length, hlen = int.from_bytes(h[2:10], "big"), 10
                if len(h) < hlen + 4: self.head = h; return
                self.key, self.phase, self.opcode = h[hlen:hlen + 4], 0, h[0] & 0x0F
                pos += hlen + 4 - len(self.head)
                self.head, self.left = b"", length
                if self.opcode == 2: self.prefix = b""
                if not length: self.frame_done(); continue
            take = min(self.left, size - pos)
            k = self.phase
            piece = apply_mask(data[pos:pos + take], self.key[k:] + self.key[:k])
            pos += take
            self.left -= take
            self.phase = (k + take) & 3
            if self.opcode == 2: self.payload(piece)
            else: self.control += piece
            if not self.left: self.frame_done()
    def payload(self, piece):
        if self.prefix is not None:  # strip the chunk's tag and varint length
            p = self.prefix + piece[:6]
            end = 1
            while end < len(p) and p[end] & 0x80: end += 1
            if end >= len(p): self.prefix = p; return
            piece = piece[end + 1 - len(self.prefix):]
            self.prefix = None
        if piece: self.chunk(piece)
    def frame_done(self):
        opcode, payload = self.opcode, self.control
        self.key, self.control, self.prefix = b"", b"", None
        if opcode == 9: self.transport.write(frame_header(10, len(payload)) + payload)
        elif opcode == 8:
            if not self.transport.is_closing():
                self.transport.write(frame_header(8, 2) + struct.pack("!H", 1000)); self.transport.close()
            if self.target: self.target.transport.close()
    def chunk(self, data):
        if self.target is None and not self.early:
            line = bytes(data).split(b"\r\n", 1)[0].decode().split(" ")
            self.early.append(None)
            asyncio.ensure_future(self.connect(line[1]))
            return
        if self.target is None: self.early.append(data)
        else: self.target.transport.write(data)
    async def connect(self, authority):
        host, port = HOSTS.get(authority, (authority.rsplit(":", 1)[0], int(authority.rsplit(":", 1)[1])))
        loop = asyncio.get_running_loop()
        _, self.target = await loop.create_connection(lambda: Target(self), host, port)
        self.transport.write(message(b"HTTP/1.1 200 Connection Established\r\n\r\n"))
        for data in self.early[1:]: self.target.transport.write(data)
        self.early = [None]
    def connection_lost(self, exc):
        if self.target: self.target.transport.close()

async def main():
    bytearray(4 << 20)  # as claw's relay does: keep glibc from trimming the heap under every chunk
    server = await asyncio.get_running_loop().create_server(Upstream, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"base_url": "http://127.0.0.1:%d" % port}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


FORWARDER = r"""
# A trivial TCP forwarder for --ceiling: 127.0.0.1:<ephemeral> -> 127.0.0.1:<argv[1]>, bytes as they
# come, flow control and half-close passed on; nothing else.
import asyncio, json, sys

class Side(asyncio.Protocol):
    def __init__(self, peer=None):
        self.peer, self.transport, self.early, self.eof = peer, None, [], False
    def connection_made(self, transport):
        self.transport = transport
    def data_received(self, data):
        if self.peer.transport is None: self.early.append(data)
        else: self.peer.transport.write(data)
    def eof_received(self):
        if self.peer.transport is None: self.eof = True
        else: self.peer.transport.write_eof()
        return True
    def connection_lost(self, exc):
        if self.peer.transport is not None: self.peer.transport.close()
    def pause_writing(self): self.peer.transport.pause_reading()
    def resume_writing(self): self.peer.transport.resume_reading()

class Front(Side):
    def connection_made(self, transport):
        self.transport = transport
        self.peer = Side(self)
        transport.pause_reading()
        asyncio.ensure_future(self.connect())
    async def connect(self):
        await asyncio.get_running_loop().create_connection(lambda: self.peer, "127.0.0.1", int(sys.argv[1]))
        for data in self.early: self.peer.transport.write(data)
        if self.eof: self.peer.transport.write_eof()
        self.transport.resume_reading()

async def main():
    bytearray(4 << 20)  # as claw's relay does
    server = await asyncio.get_running_loop().create_server(Front, "127.0.0.1", 0)
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


def _spawn(args: List[str]) -> Tuple[subprocess.Popen, dict]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(name, None)
    proc = subprocess.Popen([sys.executable] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            cwd=str(ROOT), env=env)
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"could not start {' '.join(args[:3])}")
    return proc, json.loads(line)


def _cpu_seconds(pid: int) -> Optional[float]:
    """CPU seconds a process has used so far: the sum of its threads' /proc schedstat (nanoseconds),
    else user + system from /proc/PID/stat (clock ticks); None where there is no /proc."""
    total, found = 0, False
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/schedstat") as fh:
                    total += int(fh.read().split()[0])
                found = True
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        pass
    if found:
        return total / 1e9
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _stop(proc: subprocess.Popen) -> None:
    try:
        proc.stdin.close()
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- clients --------------------------------------------------------------------------------------------


def _curl(curl: str, args: List[str]) -> float:
    started = time.perf_counter()
    out = subprocess.run([curl, "-sS", "--fail"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=600)
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"curl failed: {out.stderr.decode(errors='replace').strip()}")
    return elapsed


def _tunnel(relay_port: int, authority: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", relay_port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(4096)
        if not data:
            raise SystemExit("the relay closed the tunnel")
        head += data
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"the tunnel was refused: {head[:60]!r}")
    return sock


def _py_transfer(sock: socket.socket, authority: str, size: int, upload: bool) -> None:
    if upload:
        sock.sendall(f"POST / HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {size}\r\n\r\n".encode())
        block = bytes(1 << 20)
        left = size
        while left:
            n = min(left, len(block))
            sock.sendall(block[:n] if n < len(block) else block)
            left -= n
        answer = sock.recv(4096)
        if not answer.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"upload failed: {answer[:60]!r}")
        return
    sock.sendall(f"GET /{size} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    got = -1
    head = b""
    while got < 0:
        n = sock.recv_into(view)
        head += bytes(view[:n])
        end = head.find(b"\r\n\r\n")
        if end >= 0:
            got = len(head) - end - 4
    while got < size:
        n = sock.recv_into(view)
        if not n:
            raise SystemExit(f"download ended early at {got} of {size} bytes")
        got += n


def transfer(kind: str, size: int, source_port: int, relay_port: Optional[int], curl: Optional[str],
             tmpdir: str) -> float:
    """Seconds for one download/upload of ``size`` bytes, direct (relay_port None) or through the relay."""
    authority = f"target.bench:{source_port}"
    if curl is not None:
        via = ["-p", "-x", f"http://127.0.0.1:{relay_port}"] if relay_port else []
        host = authority if relay_port else f"127.0.0.1:{source_port}"
        if kind == "download":
            return _curl(curl, via + ["-o", os.devnull, f"http://{host}/{size}"])
        path = os.path.join(tmpdir, "upload.bin")
        if not os.path.exists(path) or os.path.getsize(path) != size:
            with open(path, "wb") as fh:
                fh.truncate(size)
        return _curl(curl, via + ["-o", os.devnull, "-H", "Expect:", "--data-binary", f"@{path}",
                                  f"http://{host}/"])
    started = time.perf_counter()
    if relay_port:
        sock = _tunnel(relay_port, authority)
    else:
        sock = socket.create_connection(("127.0.0.1", source_port))
    with sock:
        _py_transfer(sock, authority, size, kind == "upload")
    return time.perf_counter() - started


def open_latencies(count: int, source_port: int, relay_port: int) -> Tuple[List[float], List[float]]:
    direct, relayed = [], []
    authority = f"target.bench:{source_port}"
    for _ in range(count):
        started = time.perf_counter()
        sock = socket.create_connection(("127.0.0.1", source_port))
        direct.append(time.perf_counter() - started)
        sock.close()
        started = time.perf_counter()
        sock = _tunnel(relay_port, authority)
        relayed.append(time.perf_counter() - started)
        sock.close()
    return direct, relayed


def _upstream(kind: str, source_port: int) -> Tuple[subprocess.Popen, dict]:
    mapping = f"target.bench:{source_port}=127.0.0.1:{source_port}"
    if kind == "lean":
        return _spawn(["-c", LEAN_UPSTREAM, TOKEN, SESSION, mapping])
    return _spawn(["-m", "tests.fakes.relay_server", "upstream", "--session", SESSION, "--token", TOKEN,
                   "--map", mapping])


def _ceiling(args: argparse.Namespace, size: int, source_port: int, curl: Optional[str], tmpdir: str,
             procs: List[subprocess.Popen]) -> None:
    first, info = _spawn(["-c", FORWARDER, str(source_port)])
    procs.append(first)
    second, info = _spawn(["-c", FORWARDER, str(info["port"])])
    procs.append(second)
    port = info["port"]
    transfer("download", 5_000_000, port, None, curl, tmpdir)  # warm-up
    print(f"\nceiling: two trivial TCP forwarders in a row, no framing (best of {args.repeat}, "
          f"interleaved with the direct transfers)")
    for kind in ("download", "upload"):
        direct = forwarded = float("inf")
        for _ in range(max(1, args.repeat)):
            direct = min(direct, transfer(kind, size, source_port, None, curl, tmpdir))
            forwarded = min(forwarded, transfer(kind, size, port, None, curl, tmpdir))
        print(f"   {kind:8} direct {size / direct / 1e6:7.1f} MB/s   via the forwarders "
              f"{size / forwarded / 1e6:7.1f} MB/s   ratio {direct / forwarded:.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--opens", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3,
                        help="transfers per path, interleaved; the best of them counts (load noise)")
    parser.add_argument("--python-client", action="store_true", help="use the Python client even with curl")
    parser.add_argument("--upstream", choices=("lean", "websockets", "both"), default="both",
                        help="the session side: a lean asyncio server, the websockets test fake, or both")
    parser.add_argument("--ceiling", action="store_true",
                        help="also transfer through two trivial TCP forwarders, for reference")
    args = parser.parse_args()
    size = args.size_mb * 1_000_000
    curl = None if args.python_client else shutil.which("curl")
    kinds = ("lean", "websockets") if args.upstream == "both" else (args.upstream,)
    procs: List[subprocess.Popen] = []
    try:
        source, info = _spawn(["-m", "tests.fakes.relay_server", "http-source"])
        procs.append(source)
        source_port = info["port"]
        client = f"curl ({curl})" if curl else "Python sockets"
        print(f"relay benchmark on loopback, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
              f"client: {client}, {args.size_mb} MB per transfer")
        with tempfile.TemporaryDirectory() as tmpdir:
            transfer("download", 5_000_000, source_port, None, curl, tmpdir)  # warm-up
            for upstream_kind in kinds:
                upstream, info = _upstream(upstream_kind, source_port)
                relay, relay_info = _spawn(["-c", RELAY_SCRIPT, info["base_url"], SESSION, TOKEN])
                relay_port = relay_info["port"]
                try:
                    transfer("download", 5_000_000, source_port, relay_port, curl, tmpdir)  # warm-up
                    print(f"\nthrough claw's relay, upstream = {upstream_kind} (best of {args.repeat}, "
                          f"interleaved with the direct transfers)")
                    for kind in ("download", "upload"):
                        direct = relayed = float("inf")
                        relay_cpu = upstream_cpu = float("inf")
                        for _ in range(max(1, args.repeat)):
                            direct = min(direct, transfer(kind, size, source_port, None, curl, tmpdir))
                            before = (_cpu_seconds(relay.pid), _cpu_seconds(upstream.pid))
                            relayed = min(relayed, transfer(kind, size, source_port, relay_port, curl, tmpdir))
                            after = (_cpu_seconds(relay.pid), _cpu_seconds(upstream.pid))
                            if None not in before and None not in after:
                                relay_cpu = min(relay_cpu, after[0] - before[0])
                                upstream_cpu = min(upstream_cpu, after[1] - before[1])
                        ratio = direct / relayed
                        verdict = "meets" if ratio >= TARGET_THROUGHPUT else "below"
                        print(f"   {kind:8} direct {size / direct / 1e6:7.1f} MB/s   via relay "
                              f"{size / relayed / 1e6:7.1f} MB/s   ratio {ratio:.2f}x "
                              f"({verdict} the {TARGET_THROUGHPUT}x target)")
                        if relay_cpu != float("inf"):
                            mb = size / 1e6
                            ceiling = f"{mb / relay_cpu:.0f} MB/s" if relay_cpu > 0 else "unmeasurable"
                            print(f"            CPU per MB: claw's relay {relay_cpu * 1000 / mb:.2f} ms "
                                  f"(one core to itself: {ceiling}), session side "
                                  f"{upstream_cpu * 1000 / mb:.2f} ms")
                    opens_direct, opens_relayed = open_latencies(args.opens, source_port, relay_port)
                    d = statistics.median(opens_direct) * 1000
                    r = statistics.median(opens_relayed) * 1000
                    p90 = sorted(opens_relayed)[int(len(opens_relayed) * 0.9)] * 1000
                    added = r - d
                    verdict = "meets" if added <= TARGET_ADDED_MS else "above"
                    print(f"   tunnel open ({args.opens} sequential, medians): direct TCP connect {d:.2f} ms, "
                          f"CONNECT to 200 through the relay {r:.2f} ms (p90 {p90:.2f} ms)")
                    print(f"   added per tunnel: {added:.2f} ms ({verdict} the {TARGET_ADDED_MS:g} ms target)")
                finally:
                    _stop(relay)
                    _stop(upstream)
            if args.ceiling:
                _ceiling(args, size, source_port, curl, tmpdir, procs)
    finally:
        for proc in reversed(procs):
            _stop(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
