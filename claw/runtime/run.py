"""One agent run from start to close: the object every front end (headless, stream-json, the REPL) and
every subagent (a child run: claw.runtime.subagents) is built around.

``RunOptions`` is what a front end asks for, ``RunInfo`` what the outputs say about the run, and
``Run`` owns everything a run opened — provider, session, tools, policy, hooks, MCP manager, relay,
redactor, checkpoints — until ``aclose()`` (or the end of ``async with``), which closes them in the
right order even when one of them fails; its methods are the changes a live run accepts (model,
permission mode, thinking budget, MCP servers, system prompt, hooks, session, rewinds).
``open_run`` (claw.runtime.run_open) builds one.

What it deliberately does not do: parse flags, read prompt files, print, or own a terminal. The front
ends translate their input into ``RunOptions`` and the run's events (given to ``sink``) into their
output; ``claw.cli.setup.run_options`` is that translation for the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from claw.errors import UsageError

if TYPE_CHECKING:
    from claw.api.client import ResolvedModel
    from claw.api.provider import Provider
    from claw.config.loader import LoadedSettings
    from claw.mcp.manager import McpManager
    from claw.net.config import NetConfig
    from claw.redact import Redactor
    from claw.remote.bootstrap import RemoteSetup
    from claw.runtime.agent import Agent, Prompt
    from claw.runtime.checkpoints import CheckpointStore
    from claw.runtime.extensions import Extensions
    from claw.runtime.events import TurnOutcome
    from claw.runtime.hook_config import HookSpec
    from claw.runtime.hooks import HookCallback, HookRunner
    from claw.runtime.permissions import PermissionPolicy
    from claw.runtime.session_store import Session, SessionStore
    from claw.runtime.subagents import ParentLink, Subagents
    from claw.runtime.tool_calls import ToolCallRunner
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
    # --plugin-dir (the SDKs' plugins option): plugins for this run; "no-mcp:DIR" (--plugin-dir-no-mcp):
    # that plugin without its MCP servers
    plugin_dirs: Tuple[str, ...] = ()
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
    plugins: List[Dict[str, str]] = field(default_factory=list)  # {name, path} of the loaded plugins


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
        self.plugins: Any = None  # claw.runtime.plugin_loader.Plugins: loaded plugins and load errors
        self.subagents: Optional["Subagents"] = None  # the agent tool's launcher (claw.runtime.subagents)
        self._launched: Optional["McpManager"] = None
        self.pre_plan = "default"  # the mode plan mode was entered from (leave_plan goes back to it)
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
        the relay, the sandbox's temp directory and the scratch directory; each even when an earlier one fails. Twice is harmless."""
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
            if self.options.parent is None:  # a child run uses its parent's relay and sandbox
                self.remote.close()
                if self.policy.sandbox is not None:
                    self.policy.sandbox.close()
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
        from claw.runtime.run_open import _key_source

        resolved = resolve_model(name, self.env, aliases=self.loaded.settings.aliases)
        provider = self.provider_for(resolved)
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

    def provider_for(self, resolved: "ResolvedModel") -> "Provider":
        """A provider of ``resolved`` with this run's settings, credentials, network and redactor (a
        model switch, a subagent's model, web_fetch's small model)."""
        from claw.runtime.run_open import _provider_for

        return _provider_for(resolved, self.loaded, self.env, self.net_config, self.options.cwd, self.redactor)

    def set_permission_mode(self, name: str) -> str:
        """``/permissions MODE`` and the SDK's ``set_permission_mode``; returns the canonical name."""
        from claw.runtime.permissions import parse_permission_mode

        mode = parse_permission_mode(name)
        if mode.value == "read-only" != self.policy.mode.value:
            self.pre_plan = self.policy.mode.value
        self.policy.mode = mode
        self.info.permission_mode = mode.value
        self.session.set_permission_mode(mode.value)
        hooks = self.hooks
        if hooks is not None:
            hooks.permission_mode = mode.value
        return mode.value

    def leave_plan(self, mode: Optional[str] = None) -> str:
        """An approved plan (exit_plan_mode): switch to ``mode``, else out of plan mode to the mode
        before it (``default`` when the run started in plan); returns the mode now in force."""
        if mode or self.policy.mode.value == "read-only":
            return self.set_permission_mode(mode or self.pre_plan)
        return self.policy.mode.value

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
        self.tools.checkpoints = self.tools.checkpoint_factory = None  # the new session's own, made when needed

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
        host_uuid = self._host_uuid
        if host_uuid:
            self._aliases[host_uuid] = uuid
        if self.tools.checkpoints is not None or (self._checkpoint_dir() / "index.jsonl").is_file():
            self.checkpoints().begin_turn(uuid, alias=host_uuid)
            return

        def first_change() -> "CheckpointStore":  # the session's first kept file: the store starts now
            store = self.checkpoints()
            store.begin_turn(uuid, alias=host_uuid)
            return store

        self.tools.checkpoint_factory = first_change

    def _checkpoint_dir(self) -> Path:
        return self.session.path.parent / self.session.id / "checkpoints"

    def checkpoints(self) -> "CheckpointStore":
        """The file checkpoints of the current session (``claw.runtime.checkpoints``)."""
        if self.tools.checkpoints is None:
            from claw.runtime.checkpoints import CheckpointStore

            self.tools.checkpoints = CheckpointStore(self._checkpoint_dir())
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


def _may_name_command(prompt: "Prompt") -> bool:
    """The prompt's text starts with ``/`` (cheap: the command is looked up only then)."""
    first = prompt[0] if isinstance(prompt, list) and prompt else prompt
    text = first.get("text", "") if isinstance(first, dict) and first.get("type") == "text" else first
    return isinstance(text, str) and text.lstrip().startswith("/")
