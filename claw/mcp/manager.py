"""Every MCP server of a run: connected in parallel with a bounded wait, tools kept in sync.

``McpManager(config, env=..., net_config=..., cwd=...)`` makes one ``McpServer`` per configured
entry. ``await launch()`` spawns them all (and sends ``initialize``) without waiting for answers, so
they boot while the rest of the run is prepared; ``await start(wait)`` connects them all at once and returns when all have finished or
``wait`` seconds have passed (``CLAW_MCP_TIMEOUT`` / Claude Code's ``MCP_TIMEOUT``, milliseconds;
default 10 s). A server still connecting then is reported ``pending`` and goes on connecting in the
background, bounded by its own connect timeout (the larger of that wait and 30 s); a slow or broken
server never holds up or breaks the session.

``bind(tools, allow=...)`` merges the servers' tools into the run's tool dict (canonical name ->
tool) and keeps it current: a server that connects late, or re-lists after
``notifications/tools/list_changed``, updates the dict, and the conversation loop offers the new set
from its next model request. A name already taken by another tool is skipped with a warning. The
resource tools (``list_mcp_resources``, ``read_mcp_resource``) are present while a connected server
offers resources.

``status()`` is the ``mcp_servers`` list of stream-json ``system/init``; ``status(detail=True)`` the
SDK's ``mcp_status`` shape. ``prompt_commands()`` / ``run_prompt(name, text)`` serve REPL slash
commands ``/mcp__<server>__<prompt> args...``. ``aclose()`` shuts every server down in parallel,
bounded.

While the run lives (the SDK's ``mcp_set_servers``, ``mcp_toggle``, ``mcp_reconnect``): ``add(entry)``
connects one more server, ``remove(name)`` shuts one down and forgets it, ``disable(name)`` shuts it
down and keeps it listed as ``disabled``, ``reconnect(name)`` replaces its connection with a new one
(also how a disabled server comes back). Each keeps the bound tool dict in sync.

``tool_filter`` turns ``--disallowedTools``, settings ``permissions.deny`` and ``--tools`` into the
``allow`` predicate: bare ``mcp__server``, ``mcp__server__tool`` and ``mcp__server__*`` names remove
tools; when ``--tools`` names MCP tools, only those are offered (when it names none, every MCP tool
is, as ``--tools`` selects among built-ins).
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence

from claw.errors import UsageError
from claw.mcp.client import CONNECTED, DEFAULT_CONNECT_TIMEOUT, McpServer, ProgressHandler, seconds_from_env
from claw.mcp.config import McpConfig, ServerEntry

DEFAULT_STARTUP_WAIT = 10.0
LAUNCH_WAIT = 2.0  # launch() returns after this at the latest, spawned or not
CLOSE_WAIT = 8.0
DISABLED = "disabled"  # shut down on request (mcp_toggle); reconnect() brings it back

Allow = Callable[[str], bool]


def startup_wait_from_env(env: Mapping[str, str]) -> float:
    """Seconds to wait for servers at start-up: ``CLAW_MCP_TIMEOUT`` or ``MCP_TIMEOUT`` (ms)."""
    return seconds_from_env(env, ("CLAW_MCP_TIMEOUT", "MCP_TIMEOUT")) or DEFAULT_STARTUP_WAIT


class McpManager:
    def __init__(self, config: McpConfig, *, env: Mapping[str, str], net_config: Any = None, cwd: str,
                 roots: Sequence[str] = (), startup_wait: Optional[float] = None,
                 connect_timeout: Optional[float] = None, on_progress: Optional[ProgressHandler] = None) -> None:
        self.config = config
        self.env = dict(env)
        self.startup_wait = startup_wait if startup_wait is not None else startup_wait_from_env(self.env)
        timeout = connect_timeout if connect_timeout is not None else max(self.startup_wait, DEFAULT_CONNECT_TIMEOUT)
        self.warnings: List[str] = list(config.warnings)
        self._on_progress = on_progress
        self._server_args: Dict[str, Any] = dict(env=self.env, net_config=net_config, cwd=cwd, roots=roots,
                                                 connect_timeout=timeout)
        self.servers: Dict[str, McpServer] = {name: self._new_server(entry) for name, entry in config.servers.items()}
        self._tasks: Dict[str, "asyncio.Task[None]"] = {}
        self._bound: Optional[Dict[str, Any]] = None
        self._allow: Allow = lambda name: True
        self._added: Dict[str, List[str]] = {}
        self._resource_tools: List[str] = []
        self._launched_at: Optional[float] = None
        self._closed = False

    def _new_server(self, entry: ServerEntry) -> McpServer:
        return McpServer(entry, on_change=self._changed, on_progress=self._progress, **self._server_args)

    # -- progress --------------------------------------------------------------------------------

    @property
    def on_progress(self) -> Optional[ProgressHandler]:
        return self._on_progress

    @on_progress.setter
    def on_progress(self, handler: Optional[ProgressHandler]) -> None:
        """Set by the REPL to show ``notifications/progress`` of running MCP tools."""
        self._on_progress = handler

    def _progress(self, update: Any) -> None:
        if self._on_progress is not None:
            self._on_progress(update)

    # -- start-up --------------------------------------------------------------------------------

    async def launch(self, spawn_wait: float = LAUNCH_WAIT) -> None:
        """Start connecting every server and return once each has been spawned (or connected to)
        and sent ``initialize`` — at most ``spawn_wait`` seconds — without waiting for answers.
        The servers then boot while the caller prepares the rest of the run; ``start()`` collects
        them. The start-up wait counts from here."""
        if self._launched_at is None:
            self._launched_at = asyncio.get_running_loop().time()
        for name, server in self.servers.items():
            if server.entry.config is not None and name not in self._tasks:
                self._tasks[name] = asyncio.ensure_future(server.connect())
        waiters = [asyncio.ensure_future(self.servers[name].launched_event().wait()) for name in self._tasks]
        if waiters:
            _, pending = await asyncio.wait(waiters, timeout=spawn_wait)
            for waiter in pending:
                waiter.cancel()

    async def start(self, wait: Optional[float] = None) -> None:
        """Connect every server in parallel (``launch`` if not done yet); return when all are done
        or after ``wait`` seconds (default ``startup_wait``) from the launch at the latest, leaving
        slow ones connecting in the background."""
        if self._launched_at is None:
            self._launched_at = asyncio.get_running_loop().time()
            for name, server in self.servers.items():
                if server.entry.config is not None and name not in self._tasks:
                    self._tasks[name] = asyncio.ensure_future(server.connect())
        pending = [t for t in self._tasks.values() if not t.done()]
        if pending:
            budget = self.startup_wait if wait is None else wait
            elapsed = asyncio.get_running_loop().time() - self._launched_at
            await asyncio.wait(pending, timeout=max(0.0, budget - elapsed))
        self._sync_all()

    async def wait_ready(self, timeout: Optional[float] = None) -> None:
        """Wait until no server is still connecting (or ``timeout``)."""
        pending = [t for t in self._tasks.values() if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    # -- tools -----------------------------------------------------------------------------------

    def bind(self, tools: Dict[str, Any], *, allow: Optional[Allow] = None) -> None:
        """Merge connected servers' tools into ``tools`` now and whenever they change."""
        self._bound = tools
        if allow is not None:
            self._allow = allow
        self._sync_all()

    def tools(self, allow: Optional[Allow] = None) -> Dict[str, Any]:
        """A new dict with the tools of the connected servers (and the resource tools)."""
        out: Dict[str, Any] = {}
        for server in self.servers.values():
            for tool in self._server_tools(server):
                if (allow is None or allow(tool.spec.name)) and tool.spec.name not in out:
                    out[tool.spec.name] = tool
        for tool in self._resource_tool_objects():
            if allow is None or allow(tool.spec.name):
                out[tool.spec.name] = tool
        return out

    def _server_tools(self, server: McpServer) -> List[Any]:
        from claw.mcp.tools import McpTool

        if server.status != CONNECTED:
            return []
        return [McpTool(server, definition) for definition in server.tools]

    def _resource_tool_objects(self) -> List[Any]:
        from claw.mcp.tools import ListMcpResourcesTool, ReadMcpResourceTool

        if not self.resource_servers():
            return []
        return [ListMcpResourcesTool(self), ReadMcpResourceTool(self)]

    def _changed(self, server: McpServer) -> None:
        self._sync(server)
        self._sync_resources()

    def _sync_all(self) -> None:
        for server in self.servers.values():
            self._sync(server)
        self._sync_resources()

    def _sync(self, server: McpServer) -> None:
        tools = self._bound
        if tools is None:
            return
        for name in self._added.pop(server.name, []):
            tools.pop(name, None)
        added: List[str] = []
        # a server that failed after connecting keeps its tools: a call reconnects or says why not
        keep = server.status == CONNECTED or (server._ever_connected and server.status != DISABLED)
        for definition in server.tools if keep else []:
            from claw.mcp.tools import McpTool

            tool = McpTool(server, definition)
            name = tool.spec.name
            if not self._allow(name):
                continue
            if name in tools:
                self._warn(f"MCP tool {name!r} of server {server.name!r} has the name of another tool; skipped")
                continue
            tools[name] = tool
            added.append(name)
        self._added[server.name] = added

    def _sync_resources(self) -> None:
        tools = self._bound
        if tools is None:
            return
        for name in self._resource_tools:
            tools.pop(name, None)
        self._resource_tools = []
        for tool in self._resource_tool_objects():
            name = tool.spec.name
            if self._allow(name) and name not in tools:
                tools[name] = tool
                self._resource_tools.append(name)

    def _warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    # -- changes while the run lives ------------------------------------------------------------

    async def add(self, entry: ServerEntry) -> McpServer:
        """Connect one more server (bounded by its connect timeout) and merge its tools; its status
        says whether that worked. A server of the same name is replaced."""
        if entry.name in self.servers:
            await self.remove(entry.name)
        server = self._new_server(entry)
        self.servers[entry.name] = server
        await self._connect(server)
        return server

    async def remove(self, name: str) -> None:
        """Shut server ``name`` down and forget it; its tools leave the bound dict."""
        server = self.servers.pop(name, None)
        if server is None:
            return
        await self._shut(server)
        self._drop_tools(name)

    async def disable(self, name: str) -> McpServer:
        """Shut server ``name`` down and keep it listed with status ``disabled``; its tools leave."""
        server = self._known(name)
        await self._shut(server)
        server.status, server.error, server.hint = DISABLED, None, None
        self._drop_tools(name)
        return server

    async def reconnect(self, name: str) -> McpServer:
        """Close server ``name``'s connection (if any) and connect anew with the same entry; its tools
        are listed again. Also how a disabled server is enabled."""
        old = self._known(name)
        await self._shut(old)
        server = self._new_server(old.entry)
        self.servers[name] = server
        await self._connect(server)
        return server

    def _known(self, name: str) -> McpServer:
        server = self.servers.get(name)
        if server is None:
            known = ", ".join(sorted(self.servers)) or "none"
            raise UsageError(f"no MCP server named {name!r}", hint=f"the run's MCP servers: {known}",
                             kind="unknown_mcp_server")
        return server

    async def _connect(self, server: McpServer) -> None:
        task = asyncio.ensure_future(server.connect())
        self._tasks[server.name] = task
        await asyncio.wait({task})
        self._sync(server)  # connect() notified the change already; a failure to connect does not
        self._sync_resources()

    async def _shut(self, server: McpServer) -> None:
        task = self._tasks.pop(server.name, None)
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})
        try:
            await asyncio.wait_for(server.aclose(), CLOSE_WAIT)
        except asyncio.TimeoutError:
            pass

    def _drop_tools(self, name: str) -> None:
        tools = self._bound
        for tool in self._added.pop(name, []):
            if tools is not None:
                tools.pop(tool, None)
        self._sync_resources()

    # -- lookups and status ----------------------------------------------------------------------

    def server(self, name: str) -> Optional[McpServer]:
        return self.servers.get(name)

    def resource_servers(self) -> List[McpServer]:
        return [s for s in self.servers.values() if s.status == CONNECTED and "resources" in s.capabilities]

    def status(self, *, detail: bool = False) -> List[Dict[str, Any]]:
        return [server.status_entry(detail=detail) for server in self.servers.values()]

    # -- prompts ---------------------------------------------------------------------------------

    def prompt_commands(self) -> List[Any]:
        """The connected servers' prompts as ``claw.mcp.prompts.PromptCommand`` values."""
        from claw.mcp.prompts import PromptArgument, PromptCommand
        from claw.mcp.tools import tool_name

        out: List[Any] = []
        for server in self.servers.values():
            if server.status != CONNECTED:
                continue
            for prompt in server.prompts:
                arguments = []
                for arg in prompt.get("arguments") or []:
                    if isinstance(arg, dict) and isinstance(arg.get("name"), str):
                        arguments.append(PromptArgument(arg["name"], str(arg.get("description") or ""),
                                                        arg.get("required") is True))
                description = prompt.get("description") or prompt.get("title") or ""
                out.append(PromptCommand(tool_name(server.name, prompt["name"]), server.name, prompt["name"],
                                         str(description), tuple(arguments)))
        return out

    async def run_prompt(self, command: str, arg_text: str = "") -> str:
        """The text of prompt ``command`` (``mcp__server__prompt``, with or without ``/``) with its
        arguments taken from ``arg_text`` (words in the declared order; the last takes the rest).
        Raises UsageError for an unknown prompt or a missing required argument, ToolFailure when the
        server fails."""
        from claw.mcp.prompts import split_prompt_args
        from claw.mcp.results import prompt_text

        name = command.lstrip("/")
        match = next((c for c in self.prompt_commands() if c.name == name), None)
        if match is None:
            raise UsageError(f"unknown MCP prompt /{name}",
                             hint="see /mcp for the connected servers and their prompts")
        values = split_prompt_args(arg_text, len(match.arguments))
        arguments: Dict[str, str] = {}
        for spec, value in zip(match.arguments, values):
            arguments[spec.name] = value
        missing = [a.name for a in match.arguments if a.required and a.name not in arguments]
        if missing:
            raise UsageError(f"/{name}: missing {', '.join(missing)}", hint=f"usage: {match.usage}")
        result = await self.servers[match.server].get_prompt(match.prompt, arguments)
        return prompt_text(result)

    # -- shutdown --------------------------------------------------------------------------------

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in self._tasks.values():
            if not task.done():
                task.cancel()
        closers = [asyncio.ensure_future(server.aclose()) for server in self.servers.values()]
        if closers:
            done, pending = await asyncio.wait(closers, timeout=CLOSE_WAIT)
            for task in pending:
                task.cancel()
        for task in self._tasks.values():
            if task.done() and not task.cancelled():
                task.exception()


def _bare(items: Iterable[str]) -> List[str]:
    from claw.tools.registry import split_tool_list

    return [item for item in split_tool_list(list(items)) if "(" not in item]


_RESOURCE_ALIASES = {"ListMcpResourcesTool": "list_mcp_resources", "ReadMcpResourceTool": "read_mcp_resource"}


def tool_filter(*, disallowed: Iterable[str] = (), deny_rules: Iterable[str] = (),
                tools_flag: Optional[str] = None) -> Allow:
    """The ``allow(name)`` predicate for MCP tool names (see the module docstring)."""
    from claw.tools.registry import split_tool_list

    removed = [_RESOURCE_ALIASES.get(n, n) for n in _bare(disallowed) + _bare(deny_rules)]
    selected: Optional[List[str]] = None
    if tools_flag is not None and tools_flag.strip() != "default":
        names = [_RESOURCE_ALIASES.get(n, n) for n in split_tool_list(tools_flag)]
        mcp = [n for n in names if n.startswith("mcp__") or n in _RESOURCE_ALIASES.values()]
        if mcp:
            selected = mcp

    def matches(rule: str, name: str) -> bool:
        if rule == name:
            return True
        if rule.endswith("__*"):
            return name.startswith(rule[:-1])
        if rule.startswith("mcp__") and rule.count("__") == 1:  # mcp__server: the whole server
            return name.startswith(rule + "__")
        return False

    def allow(name: str) -> bool:
        if any(matches(rule, name) for rule in removed):
            return False
        if selected is not None:
            return any(matches(rule, name) for rule in selected)
        return True

    return allow

