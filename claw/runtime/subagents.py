"""Subagents: the ``agent`` tool's child runs — a child ``Run`` with other options, nothing more.

``Subagents.launch`` (reached by the ``agent`` tool through ``ToolContext.subagents``) picks the
definition (claw.runtime.agent_defs), fires ``SubagentStart``, opens a child run with
``open_run(RunOptions(parent=ParentLink(...)))``, runs the task as its one turn and returns its final text
as the tool result, with the child's ``TurnOutcome`` in the metadata so its usage and cost roll up into
the parent's. ``assemble_child`` is what ``open_run`` does for such options. What the child shares with
its parent and what it does not:

- shared: the settings, environment, network config, workspace roots and redactor; the permission
  policy (deny and ask rules, protected files, the host's session rules) with a mode never wider than
  the parent's current one; the prompter (permission questions go to the parent's user or host); the
  hooks (``Stop`` becomes ``SubagentStop``; ``UserPromptSubmit`` and session hooks do not fire for a
  child); the parent's MCP tools; cancellation (the child runs inside the parent's tool call, so
  interrupting the parent cancels it, its tools and hooks).
- its own: the context (a sidechain of the parent's session file: records marked ``isSidechain`` with
  the parent's ``tool_use_id``, never in the parent's history), system prompt, model, tools (the
  definition's list intersected with the parent's; no ``agent`` tool unless the definition names it,
  and never deeper than ``MAX_DEPTH``), ``max_turns``, and a fresh provider connection.

Events of the child reach the parent's sink wrapped in ``SubagentEvent`` (stream-json writes them with
``parent_tool_use_id``). Deliberately not here: reading definitions (agent_defs), scheduling several
agent calls at once (claw.runtime.tool_calls), writing output (claw.cli).
"""

from __future__ import annotations

import asyncio
import copy
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional

from claw.errors import ClawError
from claw.ids import uuid4

if TYPE_CHECKING:
    from claw.runtime.agent_defs import AgentCatalog, AgentDefinition
    from claw.runtime.events import EventSink
    from claw.runtime.run import Run, RunOptions
    from claw.runtime.tool_calls import Prompter
    from claw.tools.base import ToolResult

MAX_DEPTH = 3  # a child of the main thread is depth 1; an agent at MAX_DEPTH gets no agent tool
AGENT_TOOL = "agent"


@dataclass(frozen=True)
class ParentLink:
    """``RunOptions.parent``: the run a child belongs to, and the call that started it."""

    run: "Run"
    tool_use_id: str
    agent_id: str
    definition: "AgentDefinition"
    depth: int  # 1: a child of the main thread


class Subagents:
    """The launcher of one run's subagents (``Run.subagents``); its catalog may grow (``initialize``)."""

    def __init__(self, run: "Run", catalog: "AgentCatalog", *, depth: int = 0,
                 only: Optional[List[str]] = None) -> None:
        self.run = run
        self.catalog = catalog
        self.depth = depth
        self.only = only  # ``Agent(a, b)`` in the definition: the agent types this run may start
        self._asking: Optional[asyncio.Lock] = None  # one permission question of the children at a time

    def listing(self) -> List[Dict[str, Any]]:
        """The SDK's ``AgentInfo`` objects, in catalog order."""
        return [d.info() for d in self.catalog.agents.values()]

    def add(self, definitions: List["AgentDefinition"]) -> None:
        """Definitions that arrive while the run lives (the SDK's ``initialize.agents``)."""
        self.catalog.add(definitions)
        self.describe()

    def describe(self) -> None:
        """Put the catalog into the agent tool's description (what the model chooses from)."""
        tool = self.run.tools.tools.get(AGENT_TOOL)
        if tool is not None and hasattr(tool, "describe_agents"):
            tool.describe_agents([(d.name, d.description, ", ".join(d.tools) if d.tools is not None else "*")
                                  for d in self.catalog.agents.values()])
        self.run.info.agents = self.catalog.names()

    async def launch(self, tool_input: Mapping[str, Any], tool_use_id: str) -> "ToolResult":
        """Run one subagent to its end; its final text is the result (an error result when it failed)."""
        from claw.runtime.agent_defs import GENERAL_PURPOSE
        from claw.runtime.events import SubagentEvent
        from claw.runtime.run_open import open_run
        from claw.runtime.tool_calls import CHILD_OUTCOME
        from claw.tools.base import ToolResult

        kind = str(tool_input.get("subagent_type") or GENERAL_PURPOSE)
        definition = self.catalog.get(kind)
        if definition is None or (self.only is not None and kind not in self.only):
            names = self.catalog.names() if self.only is None else [n for n in self.catalog.names() if n in self.only]
            return ToolResult.error(f"Unknown subagent_type {kind!r}. Available agents: {', '.join(names)}.")
        if self.depth >= MAX_DEPTH:
            return ToolResult.error(f"Subagents may nest at most {MAX_DEPTH} deep; do this task yourself.")
        parent = self.run
        agent_id = "agent-" + uuid4().replace("-", "")[:16]
        hooks = parent.hooks
        extra = None
        if hooks is not None:
            start = await hooks.run("SubagentStart", {"agent_id": agent_id, "agent_type": kind})
            extra = start.additional_context
        model = tool_input.get("model") or definition.model
        link = ParentLink(run=parent, tool_use_id=tool_use_id, agent_id=agent_id, definition=definition,
                          depth=self.depth + 1)
        options = replace(parent.options, parent=link, model=model or parent.info.model, tools=None,
                          system_prompt=definition.prompt or None, append_system_prompt=None,
                          max_turns=definition.max_turns, json_schema=None, resume=None, continue_latest=False,
                          fork_session=False, session_id=None, agent=None, agents_json=None,
                          permission_mode=None, skip_permissions=False)
        parent_sink = parent.tools.sink

        def sink(event: Any) -> None:
            parent_sink(SubagentEvent(tool_use_id, event))

        started = time.monotonic()
        try:
            child = await open_run(options, sink=sink, prompter=self._prompter())
        except ClawError as exc:
            return ToolResult.error(f"The {kind} agent could not start: {exc}")
        async with child:
            if extra:
                child.agent.settings.extra_context.append(extra)
            outcome = await child.turn(str(tool_input.get("prompt") or ""))
        text = outcome.result or "(the agent finished without a final message)"
        if outcome.is_error:
            text = f"The {kind} agent did not finish ({outcome.subtype}): {text}"
        metadata = {CHILD_OUTCOME: outcome, "agent_id": agent_id, "subagent_type": kind, "model": child.info.model,
                    "prompt": str(tool_input.get("prompt") or ""), "tool_uses": len(outcome.tool_uses),
                    "duration_ms": int((time.monotonic() - started) * 1000), "usage": outcome.usage.to_dict(),
                    "total_tokens": outcome.usage.input_tokens + outcome.usage.output_tokens}
        return ToolResult(content=text, is_error=outcome.is_error, metadata=metadata)


    def _prompter(self) -> Optional["Prompter"]:
        """The parent's prompter, asked by one child at a time (concurrent children share a terminal)."""
        prompter = self.run.tools.prompter
        if prompter is None:
            return None
        if self._asking is None:
            self._asking = asyncio.Lock()
        lock = self._asking

        async def ask(request: Any) -> Any:
            async with lock:
                return await prompter(request)

        return ask


def assemble_child(options: "RunOptions", *, sink: "EventSink", prompter: Optional["Prompter"]) -> "Run":
    """``open_run`` for ``options.parent``: a child run built from its parent's pieces (module docstring)."""
    from claw.api.client import resolve_model
    from claw.runtime import model_options
    from claw.runtime.agent import Agent, AgentSettings
    from claw.runtime.compaction import threshold_pct
    from claw.runtime.run import Run, RunInfo
    from claw.runtime.system_prompt import build_system_prompt
    from claw.runtime.tool_calls import ToolCallRunner
    from claw.tools.base import ToolContext

    link: ParentLink = options.parent  # type: ignore[assignment]
    parent = link.run
    definition = link.definition
    loaded, env, net = parent.loaded, parent.env, parent.net_config
    cwd = options.cwd
    resolved = resolve_model(options.model, env, aliases=loaded.settings.aliases)
    policy = copy.copy(parent.policy)  # the same rules, protected files and host session rules
    policy.mode = narrower_mode(parent.policy.mode, definition.permission_mode)
    tools = child_tools(parent.tools.tools, definition, depth=link.depth)
    session = SidechainLog(parent.session, agent_id=link.agent_id, tool_use_id=link.tool_use_id)
    provider = parent.provider_for(resolved)
    roots = list(parent.policy.workspace_roots)
    system = build_system_prompt(cwd=cwd, model=resolved.model, env=env, custom_prompt=options.system_prompt,
                                 additional_dirs=[str(r) for r in roots[1:]], include_git=False)
    hooks = ChildHooks(parent.hooks, agent_id=link.agent_id, agent_type=definition.name,
                       transcript=str(parent.session.path)) if parent.hooks is not None else None
    info = RunInfo(session_id=parent.session.id, model=resolved.model, cwd=str(cwd),
                   permission_mode=policy.mode.value, tools=list(tools))
    context = ToolContext(cwd=cwd, workspace_roots=tuple(roots), env=env, net_config=net,
                          is_read_denied=policy.read_denied_checker(), session_dir=parent.tools.context.session_dir,
                          side_query=parent.tools.context.side_query, sandbox=policy.sandbox)
    runner = ToolCallRunner(tools=tools, policy=policy, context=context, sink=sink, hooks=hooks, prompter=prompter)
    agent = Agent(provider=provider, settings=AgentSettings(
        model=resolved.model, system_prompt=system.text, max_turns=options.max_turns,
        thinking=parent.agent.settings.thinking if resolved.model == parent.info.model else None,
        betas=tuple(options.betas), context_window=resolved.info.context_window, autocompact_pct=threshold_pct(env),
        effort=parent.agent.settings.effort), tool_runner=runner, session=session, hooks=hooks, sink=sink,
        cost_of=model_options.cost_function(provider))
    run = Run(options=options, loaded=loaded, env=env, net_config=net, resolved=resolved, provider=provider,
              session=session, policy=policy, tools=runner, agent=agent, info=info, redactor=parent.redactor,
              remote=parent.remote, start_source="startup", scratch=None)
    if AGENT_TOOL in tools:
        run.subagents = Subagents(run, parent.subagents.catalog, depth=link.depth, only=spawnable(definition))
        run.subagents.describe()
        context.subagents = run.subagents
    return run


def spawnable(definition: "AgentDefinition") -> Optional[List[str]]:
    """The agent types an ``Agent(a, b)`` (or ``Task(...)``) entry of the definition's tools allows;
    None: any (a bare ``Agent``)."""
    from claw.tools.registry import canonical_tool_name

    allowed: Optional[List[str]] = None
    for raw in definition.tools or ():
        name, _, rest = raw.partition("(")
        if canonical_tool_name(name.strip()) != AGENT_TOOL:
            continue
        if not rest:
            return None
        allowed = (allowed or []) + [n.strip() for n in rest.rstrip(")").split(",") if n.strip()]
    return allowed


def narrower_mode(parent: Any, requested: Optional[str]) -> Any:
    """The child's permission mode: the definition's when it is no wider than the parent's, else the
    parent's (a child of a read-only parent is read-only)."""
    from claw.config.trust_gate import mode_rank
    from claw.runtime.permissions import parse_permission_mode

    if requested is None:
        return parent
    mode = parse_permission_mode(requested)
    return mode if mode_rank(mode.value) <= mode_rank(parent.value) else parent


def child_tools(parent_tools: Mapping[str, Any], definition: "AgentDefinition", *, depth: int) -> Dict[str, Any]:
    """The child's tools: the definition's (all the parent's when it lists none) that the parent has,
    minus its ``disallowedTools``; the agent tool only when listed explicitly and above ``MAX_DEPTH``;
    a tool listed with a pattern (``Bash(git:*)``) is left out rather than given whole.
    Built-in tools are new instances (their own todo list); MCP tools are the parent's."""
    from claw.tools.registry import canonical_tool_name, get_tool, is_mcp_name

    def canonical(name: str) -> Optional[str]:
        return canonical_tool_name(name) or (name if is_mcp_name(name) else None)

    if definition.tools is None:
        wanted = [n for n in parent_tools if n != AGENT_TOOL]
    else:
        wanted = []
        for raw in definition.tools:
            name = canonical(raw.split("(", 1)[0].strip())
            if "(" in raw and name != AGENT_TOOL:
                continue  # "Bash(git:*)": a child cannot be limited to a pattern, so it gets no bash at all
            if name is not None and name not in wanted:
                wanted.append(name)
    removed = {canonical(n) for n in definition.disallowed_tools}
    out: Dict[str, Any] = {}
    for name in wanted:
        if name not in parent_tools or name in removed or (name == AGENT_TOOL and depth >= MAX_DEPTH):
            continue
        builtin = canonical_tool_name(name) == name
        if builtin:
            out[name] = get_tool(name)
        elif is_mcp_name(name):
            out[name] = parent_tools[name]
    return out


class SidechainLog:
    """A child's history (the ``SessionLog`` of its ``Agent``): in memory, and each message appended to
    the parent's session file as a sidechain record. Closing it closes nothing (the file is the parent's)."""

    def __init__(self, parent: Any, *, agent_id: str, tool_use_id: str) -> None:
        self.parent = parent
        self.agent_id = agent_id
        self.tool_use_id = tool_use_id
        self._messages: List[Dict[str, Any]] = []
        self._last: Optional[str] = None
        self.warnings: List[str] = []
        self.last_warning: Optional[str] = None

    @property
    def id(self) -> str:
        return self.parent.id

    @property
    def path(self) -> Any:
        return self.parent.path

    @property
    def messages(self) -> List[Dict[str, Any]]:
        return list(self._messages)

    def append_message(self, message: Dict[str, Any], usage: Optional[Dict[str, int]] = None) -> str:
        self._last = self.parent.append_sidechain(message, agent_id=self.agent_id, parent_tool_use_id=self.tool_use_id,
                                                  parent_uuid=self._last, usage=usage)
        self._messages.append(message)
        return self._last

    def append_compaction(self, summary_message: Dict[str, Any], *, upto: Optional[int] = None,
                          trigger: Optional[str] = None) -> str:
        count = len(self._messages) if upto is None else int(upto)
        self._messages = [summary_message] + self._messages[count:]
        self._last = self.parent.append_sidechain(summary_message, agent_id=self.agent_id,
                                                  parent_tool_use_id=self.tool_use_id, parent_uuid=self._last)
        return self._last

    def append_sidechain(self, message: Dict[str, Any], **fields: Any) -> str:
        """A grandchild's record: into the same session file."""
        return self.parent.append_sidechain(message, **fields)

    def set_model(self, model: str) -> None:
        pass

    def set_permission_mode(self, mode: str) -> None:
        pass

    def sync(self) -> None:
        self.parent.sync()

    def close(self) -> None:
        pass


class ChildHooks:
    """The parent's hooks as a child's run fires them: ``Stop`` is ``SubagentStop`` (with ``agent_id``,
    ``agent_type`` and ``agent_transcript_path``), and the prompt and session events do not fire."""

    SILENT = frozenset({"UserPromptSubmit", "SessionStart", "SessionEnd"})

    def __init__(self, hooks: Any, *, agent_id: str, agent_type: str, transcript: str) -> None:
        self.hooks = hooks
        self.agent_id = agent_id
        self.agent_type = agent_type
        self.transcript = transcript

    async def run(self, event_name: str, payload: Optional[Mapping[str, Any]] = None, *,
                  tool_name: Optional[str] = None) -> Any:
        from claw.runtime.hook_verdicts import HookOutcome

        if event_name in self.SILENT:
            return HookOutcome(event=event_name)
        if event_name == "Stop":
            data = dict(payload or {})
            data.update(agent_id=self.agent_id, agent_type=self.agent_type, agent_transcript_path=self.transcript)
            return await self.hooks.run("SubagentStop", data)
        return await self.hooks.run(event_name, payload, tool_name=tool_name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.hooks, name)
