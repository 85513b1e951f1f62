"""A hand-written stdio MCP server for the corner cases real SDK servers do not produce on demand.

    python -m tests.mcp.servers.raw_stdio_server [--version V] [--junk] [--pages N] [--stubborn]
                                                 [--child PIDFILE] [--never-answer]

--version V     answer initialize with protocol version V (default: the client's)
--junk          write lines that are not JSON-RPC on stdout before answering initialize
--pages N       split tools/list into N pages (nextCursor)
--stubborn      ignore SIGTERM and keep running after stdin closes (only SIGKILL stops it)
--child FILE    start a child process in the same process group, its pid written to FILE
--never-answer  read everything, answer nothing
--delay S       wait S seconds before answering initialize
--pidfile FILE  write this process's pid to FILE

It also has a prompt ``greet(who, tone?)`` and two resources (``raw://notes`` text, ``raw://logo`` blob).
After notifications/initialized it sends the client a ``ping`` and a ``roots/list`` request; the tools
``pong`` and ``roots`` report what came back. ``echo`` echoes; ``tool_<i>`` exist for paging.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

args = sys.argv[1:]


def flag(name):
    return name in args


def value(name, default=None):
    return args[args.index(name) + 1] if name in args else default


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


PAGES = int(value("--pages", "1"))
TOOLS = [{"name": "echo", "description": "echo", "inputSchema": {"type": "object", "properties": {
    "text": {"type": "string"}}, "required": ["text"]}},
         {"name": "pong", "inputSchema": {"type": "object"}},
         {"name": "roots", "inputSchema": {"type": "object"}}] + [
    {"name": f"tool_{i}", "inputSchema": {"type": "object"}} for i in range(5)]
replies = {}


def main():
    if flag("--stubborn"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if value("--pidfile"):
        with open(value("--pidfile"), "w") as fh:
            fh.write(str(os.getpid()))
    child_file = value("--child")
    if child_file:
        child = subprocess.Popen(["sleep", "60"])
        with open(child_file, "w") as fh:
            fh.write(str(child.pid))
    for line in sys.stdin:
        if flag("--never-answer"):
            continue
        message = json.loads(line)
        method = message.get("method")
        if method is None:  # an answer to our ping / roots/list
            replies[message.get("id")] = message
            continue
        if method == "initialize":
            time.sleep(float(value("--delay", "0")))
            if flag("--junk"):
                sys.stdout.write("this is not JSON\n")
                sys.stdout.write('{"jsonrpc": "2.0", "weird": true}\n')
                sys.stdout.flush()
            version = value("--version", message["params"]["protocolVersion"])
            send({"jsonrpc": "2.0", "id": message["id"], "result": {
                "protocolVersion": version,
                "capabilities": {"tools": {"listChanged": True}, "prompts": {}, "resources": {}},
                "serverInfo": {"name": "raw", "version": "0"}}})
        elif method == "notifications/initialized":
            send({"jsonrpc": "2.0", "id": "srv-ping", "method": "ping"})
            send({"jsonrpc": "2.0", "id": "srv-roots", "method": "roots/list"})
        elif method == "tools/list":
            cursor = int((message.get("params") or {}).get("cursor") or 0)
            size = -(-len(TOOLS) // PAGES)
            page = {"tools": TOOLS[cursor:cursor + size]}
            if cursor + size < len(TOOLS):
                page["nextCursor"] = str(cursor + size)
            send({"jsonrpc": "2.0", "id": message["id"], "result": page})
        elif method == "prompts/list":
            send({"jsonrpc": "2.0", "id": message["id"], "result": {"prompts": [
                {"name": "greet", "description": "Greet someone",
                 "arguments": [{"name": "who", "required": True}, {"name": "tone"}]}]}})
        elif method == "prompts/get":
            arguments = message["params"].get("arguments") or {}
            text = f"Greet {arguments.get('who')} in a {arguments.get('tone', 'plain')} tone"
            send({"jsonrpc": "2.0", "id": message["id"], "result": {"messages": [
                {"role": "user", "content": {"type": "text", "text": text}}]}})
        elif method == "resources/list":
            send({"jsonrpc": "2.0", "id": message["id"], "result": {"resources": [
                {"uri": "raw://notes", "name": "notes", "mimeType": "text/plain"},
                {"uri": "raw://logo", "name": "logo", "mimeType": "image/png"}]}})
        elif method == "resources/read":
            uri = message["params"]["uri"]
            content = {"uri": uri, "text": "the notes"} if uri == "raw://notes" else \
                {"uri": uri, "mimeType": "image/png", "blob": "AAAA"}
            send({"jsonrpc": "2.0", "id": message["id"], "result": {"contents": [content]}})
        elif method == "tools/call":
            name = message["params"]["name"]
            arguments = message["params"].get("arguments") or {}
            if name == "echo":
                text = arguments.get("text", "")
            elif name == "pong":
                text = json.dumps(replies.get("srv-ping"))
            elif name == "roots":
                text = json.dumps(replies.get("srv-roots"))
            else:
                text = name
            send({"jsonrpc": "2.0", "id": message["id"], "result": {"content": [{"type": "text", "text": text}]}})
        elif "id" in message:
            send({"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32601, "message": "no"}})
    if flag("--stubborn"):
        while True:
            time.sleep(1)


if __name__ == "__main__":
    main()
