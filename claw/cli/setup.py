"""Assemble a ready-to-run agent from the command line, the settings and the environment.

``prepare(args, ...)`` does everything a run needs before the first request, in order, and fails with a
classified error before any byte leaves the process: settings (``--settings`` last), the effective
environment (settings ``env`` overlaid), the network config (proxies, CAs) every connection will use,
the model and its provider (credentials checked here), the tool set (``--tools``,
``--disallowedTools``), the permission policy, the session (new, ``--resume``, ``--continue``,
``--session-id``, ``--fork-session``), hooks and the system prompt.

It does not run anything, print anything, or own the terminal: the caller passes the event sink and
the permission prompter of its output mode.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from claw.cli.args import RunArgs
from claw.errors import UsageError

DEFAULT_MODE = "danger-full-access"  # contract: fresh sessions default to danger-full-access


@dataclass
class Prepared:
    """Everything a run needs, set up by ``prepare``: agent, session, settings, MCP and what to close."""

    agent: Any
    session: Any
    provider: Any
    info: Any  # claw.cli.output.RunInfo
    policy: Any
    tool_runner: Any
    settings: Any
    env: Dict[str, str]
    net_config: Any
    resolved_model: Any
    start_source: str = "startup"  # SessionStart hook source: startup | resume
    mcp: Any = None  # claw.mcp.manager.McpManager once start_mcp ran
    remote: Any = None  # claw.remote.bootstrap.RemoteSetup: the upstream-proxy relay, when one runs
    scratch: Optional[str] = None  # --no-session-persistence: the private directory removed on close

    async def aclose(self) -> None:
        try:
            if self.mcp is not None:
                await self.mcp.aclose()
            await self.provider.aclose()
        finally:
            background = getattr(self.tool_runner.context, "background", None)
            if background is not None:
                background.terminate_all()
            self.session.close()
            if self.remote is not None:
                self.remote.close()
            if self.scratch is not None:
                import shutil

                shutil.rmtree(self.scratch, ignore_errors=True)


def project_dir(args: RunArgs) -> Path:
    if args.cwd:
        path = Path(args.cwd).expanduser()
        if not path.is_dir():
            raise UsageError(f"--cwd {args.cwd!r} is not a directory")
        return path.resolve()
    return Path(os.getcwd())


_last_load: List[Any] = []  # [(key, result)]: launch_mcp then prepare read the same files back to back


def load(args: RunArgs, cwd: Path, base_env: Optional[Dict[str, str]] = None):
    """Settings and the effective environment (no network, no credentials). A second call with the
    same arguments in the same run reuses the first result instead of reading every file again."""
    from claw.config.environment import effective_env
    from claw.config.loader import load_settings

    base = dict(os.environ if base_env is None else base_env)
    sources = getattr(args, "setting_sources", None)
    key = (str(cwd), args.settings, None if sources is None else tuple(sources), tuple(sorted(base.items())))
    if _last_load and _last_load[0][0] == key:
        loaded, env = _last_load[0][1]
        return loaded, dict(env)
    loaded = load_settings(str(cwd), base, args.settings, setting_sources=sources)
    result = (loaded, effective_env(loaded.settings, base))
    _last_load[:] = [(key, result)]
    return result[0], dict(result[1])


def prepare(args: RunArgs, *, sink: Any, prompter: Any = None, base_env: Optional[Dict[str, str]] = None
            ) -> Prepared:
    from claw.api.client import resolve_model
    from claw.cli import model_options
    from claw.cli.output import RunInfo
    from claw.config.environment import network_config
    from claw.config.sources import config_home
    from claw.runtime.agent import Agent, AgentSettings
    from claw.runtime.compaction import threshold_pct
    from claw.runtime.permissions import PermissionPolicy, parse_permission_mode
    from claw.runtime.session_store import SessionStore
    from claw.runtime.system_prompt import build_system_prompt
    from claw.runtime.tool_calls import ToolCallRunner
    from claw.tools.base import ToolContext
    from claw.redact import default_redactor
    from claw.tools.registry import build_tools

    cwd = project_dir(args)
    loaded, env = load(args, cwd, base_env)
    _last_load.clear()  # reused once (after launch_mcp), never across runs: the files may change
    settings = loaded.settings
    _refuse_required_sandbox(settings.raw)
    # Whatever secret the effective environment holds (settings env included) never reaches a file.
    default_redactor().add_env(env)
    net = network_config(settings, env)

    model_name = args.model or env.get("CLAW_MODEL") or env.get("ANTHROPIC_MODEL") or settings.model
    resolved = resolve_model(model_name, env, aliases=settings.aliases)
    fallbacks = model_options.fallback_models(args, settings, env, resolved)
    model_options.check_budget(args.max_budget_usd, [resolved] + fallbacks)

    mode_name = args.permission_mode or settings.permissions.default_mode or DEFAULT_MODE
    if args.dangerously_skip_permissions:
        mode_name = "bypassPermissions"
    mode = parse_permission_mode(mode_name)

    roots = [cwd] + [Path(d).expanduser().resolve() for d in
                     list(args.add_dir) + list(settings.permissions.additional_directories)]
    for root in roots[1:]:
        if not root.is_dir():
            raise UsageError(f"--add-dir {str(root)!r} is not a directory")

    tools = build_tools(args.tools, args.disallowed_tools)
    policy = PermissionPolicy(
        mode=mode,
        workspace_roots=roots,
        allowed=args.allowed_tools,
        disallowed=args.disallowed_tools,
        allow_rules=settings.permissions.allow,
        deny_rules=settings.permissions.deny,
        ask_rules=settings.permissions.ask,
        cwd=cwd,
        config_home=config_home(env, str(cwd)),
    )

    scratch = None
    if args.no_session_persistence:
        # The session lives in a private directory removed when the run ends: nothing is written under
        # the project (args.py refuses --resume/--continue with it).
        import tempfile

        scratch = tempfile.mkdtemp(prefix="claw-no-session-")
    store = SessionStore(cwd if scratch is None else scratch)
    # A run that appends to the session holds its lock from here (SessionInUse if another process
    # does); a fork only reads the original.
    if args.resume:
        session = store.open(args.resume, lock=not args.fork_session)
    elif args.continue_:
        session = store.latest(lock=not args.fork_session)
    else:
        session = None
    if session is not None and args.fork_session:
        session = store.fork(session.id)
    start_source = "resume" if session is not None else "startup"
    if session is None:
        session = store.create(args.session_id, model=resolved.qualified, cwd=str(cwd))

    provider = _provider_for(resolved, loaded, env, net, cwd)
    model_options.attach_fallbacks(provider, fallbacks, lambda r: _provider_for(r, loaded, env, net, cwd))

    # Remote sessions: the upstream-proxy relay, failing open. Its shaped environment reaches tools, hooks,
    # MCP servers and claw's own requests; a relay that cannot start costs one warning line, nothing else.
    remote = _start_remote(env, net)
    if remote.notice:
        loaded = _with_warning(loaded, remote.notice)
    if remote.shaping.active:
        env = remote.shaping.apply(env)
        net = network_config(settings, env)

    system = build_system_prompt(
        cwd=cwd,
        model=resolved.model,
        env=env,
        custom_prompt=system_prompt_override(args),
        append_prompt=append_prompt_of(args),
        additional_dirs=[str(r) for r in roots[1:]],
    )
    hooks = None
    if settings.hooks:
        from claw.runtime.hook_config import HooksConfig  # a run without hooks does not load these
        from claw.runtime.hooks import HookRunner

        hooks = HookRunner(HooksConfig.from_settings(settings.hooks), project_dir=cwd, env=env,
                           session_id=session.id, transcript_path=str(session.path))

    info = RunInfo(session_id=session.id, model=resolved.model, cwd=str(cwd), permission_mode=mode.value,
                   tools=list(tools), api_key_source=_key_source(provider))
    context = ToolContext(cwd=cwd, workspace_roots=tuple(roots), env=env, net_config=net,
                          is_read_denied=policy.read_denied_checker(),
                          session_dir=session.path.parent / session.id)
    runner = ToolCallRunner(tools=tools, policy=policy, context=context, sink=sink, hooks=hooks,
                            prompter=prompter)
    agent = Agent(
        provider=provider,
        settings=AgentSettings(model=resolved.model, system_prompt=system.text, max_turns=args.max_turns,
                               thinking=model_options.thinking_of(args, env, settings), betas=tuple(args.betas),
                               context_window=resolved.info.context_window,
                               autocompact_pct=threshold_pct(env), max_budget_usd=args.max_budget_usd,
                               effort=args.effort or settings.effort_level),
        tool_runner=runner,
        session=session,
        hooks=hooks,
        sink=sink,
        cost_of=model_options.cost_function(provider),
    )
    return Prepared(agent=agent, session=session, provider=provider, info=info, policy=policy,
                    tool_runner=runner, settings=loaded, env=env, net_config=net, resolved_model=resolved,
                    start_source=start_source, remote=remote, scratch=scratch)


def _start_remote(env: Dict[str, str], net: Any) -> Any:
    """``claw.remote.bootstrap.shared_remote``: never raises; a ``RemoteSetup`` (off, inherited, up or
    failed with a one-line notice), one per process (``launch_mcp`` and ``prepare`` share it)."""
    from claw.remote.bootstrap import shared_remote

    return shared_remote(env, net)


def _with_warning(loaded: Any, text: str) -> Any:
    """``loaded`` with one more warning, printed by every output mode like the settings' own."""
    from dataclasses import replace

    from claw.config.problems import WARNING, Problem

    return replace(loaded, problems=tuple(loaded.problems) + (Problem(WARNING, text),))


def _provider_for(resolved: Any, loaded: Any, env: Dict[str, str], net: Any, cwd: Path) -> Any:
    """The provider of a resolved model, with credentials in the contract's precedence: API key (env or
    apiKeyHelper), auth token, then the saved login (refreshed when it expires)."""
    from claw.api.client import ApiSettings, create_provider

    settings = loaded.settings
    auth = None
    if resolved.provider == "anthropic":
        from claw.auth.sources import anthropic_auth_for

        origin = loaded.origin(("apiKeyHelper",))
        auth = anthropic_auth_for(settings, env, net_config=net, cwd=str(cwd),
                                  helper_origin=origin.name if origin else None)
    api = ApiSettings.from_env(env, max_retries=settings.network.max_retries)
    name = resolved.qualified if resolved.provider != "anthropic" else resolved.model
    return create_provider(name, env=env, net_config=net, aliases=settings.aliases, auth=auth, settings=api)


def system_prompt_override(args: RunArgs) -> Optional[str]:
    if args.system_prompt_file:
        try:
            return Path(args.system_prompt_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read --system-prompt-file {args.system_prompt_file!r}: "
                             f"{exc.strerror or exc}") from None
    return args.system_prompt


def append_prompt_of(args: RunArgs) -> Optional[str]:
    """``--append-system-prompt`` and ``--append-system-prompt-file`` (both may be given: file last)."""
    parts = [args.append_system_prompt] if args.append_system_prompt else []
    if args.append_system_prompt_file:
        try:
            parts.append(Path(args.append_system_prompt_file).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read --append-system-prompt-file {args.append_system_prompt_file!r}: "
                             f"{exc.strerror or exc}") from None
    return "\n\n".join(parts) if parts else None


def _refuse_required_sandbox(raw: Any) -> None:
    """Settings that require a sandbox (``sandbox.enabled`` with ``failIfUnavailable``, as the SDKs'
    ``sandbox`` option sends): claw has none, so it refuses rather than run unsandboxed."""
    sandbox = raw.get("sandbox") if hasattr(raw, "get") else None
    if isinstance(sandbox, dict) and sandbox.get("enabled") is True and sandbox.get("failIfUnavailable") is True:
        raise UsageError("claw: sandbox settings with failIfUnavailable are not supported by this claw version "
                         "yet: claw has no command sandbox", hint="drop the sandbox option (or set "
                         "failIfUnavailable: false to run unsandboxed with a warning)",
                         kind="unsupported_option")


def _key_source(provider: Any) -> str:
    auth = getattr(provider, "auth", None)
    describe = getattr(auth, "describe", None)
    return describe() if describe else "none"


async def switch_model(prepared: Prepared, name: Optional[str]) -> str:
    """``/model NAME`` and the SDK's ``set_model``: a new provider when needed; returns the model id.
    ``None`` goes back to the default model."""
    from claw.api.client import resolve_model

    aliases = prepared.settings.settings.aliases
    resolved = resolve_model(name, prepared.env, aliases=aliases)
    from claw.cli.model_options import cost_function, move_fallbacks

    provider = _provider_for(resolved, prepared.settings, prepared.env, prepared.net_config, Path(prepared.info.cwd))
    old, prepared.provider = prepared.provider, provider
    dropped = move_fallbacks(old, provider)  # --fallback-model stays behind the new model
    prepared.agent.provider = provider
    prepared.agent.settings.model = resolved.model
    prepared.agent.settings.context_window = resolved.info.context_window
    prepared.agent.cost_of = cost_function(provider)
    prepared.resolved_model = resolved
    prepared.info.model = resolved.model
    prepared.session.set_model(resolved.qualified)
    for unused in [old] + dropped:
        await unused.aclose()
    return resolved.model


def set_permission_mode(prepared: Prepared, name: str) -> str:
    """``/permissions MODE`` and the SDK's ``set_permission_mode``; returns the canonical mode name."""
    from claw.runtime.permissions import parse_permission_mode

    mode = parse_permission_mode(name)
    prepared.policy.mode = mode
    prepared.info.permission_mode = mode.value
    prepared.session.set_permission_mode(prepared.info.permission_mode)
    return prepared.info.permission_mode


async def launch_mcp(args: RunArgs, base_env: Optional[Dict[str, str]] = None) -> Any:
    """Before ``prepare``: read the MCP config and spawn the servers (``initialize`` sent, answers
    not awaited), so they boot while the run is prepared. None when no server is configured.
    Raises UsageError for an unreadable --mcp-config. Pass the result to ``start_mcp``; if the run
    fails before that, ``await manager.aclose()``."""
    from claw.config.environment import network_config
    from claw.mcp.startup import launch_for_run, may_have_servers

    cwd = project_dir(args)
    loaded, env = load(args, cwd, base_env)
    if not may_have_servers(str(cwd), loaded, args.mcp_config, args.strict_mcp_config):
        return None
    settings = loaded.settings
    # remote sessions: MCP servers get the relay's shaped environment too (the relay is shared with prepare)
    env = _start_remote(env, network_config(settings, env)).shaping.apply(env)
    roots = [str(cwd)] + [str(Path(d).expanduser().resolve()) for d in
                          list(args.add_dir) + list(settings.permissions.additional_directories)]
    return await launch_for_run(cwd=str(cwd), env=env, net_config=network_config(settings, env),
                                loaded_settings=loaded, mcp_config=args.mcp_config,
                                strict=args.strict_mcp_config, roots=roots)


_NOT_LAUNCHED: Any = object()


async def start_mcp(prepared: Prepared, args: RunArgs, launched: Any = _NOT_LAUNCHED) -> None:
    """Connect the MCP servers (settings, ./.mcp.json, --mcp-config) with a bounded wait, add their
    tools to the run's tool set and their status to ``info.mcp_servers``. ``launched`` is what
    ``launch_mcp`` returned (launched here when not given). A server that fails is a status, never
    an error; an unreadable --mcp-config raises UsageError. Without servers ``prepared.mcp`` stays
    None and nothing MCP is imported."""
    from claw.mcp.startup import finish_for_run, launch_for_run

    if launched is _NOT_LAUNCHED:
        launched = await launch_for_run(
            cwd=prepared.info.cwd, env=prepared.env, net_config=prepared.net_config,
            loaded_settings=prepared.settings, mcp_config=args.mcp_config, strict=args.strict_mcp_config,
            roots=[str(r) for r in prepared.policy.workspace_roots])
    prepared.mcp = launched
    if launched is None:
        return
    tools = prepared.tool_runner.tools
    before = set(tools)
    await finish_for_run(launched, tools=tools, disallowed=args.disallowed_tools,
                         deny_rules=prepared.settings.settings.permissions.deny, tools_flag=args.tools)
    prepared.info.tools.extend(name for name in tools if name not in before)
    prepared.info.mcp_servers = launched.status() + [
        s for s in prepared.info.mcp_servers if s.get("name") not in launched.servers]


def mcp_notices(prepared: Prepared) -> List[str]:
    """Warnings for the user about MCP config problems and servers that did not connect."""
    manager = prepared.mcp
    if manager is None:
        return []
    out = [f"claw: warning: {text}" for text in manager.warnings]
    for server in manager.servers.values():
        if server.status in ("failed", "needs-auth"):
            out.append(f"claw: warning: MCP server {server.name!r} {server.status}: {server.error}"
                       + (f" (hint: {server.hint})" if server.hint else ""))
        elif server.status == "pending":
            out.append(f"claw: note: MCP server {server.name!r} is still connecting; its tools join "
                       "when it is ready (raise CLAW_MCP_TIMEOUT, in ms, to wait longer)")
    return out
