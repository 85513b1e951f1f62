"""Opening a run: ``open_run(options, sink=..., prompter=...)`` does, in order and once, everything a
run needs before the first request, and fails with a classified error before any byte leaves the
process, with nothing left open: the settings (read once and kept), the effective environment
(settings ``env`` overlaid), the network config every connection uses, the remote-session relay, the
MCP servers (spawned first, so they boot while the rest is assembled), the model and its provider
(credentials checked here; fallback models chained behind it), the tool set, the permission policy,
the session (new, resumed, continued or forked), hooks, the system prompt, custom commands, skills,
subagent definitions and the redactor that keeps this run's secrets out of its output and session
file. A subagent's options (``RunOptions.parent``) are built by claw.runtime.subagents instead.

Deliberately not here: the ``Run`` object and what a live run can change (claw.runtime.run).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from claw.errors import UsageError
from claw.runtime.run import DEFAULT_MODE, Run, RunInfo, RunOptions

if TYPE_CHECKING:
    from claw.api.client import ResolvedModel
    from claw.api.provider import Provider
    from claw.config.loader import LoadedSettings
    from claw.config.models import Settings
    from claw.net.config import NetConfig
    from claw.redact import Redactor
    from claw.remote.bootstrap import RemoteSetup
    from claw.runtime.agent_defs import AgentCatalog, AgentDefinition
    from claw.runtime.events import EventSink
    from claw.runtime.session_store import Session
    from claw.runtime.subagents import Subagents
    from claw.tools.base import ToolContext, ToolResult
    from claw.runtime.tool_calls import Prompter


def load_settings_for(options: RunOptions) -> Tuple["LoadedSettings", Dict[str, str]]:
    """The settings of ``options`` and the effective environment (no network, no credentials)."""
    from claw.config.environment import effective_env
    from claw.config.loader import load_settings

    base = dict(os.environ if options.base_env is None else options.base_env)
    sources = list(options.setting_sources) if options.setting_sources is not None else None
    loaded = load_settings(str(options.cwd), base, options.settings_file, setting_sources=sources)
    return loaded, effective_env(loaded.settings, base)


async def open_run(options: RunOptions, *, sink: "EventSink", prompter: Optional["Prompter"] = None,
                   connect_mcp: bool = True) -> Run:
    """The run of ``options``, ready for its first turn. ``connect_mcp=False`` leaves the wait for the
    MCP servers to ``Run.connect_mcp()`` (the REPL shows a spinner meanwhile). Raises ``ClawError``
    (``UsageError`` for bad options or settings) with nothing left open."""
    from claw.config.environment import network_config
    from claw.mcp.startup import launch_for_run, may_have_servers

    if options.parent is not None:  # a subagent: a child of a running run (claw.runtime.subagents)
        from claw.runtime.subagents import assemble_child

        return assemble_child(options, sink=sink, prompter=prompter)
    cwd = options.cwd
    if not cwd.is_dir():
        raise UsageError(f"--cwd {str(cwd)!r} is not a directory")
    loaded, env = load_settings_for(options)
    settings = loaded.settings
    net = network_config(settings, env)
    roots = _workspace_roots(options, settings)

    # Remote sessions: the upstream-proxy relay, failing open. Its shaped environment reaches tools,
    # hooks, MCP servers and claw's own requests; a relay that cannot start costs one warning line.
    remote = _start_remote(env, net)
    if remote.notice:
        loaded = _with_warning(loaded, remote.notice)
    if remote.shaping.active:
        env = remote.shaping.apply(env)
        net = network_config(settings, env)
    launched = plugins = None
    try:
        extra: List[Any] = []
        if options.plugin_dirs or settings.enabled_plugins:  # only then: the plugin modules
            from claw.runtime.plugin_loader import open_plugins

            plugins = open_plugins(options.plugin_dirs, loaded, env, str(cwd))
            extra = [] if options.strict_mcp_config else plugins.mcp_servers()
        if extra or may_have_servers(str(cwd), loaded, options.mcp_config, options.strict_mcp_config):
            launched = await launch_for_run(cwd=str(cwd), env=env, net_config=net, loaded_settings=loaded,
                                            mcp_config=options.mcp_config, strict=options.strict_mcp_config,
                                            roots=[str(r) for r in roots], extra=extra)
        run = _assemble(options, loaded, env, net, roots, remote, sink=sink, prompter=prompter, plugins=plugins)
    except BaseException:
        try:
            if launched is not None:
                await launched.aclose()
        finally:
            remote.close()
        raise
    run._launched, run._mcp_pending = launched, True
    if connect_mcp:
        try:
            await run.connect_mcp()
        except BaseException:
            await run.aclose()
            raise
    return run


def _assemble(options: RunOptions, loaded: "LoadedSettings", env: Dict[str, str], net: "NetConfig",
              roots: List[Path], remote: "RemoteSetup", *, sink: "EventSink",
              prompter: Optional["Prompter"], plugins: Any = None) -> Run:
    """Everything of ``open_run`` that needs no waiting, in dependency order."""
    from claw.api.client import resolve_model
    from claw.config.sources import config_home
    from claw.redact import Redactor
    from claw.runtime.agent import Agent, AgentSettings
    from claw.runtime import model_options
    from claw.runtime.compaction import threshold_pct
    from claw.runtime.permissions import PermissionPolicy, parse_permission_mode
    from claw.runtime.system_prompt import build_system_prompt
    from claw.runtime.tool_calls import ToolCallRunner
    from claw.tools.base import ToolContext
    from claw.tools.registry import build_tools

    settings = loaded.settings
    cwd = options.cwd
    catalog, options = _agents_of(options, env, plugins)
    for warning in catalog.warnings if catalog is not None else ():
        loaded = _with_warning(loaded, warning)
    # This run's secrets (the effective environment's, settings env included, and the relay's token)
    # never reach its output or its session file.
    redactor = Redactor.from_env(env)
    if remote.context is not None:
        redactor.add_secret(remote.context.token)

    model_name = options.model or env.get("CLAW_MODEL") or env.get("ANTHROPIC_MODEL") or settings.model
    resolved = resolve_model(model_name, env, aliases=settings.aliases)
    fallbacks = model_options.fallback_models(options, settings, env, resolved)
    model_options.check_budget(options.max_budget_usd, [resolved] + fallbacks)

    mode_name = options.permission_mode or settings.permissions.default_mode or DEFAULT_MODE
    if options.skip_permissions:
        mode_name = "bypassPermissions"
    mode = parse_permission_mode(mode_name)

    plugin_tools = plugins.tool_names() if plugins is not None else ()  # names the flags and rules may use
    tools = build_tools(options.tools, list(options.disallowed_tools), extra=plugin_tools)
    extensions = None
    if not options.disable_slash_commands and (_has_extension_dirs(str(cwd), env, options.setting_sources) or (
            plugins is not None and (plugins.dirs("commands") or plugins.dirs("skills")))):
        from claw.runtime.extensions import open_extensions  # only a run with such a directory loads it

        extensions = open_extensions(str(cwd), env, loaded=loaded, setting_sources=options.setting_sources,
                                     plugins=plugins)
    policy = PermissionPolicy(
        mode=mode,
        workspace_roots=roots,
        allowed=list(options.allowed_tools),
        disallowed=list(options.disallowed_tools),
        allow_rules=settings.permissions.allow,
        deny_rules=settings.permissions.deny,
        ask_rules=settings.permissions.ask,
        cwd=cwd,
        config_home=config_home(env, str(cwd)),
        plugin_tools=plugin_tools,
    )
    notice = policy.use_sandbox(settings.raw, env, roots)
    if notice:
        loaded = _with_warning(loaded, notice)

    scratch = None
    if not options.persist_session:
        # A private directory removed when the run ends: nothing is written under the project (the
        # command line refuses --resume/--continue with --no-session-persistence).
        import tempfile

        scratch = tempfile.mkdtemp(prefix="claw-no-session-")
    session = _open_session(options, scratch, redactor, resolved.qualified)
    start_source = "resume" if options.resume or options.continue_latest else "startup"
    try:
        provider = _provider_for(resolved, loaded, env, net, cwd, redactor)
        model_options.attach_fallbacks(provider, fallbacks,
                                       lambda r: _provider_for(r, loaded, env, net, cwd, redactor))
        system = build_system_prompt(cwd=cwd, model=resolved.model, env=env, custom_prompt=options.system_prompt,
                                     append_prompt=options.append_system_prompt,
                                     additional_dirs=[str(r) for r in roots[1:]],
                                     skills_text=extensions and extensions.prompt_section())
    except BaseException:
        session.close()
        if scratch is not None:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)
        raise
    hooks = None
    hook_map = settings.hooks if plugins is None else plugins.hooks(settings.hooks)
    if hook_map:
        from claw.runtime.hook_config import HooksConfig  # a run without hooks does not load these
        from claw.runtime.hooks import HookRunner

        hooks = HookRunner(HooksConfig.from_settings(hook_map), project_dir=cwd, env=env,
                           session_id=session.id, transcript_path=str(session.path))

    info = RunInfo(session_id=session.id, model=resolved.model, cwd=str(cwd), permission_mode=mode.value,
                   tools=list(tools), api_key_source=_key_source(provider))
    context = ToolContext(cwd=cwd, workspace_roots=tuple(roots), env=env, net_config=net,
                          is_read_denied=policy.read_denied_checker(),
                          session_dir=session.path.parent / session.id, sandbox=policy.sandbox)
    runner = ToolCallRunner(tools=tools, policy=policy, context=context, sink=sink, hooks=hooks,
                            prompter=prompter)
    agent = Agent(
        provider=provider,
        settings=AgentSettings(model=resolved.model, system_prompt=system.text, max_turns=options.max_turns,
                               thinking=model_options.thinking_of(options, env, settings),
                               betas=tuple(options.betas), context_window=resolved.info.context_window,
                               autocompact_pct=threshold_pct(env), max_budget_usd=options.max_budget_usd,
                               effort=options.effort or settings.effort_level),
        tool_runner=runner,
        session=session,
        hooks=hooks,
        sink=sink,
        cost_of=model_options.cost_function(provider),
    )
    if options.json_schema is not None:  # the StructuredOutput tool and its turn rules
        from claw.runtime.structured_output import enable

        enable(agent, options.json_schema, env=env, listed=info.tools)
        info.structured = True
    run = Run(options=options, loaded=loaded, env=env, net_config=net, resolved=resolved, provider=provider,
              session=session, policy=policy, tools=runner, agent=agent, info=info, redactor=redactor,
              remote=remote, start_source=start_source, scratch=scratch)
    run.memory_files = system.instruction_files
    if extensions is not None:
        from claw.runtime.extension_tools import install

        run.extensions = extensions
        install(run)
    if plugins is not None:
        from claw.runtime.plugin_loader import install_tools

        run.plugins, run.info.plugins = plugins, plugins.info()
        install_tools(run, plugins)
        for text in [e.text() for e in plugins.errors] + plugins.warnings:
            run.loaded = _with_warning(run.loaded, text)
    if catalog is None:  # the built-in agent only: described without loading the subagent modules
        run.subagents = context.subagents = BuiltinSubagents(run)  # type: ignore[assignment]
    else:
        from claw.runtime.subagents import Subagents

        run.subagents = context.subagents = Subagents(run, catalog)
    _wire(context, run)
    run.subagents.describe()
    return run


def _wire(context: "ToolContext", run: Run) -> None:
    """The run's own callables on its tools' context: web_fetch's side model call, plan mode's exit."""
    async def ask(system: str, prompt: str) -> Tuple[str, object]:
        from claw.runtime.side_query import side_query

        return await side_query(run, system, prompt)

    context.side_query = ask
    context.leave_plan = run.leave_plan


def _has_extension_dirs(cwd: str, env: Mapping[str, str], sources: Optional[Sequence[str]]) -> bool:
    """Whether any command or skill directory exists (``claw.runtime.extensions.candidate_dirs`` lists
    them in order); a few stats, so that a run without any imports nothing for them."""
    from claw.config.sources import config_home, expand_user

    roots = []
    if sources is None or {"project", "local"} & set(sources):
        roots += [os.path.join(cwd, ".claw"), os.path.join(cwd, ".claude")]
    if sources is None or "user" in sources:
        roots += [config_home(env, cwd), env.get("CLAUDE_CONFIG_DIR") or os.path.join(expand_user("~", env), ".claude")]
    return any(os.path.isdir(os.path.join(root, kind)) for root in roots for kind in ("commands", "skills"))


def _agents_of(options: RunOptions, env: Dict[str, str], plugins: Any = None
               ) -> Tuple[Optional["AgentCatalog"], RunOptions]:
    """The run's subagent definitions, and ``options`` as ``--agent NAME`` changes them (that agent's
    prompt, tools and model for the main thread, unless the flags name their own). None when there
    can be no other definition than the built-in one (no ``--agents``, ``--agent`` or agent directory):
    the run then describes that one without loading claw.runtime.agent_defs (``BuiltinSubagents``)."""
    if not options.agents_json and options.agent is None and not _has_agent_dirs(
            options.cwd, env, options.setting_sources) and not (plugins and any(p.manifest.agents for p in plugins.loaded)):
        return None, options
    from claw.runtime.agent_defs import load_catalog

    catalog = load_catalog(options.cwd, env, setting_sources=options.setting_sources, flag_json=options.agents_json)
    if plugins is not None:
        plugins.add_agents(catalog)
    if options.agent is None:
        return catalog, options
    definition = catalog.get(options.agent)
    if definition is None:
        raise UsageError(f"--agent: no agent named {options.agent!r}", hint="agents: " + ", ".join(catalog.names()))
    tools = options.tools
    if tools is None:
        tools = definition.tools_flag()
    return catalog, replace(options, system_prompt=options.system_prompt or definition.prompt or None,
                            model=options.model or definition.model, tools=tools,
                            disallowed_tools=tuple(options.disallowed_tools) + tuple(definition.disallowed_tools))


def _has_agent_dirs(cwd: Path, env: Mapping[str, str], sources: Optional[Sequence[str]]) -> bool:
    """Whether any directory ``agent_defs.load_catalog`` reads agent files from exists (a few stats)."""
    from claw.config.sources import config_home

    dirs = []
    if sources is None or "user" in sources:
        claude_home = env.get("CLAUDE_CONFIG_DIR") or os.path.join(env.get("HOME") or os.path.expanduser("~"),
                                                                   ".claude")
        dirs += [os.path.join(claude_home, "agents"), os.path.join(config_home(env, str(cwd)), "agents")]
    if sources is None or "project" in sources:
        dirs += [os.path.join(cwd, ".claude", "agents"), os.path.join(cwd, ".claw", "agents")]
    return any(os.path.isdir(d) for d in dirs)


class BuiltinSubagents:
    """``Run.subagents`` of a run whose only agent is the built-in ``general-purpose`` one (no agent
    directory, ``--agents`` or ``--agent``): it describes that agent as ``Subagents`` would, without
    importing claw.runtime.agent_defs and claw.runtime.subagents, and makes the real launcher
    (``real``) at the first thing only that can do: an agent call, ``/agents``, the SDK's
    ``initialize.agents``, a child run."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self._real: Optional["Subagents"] = None

    def real(self) -> "Subagents":
        if self._real is None:
            from claw.runtime.agent_defs import BUILTIN, AgentCatalog
            from claw.runtime.subagents import Subagents

            catalog = AgentCatalog()
            catalog.add([BUILTIN])
            self._real = Subagents(self.run, catalog)
        return self._real

    @property
    def catalog(self) -> "AgentCatalog":
        return self.real().catalog

    def listing(self) -> List[Dict[str, Any]]:
        if self._real is not None:
            return self._real.listing()
        from claw.tools.agent import GENERAL_PURPOSE, GENERAL_PURPOSE_DESCRIPTION

        return [{"name": GENERAL_PURPOSE, "description": GENERAL_PURPOSE_DESCRIPTION}]

    def describe(self) -> None:
        if self._real is not None:
            return self._real.describe()
        from claw.tools.agent import GENERAL_PURPOSE, GENERAL_PURPOSE_DESCRIPTION

        tool = self.run.tools.tools.get("agent")
        if tool is not None and hasattr(tool, "describe_agents"):
            tool.describe_agents([(GENERAL_PURPOSE, GENERAL_PURPOSE_DESCRIPTION, "*")])
        self.run.info.agents = [GENERAL_PURPOSE]

    def add(self, definitions: List["AgentDefinition"]) -> None:
        self.real().add(definitions)

    async def launch(self, tool_input: Mapping[str, Any], tool_use_id: str) -> "ToolResult":
        return await self.real().launch(tool_input, tool_use_id)


def _open_session(options: RunOptions, scratch: Optional[str], redactor: "Redactor", model: str) -> "Session":
    """New, ``--resume``, ``--continue``, ``--fork-session`` or ``--session-id``. A run that appends
    to the session holds its lock from here (``SessionInUse`` if another process does); a fork only
    reads the original."""
    from claw.runtime.session_store import SessionStore

    store = SessionStore(options.cwd if scratch is None else scratch, redact=redactor.redact_obj)
    lock = not options.fork_session
    if options.resume:
        session = store.open(options.resume, lock=lock)
    elif options.continue_latest:
        session = store.latest(lock=lock)
    else:
        return store.create(options.session_id, model=model, cwd=str(options.cwd))
    if options.fork_session:
        session = store.fork(session.id)
    return session


def _workspace_roots(options: RunOptions, settings: "Settings") -> List[Path]:
    roots = [options.cwd] + [Path(d).expanduser().resolve() for d in
                             list(options.add_dirs) + list(settings.permissions.additional_directories)]
    for root in roots[1:]:
        if not root.is_dir():
            raise UsageError(f"--add-dir {str(root)!r} is not a directory")
    return roots


def _start_remote(env: Dict[str, str], net: "NetConfig") -> "RemoteSetup":
    """``claw.remote.bootstrap.start_remote``: never raises; a ``RemoteSetup`` (off, inherited, up or
    failed with a one-line notice)."""
    from claw.remote.bootstrap import start_remote

    return start_remote(env, net)


def _with_warning(loaded: "LoadedSettings", text: str) -> "LoadedSettings":
    """``loaded`` with one more warning, printed by every output mode like the settings' own."""
    from claw.config.problems import WARNING, Problem

    return replace(loaded, problems=tuple(loaded.problems) + (Problem(WARNING, text),))


def _provider_for(resolved: "ResolvedModel", loaded: "LoadedSettings", env: Dict[str, str], net: "NetConfig",
                  cwd: Path, redactor: "Redactor") -> "Provider":
    """The provider of a resolved model, with credentials in their precedence (docs/CONFIGURATION.md):
    API key (env or apiKeyHelper), auth token, then the saved login (refreshed when it expires)."""
    from claw.api.client import ApiSettings, create_provider

    settings = loaded.settings
    auth = None
    if resolved.provider == "anthropic":
        from claw.auth.sources import anthropic_auth_for

        origin = loaded.origin(("apiKeyHelper",))
        auth = anthropic_auth_for(settings, env, net_config=net, cwd=str(cwd),
                                  helper_origin=origin.name if origin else None)
    api = ApiSettings.from_env(env, max_retries=settings.network.max_retries,
                               prompt_caching=settings.prompt_caching, custom_headers=settings.custom_headers)
    for secret in api.secrets():  # extra headers that carry credentials
        redactor.add_secret(secret)
    name = resolved.qualified if resolved.provider != "anthropic" else resolved.model
    provider = create_provider(name, env=env, net_config=net, aliases=settings.aliases, auth=auth, settings=api)
    # Cloud credentials (AWS keys and session tokens, Google keys and access tokens), also those fetched
    # later, go to the run's redactor.
    for name in ("watch_secrets", "share_secrets"):
        listen = getattr(provider.auth, name, None)
        if listen is not None:
            listen(redactor.add_secret)
    return provider


def _key_source(provider: "Provider") -> str:
    auth = getattr(provider, "auth", None)
    describe = getattr(auth, "describe", None)
    return describe() if describe else "none"
