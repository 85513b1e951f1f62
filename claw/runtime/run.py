"""One agent run from start to close: the object every front end (headless, stream-json, the REPL) and
a future child run (a subagent) is built around.

``open_run(options, sink=..., prompter=...)`` does, in order and once, everything a run needs before
the first request, and fails with a classified error before any byte leaves the process: the settings
(read once and kept), the effective environment (settings ``env`` overlaid), the network config every
connection uses, the remote-session relay, the MCP servers (spawned first, so they boot while the rest
is assembled), the model and its provider (credentials checked here), the tool set, the permission
policy, the session (new, resumed, continued or forked), hooks, the system prompt and the redactor
that keeps this run's secrets out of its output and session file. The ``Run`` it returns owns all of
them until ``aclose()`` (or the end of ``async with``), which closes them in the right order even when
one of them fails.

What it deliberately does not do: parse flags, read prompt files, print, or own a terminal. The front
ends translate their input into ``RunOptions`` and the run's events (given to ``sink``) into their
output; ``claw.cli.setup.run_options`` is that translation for the command line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from claw.errors import UsageError

if TYPE_CHECKING:
    from claw.api.client import ResolvedModel
    from claw.api.provider import Provider
    from claw.config.loader import LoadedSettings
    from claw.config.models import Settings
    from claw.mcp.manager import McpManager
    from claw.net.config import NetConfig
    from claw.redact import Redactor
    from claw.remote.bootstrap import RemoteSetup
    from claw.runtime.agent import Agent, Prompt
    from claw.runtime.checkpoints import CheckpointStore
    from claw.runtime.extensions import Extensions
    from claw.runtime.agent_defs import AgentCatalog
    from claw.runtime.events import EventSink, TurnOutcome
    from claw.runtime.hook_config import HookSpec
    from claw.runtime.hooks import HookCallback, HookRunner
    from claw.runtime.permissions import PermissionPolicy
    from claw.runtime.session_store import Session, SessionStore
    from claw.runtime.subagents import ParentLink, Subagents
    from claw.runtime.tool_calls import Prompter, ToolCallRunner
    from claw.tools.base import Tool

DEFAULT_MODE = "danger-full-access"  # fresh sessions default to danger-full-access (docs/CLI.md)


@dataclass(frozen=True)
class RunOptions:
    """What a front end asks of a run, already read: prompt files are text here, paths are as given.

    ``None`` means "as the settings and the environment say"."""

    cwd: Path
    settings_file: Optional[str] = None  # --settings: a file or inline JSON, applied last
    setting_sources: Optional[Tuple[str, ...]] = None  # --setting-sources; None: every scope
    model: Optional[str] = None
    permission_mode: Optional[str] = None
    skip_permissions: bool = False  # --dangerously-skip-permissions
    add_dirs: Tuple[str, ...] = ()
    tools: Optional[str] = None  # --tools: the offered set ("" none, "default" all)
    allowed_tools: Tuple[str, ...] = ()
    disallowed_tools: Tuple[str, ...] = ()
    resume: Optional[str] = None
    continue_latest: bool = False
    fork_session: bool = False
    session_id: Optional[str] = None
    persist_session: bool = True  # False: the session lives in a private directory removed on close
    system_prompt: Optional[str] = None  # replaces claw's own
    append_system_prompt: Optional[str] = None
    max_turns: Optional[int] = None
    max_thinking_tokens: Optional[int] = None
    thinking: Optional[str] = None  # --thinking: adaptive | enabled | disabled
    effort: Optional[str] = None  # --effort: low | medium | high | xhigh | max
    fallback_model: Optional[str] = None  # --fallback-model: comma-separated, tried in order
    max_budget_usd: Optional[float] = None  # --max-budget-usd: no request once the session cost reached it
    betas: Tuple[str, ...] = ()
    mcp_config: Tuple[str, ...] = ()  # --mcp-config values: files or inline JSON
    strict_mcp_config: bool = False
    json_schema: Optional[Dict[str, Any]] = None  # --json-schema: the answer must be a value of this schema
    base_env: Optional[Mapping[str, str]] = None  # the process environment; None: os.environ
    disable_slash_commands: bool = False  # --disable-slash-commands: no custom commands, MCP prompts, skills
    agents_json: Optional[str] = None  # --agents: subagent definitions as JSON (claw.runtime.agent_defs)
    agent: Optional[str] = None  # --agent: the main thread runs as this agent (its prompt, tools, model)
    # A subagent's run (claw.runtime.subagents.ParentLink): built from its parent's pieces, its history a
    # sidechain of the parent's session; None for a main run.
    parent: Optional["ParentLink"] = None


@dataclass
class RunInfo:
    """What the init line and the result object say about the run besides the outcome; kept current
    by the ``Run`` (``/model``, ``set_permission_mode``, MCP tools that join, ``/clear``)."""

    session_id: str
    model: str
    cwd: str
    permission_mode: str
    tools: List[str] = field(default_factory=list)
    mcp_servers: List[Dict[str, Any]] = field(default_factory=list)
    api_key_source: str = "none"
    structured: bool = False  # --json-schema: text mode prints the value on stdout, the prose on stderr
    commands: List[Dict[str, str]] = field(default_factory=list)  # {name, description, argumentHint}
    skills: List[str] = field(default_factory=list)
    agents: List[str] = field(default_factory=list)  # the subagent definitions' names (system/init)


def load_settings_for(options: RunOptions) -> Tuple["LoadedSettings", Dict[str, str]]:
    """The settings of ``options`` and the effective environment (no network, no credentials)."""
    from claw.config.environment import effective_env
    from claw.config.loader import load_settings

    base = dict(os.environ if options.base_env is None else options.base_env)
    sources = list(options.setting_sources) if options.setting_sources is not None else None
    loaded = load_settings(str(options.cwd), base, options.settings_file, setting_sources=sources)
    return loaded, effective_env(loaded.settings, base)


class Run:
    """A prepared run: the agent and everything it uses, owned from ``open_run`` to ``aclose``."""

    def __init__(self, *, options: RunOptions, loaded: "LoadedSettings", env: Dict[str, str],
                 net_config: "NetConfig", resolved: "ResolvedModel", provider: "Provider", session: "Session",
                 policy: "PermissionPolicy", tools: "ToolCallRunner", agent: "Agent", info: RunInfo,
                 redactor: "Redactor", remote: "RemoteSetup", start_source: str,
                 scratch: Optional[str]) -> None:
        self.options = options
        self.loaded = loaded
        self.env = env
        self.net_config = net_config
        self.resolved_model = resolved
        self.provider = provider
        self.session = session
        self.policy = policy
        self.tools = tools
        self.agent = agent
        self.info = info
        self.redactor = redactor
        self.remote = remote
        self.start_source = start_source  # SessionStart hook source: startup | resume
        self.mcp: Optional["McpManager"] = None
        self.start_thinking = agent.settings.thinking  # what set_max_thinking_tokens(None) goes back to
        self.memory_files: Tuple[Any, ...] = ()  # the instruction files in the system prompt (PromptSource)
        self.extensions: Optional["Extensions"] = None  # custom commands and skills (claw.runtime.extensions)
        self.subagents: Optional["Subagents"] = None  # the agent tool's launcher (claw.runtime.subagents)
        self._launched: Optional["McpManager"] = None
        self._mcp_pending = False
        self._scratch = scratch
        self._closed = False
        self._host_uuid: Optional[str] = None  # the host's id of the prompt being run (SDK rewindFiles)
        self._aliases: Dict[str, str] = {}  # host message id -> session message uuid
        agent.turn_started = self._turn_started

    # -- start and close -------------------------------------------------------------------------

    async def connect_mcp(self) -> None:
        """Wait (bounded) for the MCP servers launched by ``open_run`` and add their tools; a server
        that fails is a status in ``info.mcp_servers``, never an error. Once; later calls do nothing."""
        if not self._mcp_pending:
            return
        self._mcp_pending = False
        manager, self._launched = self._launched, None
        self.mcp = manager
        if manager is None:
            return
        from claw.mcp.startup import finish_for_run

        tools = self.tools.tools
        before = set(tools)
        await finish_for_run(manager, tools=tools, disallowed=self.options.disallowed_tools,
                             deny_rules=self.loaded.settings.permissions.deny, tools_flag=self.options.tools)
        self.info.tools.extend(name for name in tools if name not in before)
        self.info.mcp_servers = manager.status() + [
            s for s in self.info.mcp_servers if s.get("name") not in manager.servers]
        if not self.options.disable_slash_commands:  # MCP prompts run as /mcp__server__prompt
            self.info.commands.extend({"name": c.name, "description": f"{c.description} (MCP)".strip(),
                                       "argumentHint": " ".join(c.usage.split()[1:])}
                                      for c in manager.prompt_commands())

    async def aclose(self) -> None:
        """Close MCP servers, the provider's connections, background jobs, the session (its lock),
        the relay and the scratch directory; each even when an earlier one fails. Twice is harmless."""
        if self._closed:
            return
        self._closed = True
        try:
            for manager in (self.mcp, self._launched):
                if manager is not None:
                    await manager.aclose()
            await self.provider.aclose()
        finally:
            background = getattr(self.tools.context, "background", None)
            if background is not None:
                background.terminate_all()
            self.session.close()
            if self.options.parent is None:  # a child run uses its parent's relay
                self.remote.close()
            if self._scratch is not None:
                import shutil

                shutil.rmtree(self._scratch, ignore_errors=True)

    async def __aenter__(self) -> "Run":
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.aclose()
        except Exception:  # closing a connection must not hide (or replace) the run's own outcome
            pass

    # -- turns -----------------------------------------------------------------------------------

    async def turn(self, prompt: "Prompt", *, verbatim: bool = False,
                   user_uuid: Optional[str] = None) -> "TurnOutcome":
        """One user turn to its end; the session file is synced whatever happens. A prompt that starts
        with ``/name`` of a custom command or an MCP prompt runs that command (``claw.runtime.extensions``;
        a denied ``!`command``` raises ``ToolFailure`` before anything is sent), unless ``verbatim``.
        ``user_uuid``: the host's id for this prompt, accepted by ``rewind_files`` besides claw's own
        message uuid."""
        self._host_uuid = user_uuid
        try:
            if not verbatim and (self.extensions is not None or self.mcp is not None) and _may_name_command(prompt):
                from claw.runtime.extensions import expand_prompt, run_command_turn

                command = await expand_prompt(self, prompt)
                if command is not None:
                    return await run_command_turn(self, command)
            return await self.agent.run(prompt)
        finally:
            if self.extensions is not None:
                self.extensions.end_turn(self.policy)  # rules a command or skill added: this turn only
            self.session.sync()

    @property
    def hooks(self) -> Optional["HookRunner"]:
        return self.agent.hooks  # type: ignore[return-value]

    def notices(self) -> List[str]:
        """Lines for the user before the first turn: settings problems, MCP config problems and
        servers that did not connect (after ``connect_mcp``). The skipped lines of a damaged session
        file are ``session.warnings`` (the JSON formats report them as messages of the run)."""
        extensions = list(self.extensions.notes) if self.extensions is not None else []
        return [f"claw: warning: {problem.message}" for problem in self.loaded.warnings] + extensions + self.mcp_notices()

    def mcp_notices(self) -> List[str]:
        """MCP config problems and servers that did not connect (after ``connect_mcp``)."""
        manager = self.mcp
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

    # -- changes while the run lives -------------------------------------------------------------

    async def switch_model(self, name: Optional[str]) -> str:
        """``/model NAME`` and the SDK's ``set_model``: a new provider when needed; returns the model
        id. ``None`` goes back to the default model."""
        from claw.api.client import resolve_model
        from claw.runtime.model_options import cost_function, move_fallbacks

        resolved = resolve_model(name, self.env, aliases=self.loaded.settings.aliases)
        provider = _provider_for(resolved, self.loaded, self.env, self.net_config, self.options.cwd, self.redactor)
        old, self.provider = self.provider, provider
        dropped = move_fallbacks(old, provider)  # --fallback-model stays behind the new model
        self.agent.provider = provider
        self.agent.settings.model = resolved.model
        self.agent.settings.context_window = resolved.info.context_window
        self.agent.cost_of = cost_function(provider)
        self.resolved_model = resolved
        self.info.model = resolved.model
        self.info.api_key_source = _key_source(provider)
        self.session.set_model(resolved.qualified)
        for unused in [old] + dropped:
            await unused.aclose()
        return resolved.model

    def set_permission_mode(self, name: str) -> str:
        """``/permissions MODE`` and the SDK's ``set_permission_mode``; returns the canonical name."""
        from claw.runtime.permissions import parse_permission_mode

        mode = parse_permission_mode(name)
        self.policy.mode = mode
        self.info.permission_mode = mode.value
        self.session.set_permission_mode(mode.value)
        hooks = self.hooks
        if hooks is not None:
            hooks.permission_mode = mode.value
        return mode.value

    def set_max_thinking_tokens(self, tokens: Optional[int]) -> Optional[Dict[str, Any]]:
        """The SDK's ``set_max_thinking_tokens``: a budget for the following requests, ``0`` off,
        ``None`` back to the run's start-up setting; returns the new ``thinking`` object."""
        from claw.api.thinking import request_thinking

        if tokens is None:
            thinking = self.start_thinking
        else:
            thinking = request_thinking(int(tokens) if tokens > 0 else False)
        self.agent.settings.thinking = thinking
        return thinking

    def ensure_mcp(self) -> "McpManager":
        """The run's MCP manager; one without servers is created for a run that started with none,
        so a host can add some (with the run's tool filter, as configured servers have)."""
        if self.mcp is None:
            from claw.mcp.startup import empty_for_run

            if self._launched is not None:  # connect_mcp() has not collected the configured servers yet
                raise UsageError("the run's MCP servers are still starting", hint="try again in a moment")
            self._mcp_pending = False
            self.mcp = empty_for_run(env=self.env, net_config=self.net_config, cwd=str(self.options.cwd),
                                     roots=[str(r) for r in self.policy.workspace_roots], tools=self.tools.tools,
                                     disallowed=self.options.disallowed_tools,
                                     deny_rules=self.loaded.settings.permissions.deny, tools_flag=self.options.tools)
        return self.mcp

    def refresh_mcp_info(self, gone: Sequence[str] = ()) -> None:
        """``info.tools`` and ``info.mcp_servers`` after MCP servers changed while the run lives:
        tools that left are dropped, new ones appended; servers in ``gone`` are no longer listed."""
        present = self.tools.tools
        mcp = [n for n in self.info.tools if n.startswith("mcp__") or "_mcp_resource" in n]  # resource tools too
        names = [n for n in self.info.tools if n in present or n not in mcp]
        names += [n for n in present if n not in names]
        self.info.tools[:] = names
        manager = self.mcp
        hosted = manager.status() if manager is not None else []
        listed = {s["name"] for s in hosted}
        self.info.mcp_servers = hosted + [s for s in self.info.mcp_servers
                                          if s.get("name") not in listed and s.get("name") not in gone]

    def remove_tools(self, names: Sequence[str]) -> None:
        """Tools that leave (an SDK MCP server the host removed or disabled)."""
        for name in names:
            self.tools.tools.pop(name, None)
            if name in self.info.tools:
                self.info.tools.remove(name)

    def set_system_prompt(self, custom: Optional[str], append: Optional[str]) -> None:
        """Rebuild the system prompt with another custom prompt and appended text (the SDK's
        ``initialize`` carries them)."""
        from claw.runtime.system_prompt import build_system_prompt

        roots = list(self.policy.workspace_roots)
        system = build_system_prompt(cwd=self.options.cwd, model=self.agent.settings.model, env=self.env,
                                     custom_prompt=custom, append_prompt=append,
                                     additional_dirs=[str(r) for r in roots[1:]],
                                     skills_text=self.extensions and self.extensions.prompt_section())
        self.agent.settings.system_prompt = system.text
        self.memory_files = system.instruction_files

    def use_hooks(self, extra: Sequence["HookSpec"] = (), *, callback: Optional["HookCallback"] = None) -> None:
        """The settings' hooks plus ``extra`` (the host's callback hooks), in one runner used by the
        loop and the tool pipeline."""
        from claw.runtime.hook_config import HooksConfig
        from claw.runtime.hooks import HookRunner

        config = HooksConfig.from_settings(self.loaded.settings.hooks).plus(list(extra))
        runner = HookRunner(config, project_dir=self.options.cwd, env=self.env, session_id=self.session.id,
                            transcript_path=str(self.session.path), callback=callback,
                            permission_mode=self.info.permission_mode)
        self.agent.hooks = runner
        self.tools.hooks = runner

    def switch_session(self, session: "Session") -> None:
        """``/clear`` and ``/resume``: go on in ``session`` (the caller closes the old one)."""
        self.session = session
        self.agent.session = session
        self.info.session_id = session.id
        hooks = self.hooks
        if hooks is not None:
            hooks.session_id = session.id
            hooks.transcript_path = str(session.path)
        self.tools.context.session_dir = session.path.parent / session.id
        self.tools.checkpoints = None  # the new session's own, made at its first turn

    def add_tools(self, tools: Mapping[str, "Tool"]) -> List[str]:
        """Tools that join later (the host's SDK MCP servers); a name already taken keeps the first.
        Returns the names added."""
        added = []
        for name, tool in tools.items():
            if name not in self.tools.tools:
                self.tools.tools[name] = tool
                self.info.tools.append(name)
                added.append(name)
        return added

    def background_shells(self) -> List[Dict[str, Any]]:
        """The background shells of this run (``/bashes``, status), as ``BackgroundShell.describe``."""
        background = getattr(self.tools.context, "background", None)
        return [s.describe() for s in (background.all() if background is not None else [])]

    def _turn_started(self, uuid: str) -> None:
        if self._host_uuid:
            self._aliases[self._host_uuid] = uuid
        self.checkpoints().begin_turn(uuid, alias=self._host_uuid)

    def checkpoints(self) -> "CheckpointStore":
        """The file checkpoints of the current session (``claw.runtime.checkpoints``)."""
        if self.tools.checkpoints is None:
            from claw.runtime.checkpoints import CheckpointStore

            self.tools.checkpoints = CheckpointStore(self.session.path.parent / self.session.id / "checkpoints")
        return self.tools.checkpoints

    def user_turns(self) -> List[Tuple[str, str]]:
        """``(message uuid, prompt text)`` of the user prompts in the history: what ``/rewind`` offers."""
        from claw.runtime.checkpoints import user_prompts

        return user_prompts(self.session.messages, self.session.message_uuids)

    def rewind_files(self, user_message_id: str, dry_run: bool = False) -> Dict[str, Any]:
        """The SDK's ``rewindFiles``: the files changed since the prompt ``user_message_id`` (claw's
        uuid or the host's id for it) put back; the SDK's ``RewindFilesResult`` dict."""
        uuid = self._aliases.get(user_message_id, user_message_id)
        result = self.checkpoints().rewind(uuid, dry_run=dry_run, history=self.session.message_uuids)
        return result.to_sdk(dry_run=dry_run)

    def rewind_conversation(self, user_message_id: str) -> int:
        """Go on from just before the prompt ``user_message_id``: it and what followed leave the
        history (a ``rewind`` record in the session file). Returns how many messages left."""
        uuid = self._aliases.get(user_message_id, user_message_id)
        removed = self.session.append_rewind(uuid)
        self.agent._known_prompt = None  # the counted prompt is no longer the history
        self.session.sync()
        return removed

    def session_store(self) -> "SessionStore":
        """The store this run's sessions live in (``/resume``, ``/clear``)."""
        from claw.runtime.session_store import SessionStore

        return SessionStore(self._scratch or self.options.cwd, redact=self.redactor.redact_obj)


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
    _refuse_required_sandbox(settings.raw)
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
    launched = None
    try:
        if may_have_servers(str(cwd), loaded, options.mcp_config, options.strict_mcp_config):
            launched = await launch_for_run(cwd=str(cwd), env=env, net_config=net, loaded_settings=loaded,
                                            mcp_config=options.mcp_config, strict=options.strict_mcp_config,
                                            roots=[str(r) for r in roots])
        run = _assemble(options, loaded, env, net, roots, remote, sink=sink, prompter=prompter)
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
              prompter: Optional["Prompter"]) -> Run:
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
    catalog, options = _agents_of(options, env)
    for warning in catalog.warnings:
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

    tools = build_tools(options.tools, list(options.disallowed_tools))
    extensions = None
    if not options.disable_slash_commands and _has_extension_dirs(str(cwd), env, options.setting_sources):
        from claw.runtime.extensions import open_extensions  # only a run with such a directory loads it

        extensions = open_extensions(str(cwd), env, loaded=loaded, setting_sources=options.setting_sources)
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
    )

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
    from claw.runtime.subagents import Subagents

    run.subagents = context.subagents = Subagents(run, catalog)
    run.subagents.describe()
    return run


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


def _may_name_command(prompt: "Prompt") -> bool:
    """The prompt's text starts with ``/`` (cheap: the command is looked up only then)."""
    first = prompt[0] if isinstance(prompt, list) and prompt else prompt
    text = first.get("text", "") if isinstance(first, dict) and first.get("type") == "text" else first
    return isinstance(text, str) and text.lstrip().startswith("/")


def _agents_of(options: RunOptions, env: Dict[str, str]) -> Tuple["AgentCatalog", RunOptions]:
    """The run's subagent definitions, and ``options`` as ``--agent NAME`` changes them (that agent's
    prompt, tools and model for the main thread, unless the flags name their own)."""
    from claw.runtime.agent_defs import load_catalog

    catalog = load_catalog(options.cwd, env, setting_sources=options.setting_sources, flag_json=options.agents_json)
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


def _refuse_required_sandbox(raw: Mapping[str, object]) -> None:
    """Settings that require a sandbox (``sandbox.enabled`` with ``failIfUnavailable``, as the SDKs'
    ``sandbox`` option sends): claw has none, so it refuses rather than run unsandboxed."""
    sandbox = raw.get("sandbox") if hasattr(raw, "get") else None
    if isinstance(sandbox, dict) and sandbox.get("enabled") is True and sandbox.get("failIfUnavailable") is True:
        raise UsageError("claw: sandbox settings with failIfUnavailable are not supported by this claw version "
                         "yet: claw has no command sandbox", hint="drop the sandbox option (or set "
                         "failIfUnavailable: false to run unsandboxed with a warning)",
                         kind="unsupported_option")


def _key_source(provider: "Provider") -> str:
    auth = getattr(provider, "auth", None)
    describe = getattr(auth, "describe", None)
    return describe() if describe else "none"
