"""``claw mcp``: list, inspect, add and remove MCP servers; serve claw's tools over MCP.

    claw mcp list [--json] [--timeout S]            every configured server, connected once to show its status
    claw mcp get NAME [--json] [--timeout S]        one server in detail (exit 1 when it does not connect)
    claw mcp add NAME [options] -- COMMAND [ARGS...] a stdio server
    claw mcp add NAME --transport http|sse|ws URL   a remote server (http is inferred from an http(s) URL)
    claw mcp add-json NAME JSON                      an entry written as JSON
    claw mcp remove NAME [--scope S]
    claw mcp serve [--permission-mode MODE] ...      claw's built-in tools as a stdio MCP server

Scopes for add/remove: ``local`` (./.claw/settings.local.json, the default: yours, this project),
``project`` (./.mcp.json, shared with the project, Claude Code's file) and ``user``
($CLAW_CONFIG_HOME/settings.json, every project). Files are changed atomically with unrelated keys
kept (claw.config.writer).

This module parses argv, calls claw.mcp and claw.config, and prints; values of ``env`` and
``headers`` are never printed. Exit codes: 0 ok, 1 a server that does not connect (``get``) or a
name that is not configured, 2 usage and configuration errors.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

from claw.cli.config_cmd import Output, run_actions
from claw.errors import ClawError, ConfigError, UsageError

SCOPES = ("local", "project", "user")
DEFAULT_SCOPE = "local"
TRANSPORTS = ("stdio", "http", "sse", "ws")

DESCRIPTION = """\
Manage the MCP servers claw connects to, or serve claw's own tools over MCP.

Servers come from settings "mcpServers" (user, project, local files), ./.mcp.json (Claude Code's
format) and --mcp-config. See docs/MCP.md.
"""

ADD_EPILOG = """\
examples:
  claw mcp add time -- uvx mcp-server-time
  claw mcp add -e GITHUB_TOKEN='${GITHUB_TOKEN}' github -- npx -y @modelcontextprotocol/server-github
  claw mcp add --transport http docs https://mcp.example.com/mcp -H 'Authorization: Bearer ${DOCS_TOKEN}'
  claw mcp add --transport sse legacy http://127.0.0.1:9000/sse --scope project
${VAR} and ${VAR:-default} are expanded when claw connects, not when the entry is written.
"""

SERVE_DESCRIPTION = """\
Serve claw's built-in tools (bash, read_file, write_file, edit_file, glob_search, grep_search, web_fetch,
web_search, todo_write) to an MCP client over stdin/stdout.

The client's host should ask its user before each call; claw applies its own permission policy as
well. The default mode is read-only: only tools that cannot change anything are listed and run.
Pass --permission-mode workspace-write to allow file edits inside the workspace (--cwd and
--add-dir), or danger-full-access to allow everything (bash included). Settings permissions
(allow/deny/ask rules) apply; a call that would need approval is refused, since claw cannot ask.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{self.prog[len('claw '):]}: {message}", hint=f"run '{self.prog} --help'")


def _build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--cwd", metavar="DIR", help="project directory (default: the current directory)")
    common.add_argument("--settings", metavar="FILE|JSON", help="extra settings file or inline JSON")

    def sources(p: argparse.ArgumentParser) -> None:
        p.add_argument("--mcp-config", action="append", default=[], metavar="FILE|JSON",
                       help="more servers, as in a run (repeatable)")
        p.add_argument("--strict-mcp-config", action="store_true", help="only the --mcp-config servers")
        p.add_argument("--timeout", type=float, metavar="SECONDS",
                       help="how long to wait for servers to connect (default 10, or CLAW_MCP_TIMEOUT ms)")
        p.add_argument("--json", action="store_true", help="print JSON")

    parser = _Parser(prog="claw mcp", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)

    p = sub.add_parser("list", parents=[common], help="list the configured servers and whether they connect",
                       description="List every configured MCP server with its transport, target, where it is "
                       "configured, and its status after one connection attempt (all in parallel).")
    sources(p)

    p = sub.add_parser("get", parents=[common], help="show one server in detail",
                       description="Show one server's configuration (env and header values hidden), connect "
                       "to it and show its status, tools and prompts, or why it failed. Exits 1 when it "
                       "does not connect.")
    p.add_argument("name", metavar="NAME")
    sources(p)

    p = sub.add_parser("add", parents=[common], help="add a server",
                       usage="claw mcp add NAME [options] -- COMMAND [ARGS...]\n"
                             "       claw mcp add NAME [options] URL",
                       description="Add an MCP server to one scope's file.", epilog=ADD_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", metavar="NAME")
    p.add_argument("target", nargs="*", metavar="COMMAND|URL", help="the command and its args, or the URL")
    p.add_argument("-t", "--transport", choices=TRANSPORTS,
                   help="stdio (default for a command), http (default for an http(s) URL), sse, ws")
    p.add_argument("-s", "--scope", choices=SCOPES, default=DEFAULT_SCOPE,
                   help="local (default): ./.claw/settings.local.json; project: ./.mcp.json; "
                        "user: $CLAW_CONFIG_HOME/settings.json")
    p.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE",
                   help="environment variable for a stdio server (repeatable)")
    p.add_argument("-H", "--header", action="append", default=[], metavar="'NAME: VALUE'",
                   help="HTTP header for a remote server (repeatable)")
    p.add_argument("--server-cwd", metavar="DIR", help="working directory of a stdio server")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="per-request timeout for this server")
    p.add_argument("--force", action="store_true", help="replace a server of the same name in that scope")

    p = sub.add_parser("add-json", parents=[common], help="add a server written as JSON",
                       description="Add an MCP server from its JSON entry, e.g. "
                       "'{\"type\": \"http\", \"url\": \"https://mcp.example.com/mcp\"}'.")
    p.add_argument("name", metavar="NAME")
    p.add_argument("json", metavar="JSON")
    p.add_argument("-s", "--scope", choices=SCOPES, default=DEFAULT_SCOPE, help="local (default), project or user")
    p.add_argument("--force", action="store_true", help="replace a server of the same name in that scope")

    p = sub.add_parser("remove", parents=[common], help="remove a server",
                       description="Remove a server from the scope's file. Without --scope, from the one scope "
                       "that has it (local, project or user).")
    p.add_argument("name", metavar="NAME")
    p.add_argument("-s", "--scope", choices=SCOPES, help="local, project or user")

    p = sub.add_parser("serve", help="serve claw's tools to an MCP client over stdio",
                       description=SERVE_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cwd", metavar="DIR", help="workspace directory (default: the current directory)")
    p.add_argument("--settings", metavar="FILE|JSON", help="extra settings file or inline JSON")
    p.add_argument("--permission-mode", metavar="MODE",
                   help="read-only (default), workspace-write, danger-full-access (or Claude Code's names)")
    p.add_argument("--dangerously-skip-permissions", action="store_true", help="same as danger-full-access")
    p.add_argument("--tools", metavar="LIST", help="the tools to offer (default: all built-ins)")
    p.add_argument("--allowedTools", "--allowed-tools", dest="allowed_tools", action="append", default=[],
                   metavar="LIST", help="rules that pre-approve calls, e.g. \"Bash(git status:*)\"")
    p.add_argument("--disallowedTools", "--disallowed-tools", dest="disallowed_tools", action="append",
                   default=[], metavar="LIST", help="tools removed and rules that deny calls")
    p.add_argument("--add-dir", action="append", default=[], metavar="DIR", help="another workspace directory")
    return parser


def _dumps(value: Any, indent: Optional[int] = 2) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, indent=indent, default=str)


# -- list and get ----------------------------------------------------------------------------------


def _load(args: Any, env: Dict[str, str]) -> Tuple[Any, Dict[str, str], Any]:
    """(loaded settings, effective env, net config) for the project directory."""
    from claw.config.environment import effective_env, network_config
    from claw.config.loader import load_settings

    loaded = load_settings(args.cwd, env, args.settings, strict=False)
    effective = effective_env(loaded.settings, env)
    return loaded, effective, network_config(loaded.settings, effective)


def _manager(args: Any, env: Dict[str, str], out: Output, only: Optional[str] = None) -> Any:
    from claw.mcp.config import load_mcp_config
    from claw.mcp.manager import McpManager, startup_wait_from_env

    loaded, effective, net = _load(args, env)
    config = load_mcp_config(args.cwd, effective, loaded=loaded, mcp_config=args.mcp_config,
                             strict=args.strict_mcp_config)
    if loaded.settings.enabled_plugins and not args.strict_mcp_config:  # the enabled plugins' servers too
        from claw.runtime.plugin_loader import add_enabled_servers

        for problem in add_enabled_servers(config, loaded, effective, args.cwd):
            out.warn(problem)
    from claw.config.loader import UNTRUSTED_WARNING

    for problem in loaded.warnings:  # the project's servers are skipped in an untrusted folder: say so
        if problem.message.startswith(UNTRUSTED_WARNING) and not args.strict_mcp_config:
            out.warn(problem.message)
    for warning in config.warnings:
        out.warn(warning)
    if only is not None:
        if only not in config.servers:
            names = ", ".join(config.servers) or "none"
            raise ClawError(f"no MCP server named {only!r}", kind="not_found",
                            hint=f"configured servers: {names}; add one with 'claw mcp add'")
        config.servers = {only: config.servers[only]}
    wait = args.timeout if args.timeout is not None else startup_wait_from_env(effective)
    return McpManager(config, env=effective, net_config=net, cwd=args.cwd, startup_wait=wait,
                      connect_timeout=wait)


async def _connect(manager: Any) -> None:
    try:
        await manager.start()
    finally:
        await manager.aclose()


def _status_text(server: Any) -> str:
    if server.status == "connected":
        count = len(server.tools)
        return f"connected ({count} tool{'s' if count != 1 else ''})"
    if server.status == "needs-auth":
        return f"needs authentication: {server.error}"
    if server.status == "pending":
        return "still connecting when the wait ended"
    return f"failed: {server.error}"


def _list(args: Any, env: Dict[str, str], out: Output) -> int:
    import asyncio

    manager = _manager(args, env, out)
    if not manager.servers:
        if args.json:
            out.line("[]")
        else:
            out.line("No MCP servers configured. Add one with 'claw mcp add', in ./.mcp.json, or in settings "
                     "\"mcpServers\".")
        return 0
    asyncio.run(_connect(manager))
    if args.json:
        items = []
        for server in manager.servers.values():
            item = server.status_entry(detail=True)
            item["source"] = server.entry.source
            items.append(item)
        out.line(_dumps(items))
        return 0
    for server in manager.servers.values():
        entry = server.entry
        out.line(f"{server.name}: {entry.target} ({entry.transport}, {entry.origin}) - {_status_text(server)}")
    return 0


def _get(args: Any, env: Dict[str, str], out: Output) -> int:
    import asyncio

    manager = _manager(args, env, out, only=args.name)
    server = manager.servers[args.name]
    asyncio.run(_connect(manager))
    if args.json:
        item = server.status_entry(detail=True)
        item["source"] = server.entry.source
        if server.prompts:
            item["prompts"] = [p.get("name") for p in server.prompts]
        if server.status != "connected":
            item["diagnostics"] = server.diagnostics()
        out.line(_dumps(item))
        return 0 if server.status == "connected" else 1
    entry = server.entry
    raw = entry.raw if isinstance(entry.raw, dict) else {}
    out.line(f"{server.name}:")
    out.line(f"  Scope: {entry.origin}")
    out.line(f"  Type: {entry.transport}" + (" (connected as legacy SSE)" if server.transport_used == "sse"
                                              and entry.transport == "http" else ""))
    if "command" in raw:
        out.line(f"  Command: {raw.get('command')}")
        if raw.get("args"):
            out.line(f"  Args: {' '.join(str(a) for a in raw.get('args') or [])}")
        if raw.get("cwd"):
            out.line(f"  Cwd: {raw.get('cwd')}")
        if isinstance(raw.get("env"), dict) and raw["env"]:
            out.line(f"  Environment: {', '.join(f'{k}=***' for k in raw['env'])}")
    else:
        out.line(f"  URL: {raw.get('url', '')}")
        if isinstance(raw.get("headers"), dict) and raw["headers"]:
            out.line(f"  Headers: {', '.join(f'{k}: ***' for k in raw['headers'])}")
    if raw.get("timeout"):
        out.line(f"  Timeout: {raw.get('timeout')}s")
    out.line(f"  Status: {_status_text(server)}")
    if server.status == "connected":
        info = server.server_info
        out.line(f"  Server: {info.get('name', '?')} {info.get('version', '')} (MCP {server.protocol_version})")
        if server.tools:
            out.line(f"  Tools: {', '.join(t['name'] for t in server.tools)}")
        if server.prompts:
            out.line(f"  Prompts: {', '.join('/' + c.name for c in manager.prompt_commands())}")
        if "resources" in server.capabilities:
            out.line("  Resources: yes (list_mcp_resources, read_mcp_resource)")
        return 0
    if server.hint:
        out.line(f"  Hint: {server.hint}")
    diagnostics = server.diagnostics()
    if diagnostics:
        out.line("  Diagnostics (last lines):")
        for line in diagnostics.splitlines()[-10:]:
            out.line(f"    {line}")
    return 1


# -- add and remove --------------------------------------------------------------------------------


def _scope_source(scope: str, cwd: str, env: Dict[str, str]) -> Any:
    from claw.config.sources import SettingsSource, config_home, scope_file

    if scope == "project":
        return SettingsSource("project", os.path.join(cwd, ".mcp.json"), "json", cwd)
    path = scope_file(scope, cwd, env)
    base = config_home(env, cwd) if scope == "user" else cwd
    return SettingsSource(scope, path, "json", base)


def _check_name(name: str) -> None:
    import re

    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise UsageError(f"invalid server name {name!r}",
                         hint="use letters, digits, '_', '-' and '.' (the name becomes part of tool names)")


def _validate(name: str, entry: Dict[str, Any], source: Any, env: Dict[str, str], out: Output) -> None:
    from claw.config.problems import INVALID
    from claw.config.schema import clean_mcp_servers
    from claw.mcp.expand import expand_entry

    expanded, missing = expand_entry(entry, env)
    if missing:
        out.warn(f"{', '.join(missing)} not set now; claw expands it when it connects")
        return
    _, problems = clean_mcp_servers({name: expanded}, source)
    for problem in problems:
        if problem.level == INVALID:
            raise UsageError(problem.message.split(": ", 1)[-1], hint=problem.hint)
        out.warn(problem.message)


def _write_entry(args: Any, env: Dict[str, str], out: Output, entry: Dict[str, Any]) -> int:
    from claw.config.writer import read_object, set_value, write_object

    _check_name(args.name)
    source = _scope_source(args.scope, args.cwd, env)
    _validate(args.name, entry, source, env, out)
    data = read_object(source)
    servers = data.get("mcpServers")
    if servers is not None and not isinstance(servers, dict):
        raise ConfigError(f"{source.path}: \"mcpServers\" is not an object", hint="fix the file first")
    if servers and args.name in servers and not args.force:
        raise ConfigError(f"MCP server {args.name!r} already exists in the {args.scope} scope ({source.path})",
                          hint=f"remove it first (claw mcp remove {args.name} --scope {args.scope}) or pass --force")
    path = write_object(source, set_value(data, ("mcpServers", args.name), entry))
    out.line(f"Added {entry.get('type', 'stdio')} MCP server {args.name!r} to the {args.scope} scope ({path})")
    return 0


def _split_pairs(items: List[str], sep: str, what: str, example: str) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for item in items:
        key, found, value = item.partition(sep)
        key = key.strip()
        if not found or not key:
            raise UsageError(f"bad {what} {item!r}", hint=f"write it as {example}")
        out[key] = value.strip() if sep == ":" else value
    return out


def _add(args: Any, env: Dict[str, str], out: Output) -> int:
    target = list(args.target) + list(getattr(args, "after_dashes", []))
    if not target:
        raise UsageError("mcp add: give the server's command (after --) or its URL",
                         hint="e.g. claw mcp add time -- uvx mcp-server-time")
    transport = args.transport
    first = target[0]
    lowered = first.lower()
    if transport is None:
        if lowered.startswith(("ws://", "wss://")):
            transport = "ws"
        elif lowered.startswith(("http://", "https://")):
            transport = "http"
        else:
            transport = "stdio"
    entry: Dict[str, Any] = {"type": transport}
    if transport == "stdio":
        if args.header:
            raise UsageError("mcp add: --header is for http, sse and ws servers", hint="use -e KEY=VALUE for stdio")
        entry["command"] = first
        if target[1:]:
            entry["args"] = target[1:]
        if args.env:
            entry["env"] = _split_pairs(args.env, "=", "environment variable", "KEY=VALUE")
        if args.server_cwd:
            entry["cwd"] = args.server_cwd
    else:
        if len(target) != 1:
            raise UsageError(f"mcp add: a {transport} server takes one URL, got {len(target)} arguments",
                             hint="put headers in -H 'Name: value'")
        if args.env:
            raise UsageError("mcp add: -e is for stdio servers", hint="use -H 'Name: value' for headers")
        if args.server_cwd:
            raise UsageError("mcp add: --server-cwd is for stdio servers")
        entry["url"] = first
        if args.header:
            entry["headers"] = _split_pairs(args.header, ":", "header", "'Name: value'")
    if args.timeout is not None:
        entry["timeout"] = args.timeout
    return _write_entry(args, env, out, entry)


def _add_json(args: Any, env: Dict[str, str], out: Output) -> int:
    import json

    try:
        entry = json.loads(args.json)
    except ValueError as exc:
        raise UsageError(f"mcp add-json: not valid JSON: {exc}") from None
    if not isinstance(entry, dict):
        raise UsageError("mcp add-json: the entry must be a JSON object",
                         hint='e.g. {"type": "http", "url": "https://mcp.example.com/mcp"}')
    if entry.get("type") == "sdk":
        raise UsageError("mcp add-json: \"sdk\" servers live in an embedding SDK host, not in config files")
    return _write_entry(args, env, out, entry)


def _remove(args: Any, env: Dict[str, str], out: Output) -> int:
    from claw.config.writer import read_object, unset_value, write_object

    scopes = [args.scope] if args.scope else list(SCOPES)
    found = []
    for scope in scopes:
        source = _scope_source(scope, args.cwd, env)
        data = read_object(source)
        servers = data.get("mcpServers")
        if isinstance(servers, dict) and args.name in servers:
            found.append((scope, source, data))
    if not found:
        where = f"the {args.scope} scope" if args.scope else "the local, project or user scope"
        raise ClawError(f"no MCP server named {args.name!r} in {where}", kind="not_found",
                        hint="'claw mcp list' shows every server and where it is configured")
    if len(found) > 1:
        raise UsageError(f"MCP server {args.name!r} is in several scopes: {', '.join(f[0] for f in found)}",
                         hint=f"pick one with --scope, e.g. claw mcp remove {args.name} --scope {found[0][0]}")
    scope, source, data = found[0]
    updated, _ = unset_value(data, ("mcpServers", args.name))
    if "mcpServers" not in updated and scope == "project":
        updated["mcpServers"] = {}  # keep .mcp.json in Claude Code's shape
    path = write_object(source, updated)
    out.line(f"Removed MCP server {args.name!r} from the {scope} scope ({path})")
    return 0


# -- serve -----------------------------------------------------------------------------------------


def _serve(args: Any, env: Dict[str, str], out: Output) -> int:
    import asyncio
    from pathlib import Path

    from claw.config.environment import effective_env, network_config
    from claw.config.loader import load_settings
    from claw.config.sources import config_home
    from claw.mcp.serve import ToolServer
    from claw.runtime.permissions import PermissionPolicy, parse_permission_mode
    from claw.tools.base import PermissionLevel, ToolContext
    from claw.tools.registry import BASH_COMPANIONS, build_tools, canonical_tool_name

    cwd = Path(args.cwd)
    if not cwd.is_dir():
        raise UsageError(f"--cwd {args.cwd!r} is not a directory")
    loaded = load_settings(str(cwd), env, args.settings)
    settings = loaded.settings
    effective = effective_env(settings, env)
    mode = parse_permission_mode("danger-full-access" if args.dangerously_skip_permissions
                                 else args.permission_mode or "read-only")
    roots = [cwd] + [Path(d).expanduser().resolve() for d in
                     list(args.add_dir) + list(settings.permissions.additional_directories)]
    tools = build_tools(args.tools, args.disallowed_tools)
    policy = PermissionPolicy(mode=mode, workspace_roots=roots, cwd=cwd, allowed=args.allowed_tools,
                              disallowed=args.disallowed_tools, allow_rules=settings.permissions.allow,
                              deny_rules=settings.permissions.deny, ask_rules=settings.permissions.ask,
                              config_home=config_home(effective, str(cwd)))
    policy.use_sandbox(settings.raw, effective, roots)
    context = ToolContext(cwd=cwd, workspace_roots=tuple(roots), env=effective,
                          net_config=network_config(settings, effective),
                          is_read_denied=policy.is_read_denied, sandbox=policy.sandbox)
    allowed_by_rule = {canonical_tool_name(rule.tool) or rule.tool for rule in policy.allow}

    def listed(tool: Any) -> bool:
        if mode.value == "danger-full-access":
            return True
        if tool.spec.name in BASH_COMPANIONS and "bash" in tools:  # no shells to act on without bash
            return listed(tools["bash"])
        return PermissionLevel(tool.spec.permission) <= mode.auto_level or tool.spec.name in allowed_by_rule

    def decide(tool: Any, tool_input: Dict[str, Any], paths: List[Any]) -> Tuple[Optional[str], Sequence[str]]:
        where = context.shell_cwd if tool.spec.name == "bash" else None  # a cd carries over
        decision = policy.decide(tool.spec.name, tool.spec, tool_input, paths, shell_cwd=where)
        if decision.outcome == "allow":
            return None, decision.paths
        if decision.outcome == "ask":
            return (f"{decision.reason}; claw mcp serve cannot ask for approval (see claw mcp serve --help)",
                    ())
        return decision.reason, ()

    for warning in policy.warnings:
        out.warn(warning)
    server = ToolServer(tools, context=context, decide=decide, listed=listed,
                        instructions=f"claw's tools for the workspace {cwd} (mode {mode.value}).")
    try:
        asyncio.run(server.serve_stdio())
    except KeyboardInterrupt:
        return 130
    finally:
        context.background.terminate_all()
        if policy.sandbox is not None:
            policy.sandbox.close()
    return 0


ACTIONS = {"list": _list, "get": _get, "add": _add, "add-json": _add_json, "remove": _remove, "serve": _serve}


def run(argv: List[str], env: Optional[Dict[str, str]] = None) -> int:
    """Entry point of ``claw mcp``: ``run(argv_after_mcp) -> exit code``."""
    argv = list(argv)
    after: List[str] = []
    if argv and argv[0] == "add" and "--" in argv:
        cut = argv.index("--")
        argv, after = argv[:cut], argv[cut + 1:]

    def prepare(args: argparse.Namespace) -> None:
        args.after_dashes = after

    return run_actions(_build_parser(), argv, ACTIONS, dict(os.environ if env is None else env), prepare)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1:]))
