"""A scripted fake of the Anthropic Messages API and of an OpenAI-compatible /chat/completions.

The one model-server fake of the project: unit, runtime, CLI, SDK-embedding and e2e tests and the
benchmarks drive whole agent runs against it. It listens on 127.0.0.1 (a free port by default), runs a
threading HTTP/1.1 server in the background (so sync subprocess tests and asyncio tests can both use
it), records every request, and answers from a script: a FIFO of response specs, one per request.

Python use::

    with ModelServer([reply(text="hello"), error(529, "overloaded_error", "Overloaded")]) as srv:
        env = srv.env()              # ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY, OPENAI_BASE_URL, ...
        ...
        srv.requests[0].json["model"]
        srv.requests[1].time - srv.requests[0].finished   # time.time() stamps: request fully read,
                                                          # last byte of its response written

Standalone (e2e tests of the built .pyz, benchmarks)::

    python -m tests.fakes.model_server --port 0 --script FILE.json [--record FILE.jsonl]

prints ``http://127.0.0.1:PORT`` on stdout, then serves until SIGTERM/SIGINT (or stdin closes, with
``--exit-on-stdin-eof``). FILE.json is either a list of specs or ``{"responses": [...], "default": spec}``.

Response specs (JSON objects; the helper functions below build them):
  {"reply": {...}}            an assistant message, rendered for whatever was asked: an Anthropic SSE
                              stream or JSON message for /v1/messages, OpenAI chunks or a JSON completion
                              for /chat/completions (per the request's ``stream``). Keys: ``content``
                              (blocks) or the shortcuts ``text``, ``thinking``, ``tool_uses``
                              ([{name, input, id?}]); ``stop_reason``, ``usage``, ``id``, ``model``;
                              ``text_chunk`` / ``json_chunk`` / ``thinking_chunk`` (characters per
                              delta, default 16 / 8 / 16).
  {"events": [...]}           these exact Anthropic events, as SSE
  {"openai_chunks": [...], "done": true}   these exact chat-completion chunks, then ``data: [DONE]``
  {"error": {"status": 529, "type": "overloaded_error", "message": "...", "body": optional raw text}}
  {"raw": {"status": 200, "content_type": "...", "body": "..."}}   a raw body
  {"empty": true}             200 text/event-stream with an empty body
Delivery options on any streamed spec: ``headers`` {name: value} (also on errors, e.g. retry-after),
``chunking`` "events" (one write per event, default) | "bytes" (one byte per write) | N (N bytes per
write) | "all" (one write); ``crlf`` (CRLF line ends); ``delay`` (seconds between writes);
``pings`` (a ping after message_start, default true); ``comment`` (a ``: keep-alive`` comment line
before each event); ``omit_message_stop``; ``stall_after`` N events + ``stall_seconds`` S (silence;
then the stream continues); ``close_after`` N events (connection cut mid-stream);
``request_id`` (the ``request-id`` header; one is generated otherwise).

``cache=PromptCache()`` (``--emulate-cache``) reports reply usage as Anthropic's prompt cache (and
OpenAI's automatic one) would: see ``PromptCache``.

``handler=by_system_prompt({...})`` picks replies by a marker in the system prompt instead of the order
of arrival (subagents of one turn whose requests interleave).

Not scripted requests get a 400 ``invalid_request_error`` saying the script ran out (never retried), or
the ``default`` spec when one is set (it is not consumed).

Thinking is checked as the API checks it (``thinking_problem``): the fake signs each thinking block it
sends (an HMAC of the text, ``fakesig1.`` prefix) and answers 400 ``invalid_request_error`` — without
consuming the script — to a request with an altered thinking block, with a ``budget_tokens`` under 1024
or not under ``max_tokens``, or, with thinking on, whose last assistant message dropped or changed the
thinking / redacted_thinking blocks the fake sent beside that message's tool_use.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

from tests.fakes.prompt_cache import PromptCache

Spec = Dict[str, Any]


# -------------------------------------------------------------------------------------------------
# Spec helpers


def reply(text: Optional[str] = None, *, tool_uses: Optional[List[Dict[str, Any]]] = None,
          thinking: Optional[str] = None, content: Optional[List[Dict[str, Any]]] = None,
          stop_reason: Optional[str] = None, usage: Optional[Dict[str, int]] = None, **options: Any) -> Spec:
    body: Dict[str, Any] = {}
    if content is not None:
        body["content"] = content
    if text is not None:
        body["text"] = text
    if thinking is not None:
        body["thinking"] = thinking
    if tool_uses is not None:
        body["tool_uses"] = tool_uses
    if stop_reason is not None:
        body["stop_reason"] = stop_reason
    if usage is not None:
        body["usage"] = usage
    for key in ("text_chunk", "json_chunk", "thinking_chunk", "id", "model"):
        if key in options:
            body[key] = options.pop(key)
    return {"reply": body, **options}


def tool_use(name: str, input: Dict[str, Any], id: Optional[str] = None) -> Dict[str, Any]:
    out: Dict[str, Any] = {"name": name, "input": input}
    if id is not None:
        out["id"] = id
    return out


def error(status: int, type: str = "api_error", message: str = "error", *,
          headers: Optional[Dict[str, str]] = None, body: Optional[str] = None, code: Optional[str] = None,
          **options: Any) -> Spec:
    err: Dict[str, Any] = {"status": status, "type": type, "message": message}
    if code is not None:
        err["code"] = code
    if body is not None:
        err["body"] = body
    spec: Spec = {"error": err, **options}
    if headers:
        spec["headers"] = headers
    return spec


def events(evts: List[Dict[str, Any]], **options: Any) -> Spec:
    return {"events": evts, **options}


def openai_chunks(chunks: List[Dict[str, Any]], *, done: bool = True, **options: Any) -> Spec:
    return {"openai_chunks": chunks, "done": done, **options}


def raw(body: str, *, status: int = 200, content_type: str = "text/event-stream", **options: Any) -> Spec:
    return {"raw": {"status": status, "content_type": content_type, "body": body}, **options}


def empty(**options: Any) -> Spec:
    return {"empty": True, **options}


# -------------------------------------------------------------------------------------------------
# Rendering a reply


def _chunks(text: str, size: int) -> List[str]:
    size = max(1, int(size))
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def reply_content(spec: Dict[str, Any]) -> List[Dict[str, Any]]:
    if "content" in spec:
        return [dict(b) for b in spec["content"]]
    content: List[Dict[str, Any]] = []
    if spec.get("thinking") is not None:
        content.append({"type": "thinking", "thinking": spec["thinking"], "signature": sign_thinking(spec["thinking"])})
    if spec.get("text") is not None:
        content.append({"type": "text", "text": spec["text"]})
    for tu in spec.get("tool_uses") or []:
        content.append({"type": "tool_use", "id": tu.get("id") or "toolu_" + uuid.uuid4().hex[:20],
                        "name": tu["name"], "input": tu.get("input", {})})
    return content


def _stop_reason(spec: Dict[str, Any], content: List[Dict[str, Any]]) -> str:
    if spec.get("stop_reason"):
        return spec["stop_reason"]
    return "tool_use" if any(b.get("type") == "tool_use" for b in content) else "end_turn"


def _usage(spec: Dict[str, Any], request_json: Any) -> Dict[str, int]:
    usage = {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
             "cache_read_input_tokens": 0}
    if isinstance(request_json, dict):
        usage["input_tokens"] = max(1, len(json.dumps(request_json.get("messages", []))) // 4)
    usage.update(spec.get("usage") or {})
    if not (spec.get("usage") or {}).get("output_tokens"):
        usage["output_tokens"] = max(1, len(json.dumps(reply_content(spec))) // 4)
    return usage


def anthropic_message(spec: Dict[str, Any], model: str, request_json: Any = None) -> Dict[str, Any]:
    content = reply_content(spec)
    return {
        "id": spec.get("id") or "msg_" + uuid.uuid4().hex[:24],
        "type": "message",
        "role": "assistant",
        "model": spec.get("model") or model,
        "content": content,
        "stop_reason": _stop_reason(spec, content),
        "stop_sequence": None,
        "usage": _usage(spec, request_json),
    }


def anthropic_events(spec: Dict[str, Any], model: str, request_json: Any = None, *,
                     pings: bool = True) -> List[Dict[str, Any]]:
    """The Anthropic stream events of a reply spec, deltas split as the spec says."""
    msg = anthropic_message(spec, model, request_json)
    usage = msg["usage"]
    start_usage = dict(usage, output_tokens=1)
    out: List[Dict[str, Any]] = [{"type": "message_start", "message": dict(msg, content=[], stop_reason=None,
                                                                              usage=start_usage)}]
    if pings:
        out.append({"type": "ping"})
    tsize = spec.get("text_chunk", 16)
    jsize = spec.get("json_chunk", 8)
    ksize = spec.get("thinking_chunk", 16)
    for index, block in enumerate(msg["content"]):
        t = block.get("type")
        if t == "text":
            out.append({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})
            for piece in _chunks(block.get("text", ""), tsize):
                out.append({"type": "content_block_delta", "index": index,
                            "delta": {"type": "text_delta", "text": piece}})
        elif t == "thinking":
            out.append({"type": "content_block_start", "index": index,
                        "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
            for piece in _chunks(block.get("thinking", ""), ksize):
                out.append({"type": "content_block_delta", "index": index,
                            "delta": {"type": "thinking_delta", "thinking": piece}})
            out.append({"type": "content_block_delta", "index": index,
                        "delta": {"type": "signature_delta", "signature": block.get("signature", "")}})
        elif t == "tool_use":
            out.append({"type": "content_block_start", "index": index,
                        "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}})
            text = json.dumps(block.get("input", {}))
            for piece in _chunks(text, jsize):
                out.append({"type": "content_block_delta", "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": piece}})
        else:
            out.append({"type": "content_block_start", "index": index, "content_block": block})
        out.append({"type": "content_block_stop", "index": index})
    out.append({"type": "message_delta", "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]}})
    out.append({"type": "message_stop"})
    return out


def openai_completion(spec: Dict[str, Any], model: str, request_json: Any = None) -> Dict[str, Any]:
    msg = anthropic_message(spec, model, request_json)
    text = "".join(b.get("text", "") for b in msg["content"] if b.get("type") == "text")
    calls = [{"id": b["id"], "type": "function",
              "function": {"name": b["name"], "arguments": json.dumps(b.get("input", {}))}}
             for b in msg["content"] if b.get("type") == "tool_use"]
    message: Dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    usage = msg["usage"]
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:20], "object": "chat.completion", "created": int(time.time()),
        "model": msg["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": _finish(msg["stop_reason"])}],
        "usage": _openai_usage(usage),
    }


def _finish(stop_reason: str) -> str:
    return {"tool_use": "tool_calls", "max_tokens": "length"}.get(stop_reason, "stop")


def _openai_usage(usage: Dict[str, int]) -> Dict[str, Any]:
    prompt = usage["input_tokens"] + usage.get("cache_read_input_tokens", 0)
    return {"prompt_tokens": prompt, "completion_tokens": usage["output_tokens"],
            "total_tokens": prompt + usage["output_tokens"],
            "prompt_tokens_details": {"cached_tokens": usage.get("cache_read_input_tokens", 0)}}


def openai_stream_chunks(spec: Dict[str, Any], model: str, request_json: Any = None) -> List[Dict[str, Any]]:
    msg = anthropic_message(spec, model, request_json)
    cid = "chatcmpl-" + uuid.uuid4().hex[:20]
    created = int(time.time())

    def chunk(delta: Dict[str, Any], finish: Optional[str] = None) -> Dict[str, Any]:
        return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": msg["model"],
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    out = [chunk({"role": "assistant", "content": ""})]
    tsize = spec.get("text_chunk", 16)
    jsize = spec.get("json_chunk", 8)
    ksize = spec.get("thinking_chunk", 16)
    call_index = 0
    for block in msg["content"]:
        t = block.get("type")
        if t == "thinking":
            for piece in _chunks(block.get("thinking", ""), ksize):
                out.append(chunk({"reasoning_content": piece}))
        elif t == "text":
            for piece in _chunks(block.get("text", ""), tsize):
                out.append(chunk({"content": piece}))
        elif t == "tool_use":
            out.append(chunk({"tool_calls": [{"index": call_index, "id": block["id"], "type": "function",
                                              "function": {"name": block["name"], "arguments": ""}}]}))
            for piece in _chunks(json.dumps(block.get("input", {})), jsize):
                out.append(chunk({"tool_calls": [{"index": call_index, "function": {"arguments": piece}}]}))
            call_index += 1
    out.append(chunk({}, _finish(msg["stop_reason"])))
    out.append({"id": cid, "object": "chat.completion.chunk", "created": created, "model": msg["model"],
                "choices": [], "usage": _openai_usage(msg["usage"])})
    return out


def sse_event_bytes(event: Dict[str, Any], *, named: bool = True) -> bytes:
    data = json.dumps(event, separators=(",", ":"))
    if named:
        return f"event: {event.get('type', 'message')}\ndata: {data}\n\n".encode()
    return f"data: {data}\n\n".encode()


def sse_bytes(evts: Iterable[Dict[str, Any]], *, crlf: bool = False) -> bytes:
    """Pre-recorded Anthropic SSE bytes (benchmarks, unit tests)."""
    body = b"".join(sse_event_bytes(e) for e in evts)
    return body.replace(b"\n", b"\r\n") if crlf else body


# -------------------------------------------------------------------------------------------------
# Thinking signatures, checked as the API checks them


_SIGNING_KEY = b"fake-model-server thinking"


def sign_thinking(text: str) -> str:
    """The signature the fake gives a thinking block: an HMAC of its text (so any change shows)."""
    import base64
    import hashlib
    import hmac

    return "fakesig1." + base64.b64encode(hmac.new(_SIGNING_KEY, text.encode("utf-8"), hashlib.sha256).digest()
                                          ).decode("ascii")


def remember_thinking(fake: "ModelServer", body: Dict[str, Any]) -> Dict[str, Any]:
    """The reply body with its content fixed (tool_use ids chosen), and, when it uses a tool, its thinking
    and redacted_thinking blocks remembered: the continuation must send them back unchanged."""
    if "content" not in body and body.get("thinking") is None:
        return body
    content = reply_content(body)
    thinking = [b for b in content if b.get("type") in ("thinking", "redacted_thinking")]
    if thinking:
        for block in content:
            if block.get("type") == "tool_use":
                fake.thinking_issued[block["id"]] = [dict(b) for b in thinking]
    fixed = {k: v for k, v in body.items() if k not in ("text", "thinking", "tool_uses")}
    fixed["content"] = content
    return fixed


def thinking_problem(fake: "ModelServer", req: "RecordedRequest") -> Optional[str]:
    """Why the API would reject this Messages request's thinking, or None.

    - ``budget_tokens`` below 1024 or not below ``max_tokens``;
    - a thinking block whose signature the fake issued but whose text (or signature) was altered;
    - with thinking enabled, the last assistant message used a tool the fake answered with thinking,
      and its thinking / redacted_thinking blocks are not all there, unchanged, before its tool_use.
    """
    body = req.json if isinstance(req.json, dict) else None
    if body is None or req.path.rstrip("/").endswith("/chat/completions"):
        return None
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] <= budget:
            return "`max_tokens` must be greater than `thinking.budget_tokens`."
    messages = body.get("messages") or []
    last_assistant = None
    for i, msg in enumerate(messages):
        content = msg.get("content")
        if msg.get("role") != "assistant" or not isinstance(content, list):
            continue
        last_assistant = msg
        for j, block in enumerate(content):
            sig = block.get("signature") if block.get("type") == "thinking" else None
            if isinstance(sig, str) and sig.startswith("fakesig1.") and sig != sign_thinking(block.get("thinking", "")):
                return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
    if not (isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")) or last_assistant is None:
        return None
    content = last_assistant["content"]
    for block in content:
        if block.get("type") != "tool_use":
            continue
        issued = fake.thinking_issued.get(block.get("id"))
        if issued is None:
            continue
        sent = [b for b in content if b.get("type") in ("thinking", "redacted_thinking")]
        if sent != issued or content[:len(issued)] != issued:
            return ("messages: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` "
                    "is enabled, a final `assistant` message must start with a thinking block (preceeding the "
                    "lastmost set of `tool_use` and `tool_result` blocks). To avoid this requirement, disable "
                    "`thinking`.")
    return None


def by_system_prompt(routes: Dict[str, List[Spec]]) -> Callable[["RecordedRequest"], Optional[Spec]]:
    """A ``ModelServer(handler=...)`` that answers by the request's system prompt: a request whose
    ``system`` contains a key of ``routes`` gets the next spec of that key's list (first key that
    matches wins; a list that ran out is a 400 naming the key); any other request falls through to the
    FIFO script. For runs whose requests interleave, e.g. a parent and its concurrent subagents."""
    lock = threading.Lock()
    queues = {marker: list(specs) for marker, specs in routes.items()}

    def handler(req: "RecordedRequest") -> Optional[Spec]:
        body = req.json if isinstance(req.json, dict) else {}
        system = json.dumps(body.get("system", ""), ensure_ascii=False)
        for marker, queue in queues.items():
            if marker in system:
                with lock:
                    if queue:
                        return queue.pop(0)
                return error(400, "invalid_request_error", f"the script for {marker!r} ran out")
        return None

    return handler


# -------------------------------------------------------------------------------------------------
# Recording


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: Dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    json: Any = None
    time: float = field(default_factory=time.time)  # when the whole request had been read
    finished: Optional[float] = None  # when the last byte of the response was written (POST answers)

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name.lower())

    def to_dict(self) -> Dict[str, Any]:
        return {"method": self.method, "path": self.path, "headers": self.headers, "json": self.json,
                "body": None if self.json is not None else self.body.decode("utf-8", "replace")}


# -------------------------------------------------------------------------------------------------
# The server


class ModelServer:
    """The scripted fake; a context manager (``start`` / ``stop``)."""

    def __init__(self, script: Union[None, List[Spec], Dict[str, Any]] = None, *, host: str = "127.0.0.1",
                 port: int = 0, handler: Optional[Callable[[RecordedRequest], Optional[Spec]]] = None,
                 record_file: Optional[str] = None, tls: Any = None, cache: Optional[PromptCache] = None) -> None:
        self.tls = tls  # a trustme LeafCert: serve HTTPS with it
        self.cache = cache  # a PromptCache: usage as a caching API reports it
        self.host = host
        self.port = port
        self.handler = handler
        self.requests: List[RecordedRequest] = []
        self._queue: List[Spec] = []
        self.default: Optional[Spec] = None
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._sockets: set = set()
        self._record_file = record_file
        self.thinking_issued: Dict[str, List[Dict[str, Any]]] = {}  # tool_use id -> the thinking blocks beside it
        if script is not None:
            self.load(script)

    # script
    def load(self, script: Union[List[Spec], Dict[str, Any]]) -> None:
        if isinstance(script, dict):
            self.enqueue(*script.get("responses", []))
            if script.get("default") is not None:
                self.default = script["default"]
        else:
            self.enqueue(*script)

    def enqueue(self, *specs: Spec) -> None:
        with self._lock:
            self._queue.extend(specs)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._queue)

    def _next_spec(self, req: RecordedRequest) -> Optional[Spec]:
        if self.handler is not None:
            spec = self.handler(req)
            if spec is not None:
                return spec
        with self._lock:
            if self._queue:
                return self._queue.pop(0)
        return self.default

    # addresses
    @property
    def url(self) -> str:
        return f"{'https' if self.tls is not None else 'http'}://{self.host}:{self.port}"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    def env(self, **extra: str) -> Dict[str, str]:
        """Environment entries that point claw (and SDKs) at this server."""
        env = {
            "ANTHROPIC_BASE_URL": self.anthropic_base_url,
            "ANTHROPIC_API_KEY": "test-key",
            "OPENAI_BASE_URL": self.openai_base_url,
            "OPENAI_API_KEY": "test-openai-key",
            "OLLAMA_HOST": f"{self.host}:{self.port}",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        env.update(extra)
        return env

    # recording
    def _record(self, req: RecordedRequest) -> None:
        with self._cond:
            self.requests.append(req)
            self._cond.notify_all()
        if self._record_file:
            with open(self._record_file, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(req.to_dict()) + "\n")

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> List[RecordedRequest]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"expected {count} requests, got {len(self.requests)}")
                self._cond.wait(left)
            return list(self.requests)

    # lifecycle
    def start(self) -> "ModelServer":
        server = ThreadingHTTPServer((self.host, self.port), _make_handler(self))
        server.daemon_threads = True
        if self.tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.configure_cert(context)
            # The handshake runs at accept; a client that rejects the certificate is dropped there.
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-model-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            socks = list(self._sockets)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "ModelServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _make_handler(fake: ModelServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fake-model-server/1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with fake._lock:
                fake._sockets.add(self.connection)

        def finish(self) -> None:
            with fake._lock:
                fake._sockets.discard(self.connection)
            try:
                super().finish()
            except OSError:
                pass

        def do_GET(self) -> None:
            req = self._read_request()
            if req.path.rstrip("/").endswith("/models"):
                data = {"object": "list", "data": [{"id": "claude-sonnet-5-5", "object": "model",
                                                    "type": "model"}]}
                self._send_json(200, data)
            else:
                self._send_json(404, {"type": "error", "error": {"type": "not_found_error",
                                                                 "message": f"no route {req.path}"}})

        def do_POST(self) -> None:
            req = self._read_request()
            problem = thinking_problem(fake, req)
            if problem is not None:  # as the API: 400, and the script is not consumed
                self._send_json(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                                 "message": problem}})
                return
            spec = fake._next_spec(req)
            if fake.cache is not None:
                spec = fake.cache.apply(req, spec)
            try:
                if spec is None:
                    self._send_json(400, {"type": "error", "error": {
                        "type": "invalid_request_error",
                        "message": "fake model server: no scripted response left for "
                                   f"{req.method} {req.path} (request #{len(fake.requests)})"}})
                    return
                self._respond(req, spec)
                req.finished = time.time()
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                self.close_connection = True

        # -- helpers ---
        def _read_request(self) -> RecordedRequest:
            headers: Dict[str, str] = {}
            for name, value in self.headers.items():
                key = name.lower()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
            body = b""
            if headers.get("transfer-encoding", "").lower() == "chunked":
                parts = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
                body = b"".join(parts)
            elif headers.get("content-length"):
                body = self.rfile.read(int(headers["content-length"]))
            parsed = None
            if body:
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
            req = RecordedRequest(self.command, self.path, headers, body, parsed)
            fake._record(req)
            return req

        def _send_json(self, status: int, data: Any, headers: Optional[Dict[str, str]] = None,
                       request_id: Optional[str] = None) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.send_header("request-id", request_id or "req_" + uuid.uuid4().hex[:20])
            for k, v in (headers or {}).items():
                self.send_header(k, str(v))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def _respond(self, req: RecordedRequest, spec: Spec) -> None:
            request_json = req.json if isinstance(req.json, dict) else {}
            model = request_json.get("model") or "claude-sonnet-5-5"
            streaming = bool(request_json.get("stream"))
            openai = req.path.rstrip("/").endswith("/chat/completions")
            headers = dict(spec.get("headers") or {})
            request_id = spec.get("request_id") or "req_" + uuid.uuid4().hex[:20]
            if "error" in spec:
                err = spec["error"]
                status = int(err.get("status", 500))
                if "body" in err:
                    body = str(err["body"]).encode()
                    self.send_response(status)
                    self.send_header("content-type", err.get("content_type", "text/html"))
                    self.send_header("content-length", str(len(body)))
                    self.send_header("request-id", request_id)
                    for k, v in headers.items():
                        self.send_header(k, str(v))
                    self.end_headers()
                    self.wfile.write(body)
                    self.wfile.flush()
                    return
                if openai:
                    data = {"error": {"message": err.get("message", ""), "type": err.get("type"),
                                      "code": err.get("code")}}
                else:
                    data = {"type": "error", "error": {"type": err.get("type", "api_error"),
                                                       "message": err.get("message", "")}}
                self._send_json(status, data, headers, request_id)
                return
            if "raw" in spec:
                r = spec["raw"]
                self._stream(int(r.get("status", 200)), r.get("content_type", "text/event-stream"),
                             [r.get("body", "").encode()], spec, headers, request_id, raw_pieces=True)
                return
            if spec.get("empty"):
                self._stream(200, "text/event-stream", [], spec, headers, request_id)
                return
            if "openai_chunks" in spec:
                pieces = [sse_event_bytes(c, named=False) for c in spec["openai_chunks"]]
                if spec.get("done", True):
                    pieces.append(b"data: [DONE]\n\n")
                self._stream(200, "text/event-stream", pieces, spec, headers, request_id)
                return
            if "events" in spec:
                pieces = [sse_event_bytes(e) for e in spec["events"]]
                self._stream(200, "text/event-stream", pieces, spec, headers, request_id)
                return
            body = spec.get("reply", {})
            if not openai:
                body = remember_thinking(fake, body)
            if openai:
                if not streaming:
                    self._send_json(200, openai_completion(body, model, request_json), headers, request_id)
                    return
                pieces = [sse_event_bytes(c, named=False) for c in openai_stream_chunks(body, model, request_json)]
                pieces.append(b"data: [DONE]\n\n")
                self._stream(200, "text/event-stream", pieces, spec, headers, request_id)
                return
            if not streaming:
                self._send_json(200, anthropic_message(body, model, request_json), headers, request_id)
                return
            evts = anthropic_events(body, model, request_json, pings=spec.get("pings", True))
            if spec.get("omit_message_stop"):
                evts = [e for e in evts if e["type"] != "message_stop"]
            self._stream(200, "text/event-stream", [sse_event_bytes(e) for e in evts], spec, headers, request_id)

        def _stream(self, status: int, content_type: str, pieces: List[bytes], spec: Spec,
                    headers: Dict[str, str], request_id: str, raw_pieces: bool = False) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("transfer-encoding", "chunked")
            self.send_header("cache-control", "no-cache")
            self.send_header("request-id", request_id)
            for k, v in headers.items():
                self.send_header(k, str(v))
            self.end_headers()
            self.wfile.flush()
            crlf = spec.get("crlf", False)
            if spec.get("comment"):
                pieces = [b": keep-alive\n\n" + p for p in pieces]
            if crlf:
                pieces = [p.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") for p in pieces]
            chunking = spec.get("chunking", "events")
            delay = float(spec.get("delay", 0) or 0)
            stall_after = spec.get("stall_after")
            stall_seconds = float(spec.get("stall_seconds", 0) or 0)
            close_after = spec.get("close_after")
            for n, piece in enumerate(pieces):
                if close_after is not None and n >= close_after:
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if stall_after is not None and n == stall_after:
                    fake._stopping.wait(stall_seconds)
                    if fake._stopping.is_set():
                        return
                for part in _split(piece, chunking):
                    self._write_chunk(part)
                    if delay:
                        time.sleep(delay)
            if stall_after is not None and stall_after >= len(pieces):
                fake._stopping.wait(stall_seconds)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _write_chunk(self, data: bytes) -> None:
            if data:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

    return Handler


def _split(piece: bytes, chunking: Any) -> List[bytes]:
    if chunking == "bytes":
        return [piece[i:i + 1] for i in range(len(piece))]
    if isinstance(chunking, int) and chunking > 0:
        return [piece[i:i + chunking] for i in range(0, len(piece), chunking)]
    return [piece]


def _main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.model_server", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--script", help="JSON file: a list of response specs or {responses, default}")
    parser.add_argument("--record", help="append every request as a JSON line to this file")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin closes")
    parser.add_argument("--emulate-cache", action="store_true", help="report usage as a prompt cache would")
    args = parser.parse_args(argv)
    script: Any = None
    if args.script:
        with open(args.script, encoding="utf-8") as fh:
            script = json.load(fh)
    server = ModelServer(script, host=args.host, port=args.port, record_file=args.record,
                         cache=PromptCache() if args.emulate_cache else None).start()
    sys.stdout.write(server.url + "\n")
    sys.stdout.flush()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    if args.exit_on_stdin_eof:
        threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    while not done.wait(0.2):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_main())
