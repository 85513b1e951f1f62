"""What the Agent SDKs send in the ``initialize`` control request, applied to a stream-json run.

Two fields change the run itself, and claw acts on both:

- ``systemPrompt`` / ``appendSystemPrompt``: the TypeScript SDK sends the system prompt here, not on the
  command line. ``systemPrompt`` is a list of strings (its ``systemPrompt: "text"`` arrives as
  ``["text"]``; the default ``[""]`` means "no base prompt"), and replaces claw's base prompt as
  ``--system-prompt`` does; the preset form arrives as ``appendSystemPrompt`` only and is appended as
  ``--append-system-prompt`` is.
- ``mcpServers`` with ``--await-initialize``: the servers the host would otherwise put in ``--mcp-config``.
  claw reads the initialize request before it starts (``read_initialize``), so the servers start with the
  run; the answer says ``mcp_servers_applied: true``. Without ``--await-initialize`` they arrive too late
  and the answer says ``false`` (the SDK then warns).

``jsonSchema`` (structured output) is applied by claw.runtime.structured_output.apply_initialize.

``agents`` (subagent definitions, ``{name: {description, prompt, tools?, model?}}``) join the run's
catalog at once (``apply_agents``), before the first prompt runs; the answer lists every agent.

A field that changes the run and cannot be applied (a malformed ``agents`` or a ``jsonSchema`` claw
cannot check) makes the initialize request fail with an error naming it, and every turn of the session
fails with it too (the SDK sends the first prompt without waiting for the answer), so the SDK's
``query()`` throws instead of running without it.

Deliberately not here: the host loop and the rest of the initialize answer (claw.cli.stream_json), the
system prompt's assembly (claw.runtime.system_prompt), starting MCP servers (claw.mcp).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from claw.errors import ClawError, UsageError

if TYPE_CHECKING:
    from claw.runtime.run import Run, RunInfo


@dataclass
class EarlyInitialize:
    """The initialize request read before the run started (``--await-initialize``), and every message
    or input error that arrived before it, to be handled in order once the run is ready."""

    request_message: Optional[Dict[str, Any]] = None
    before: List[Any] = field(default_factory=list)  # dict messages, or ClawError for malformed lines


async def read_initialize(transport: Any) -> EarlyInitialize:
    """Read from ``transport`` until the host's ``initialize`` control request (or the end of input)."""
    early = EarlyInitialize()
    while True:
        try:
            message = await transport.read()
        except ClawError as exc:
            early.before.append(exc)
            continue
        if message is None:
            return early
        request = message.get("request") if message.get("type") == "control_request" else None
        if isinstance(request, dict) and request.get("subtype") == "initialize":
            early.request_message = message
            return early
        early.before.append(message)


def apply_run_fields(run: "Run", request: Dict[str, Any]) -> Optional[ClawError]:
    """The fields that change the run at once (the SDK sends the first prompt without waiting for the
    answer): the error of the first that fails (``agents``, ``jsonSchema``), or None."""
    return apply_agents(run, request) or apply_json_schema(run, request)


def apply_agents(run: "Run", request: Dict[str, Any]) -> Optional[ClawError]:
    """``agents`` (subagent definitions) added to ``run``'s catalog at once; the error that refuses
    them, or None."""
    agents = request.get("agents")
    if not agents or run.subagents is None:
        return None
    from claw.runtime.agent_defs import parse_agents_json

    try:
        run.subagents.add(parse_agents_json(agents, source="sdk"))
    except ClawError as exc:
        return exc
    return None


def apply_json_schema(run: "Run", request: Dict[str, Any]) -> Optional[ClawError]:
    """``jsonSchema`` (structured output) applied to ``run`` at once (the SDK sends the first prompt
    without waiting for the answer); the error that refuses it, or None."""
    if request.get("jsonSchema") is None:
        return None
    from claw.runtime.structured_output import apply_initialize

    try:
        apply_initialize(run.agent, request, env=run.env, listed=run.info.tools)
    except ClawError as exc:
        return exc
    run.info.structured = True
    return None


def system_prompt_fields(request: Dict[str, Any]) -> Optional[Tuple[Optional[str], Optional[str]]]:
    """``(replacement, appended)`` from an initialize request, or None when it names no system prompt."""
    custom = request.get("systemPrompt")
    append = request.get("appendSystemPrompt")
    if custom is None and append is None:
        return None
    if isinstance(custom, list):
        if not all(isinstance(part, str) for part in custom):
            raise UsageError("initialize: 'systemPrompt' must be a string or a list of strings")
        custom = "\n\n".join(part for part in custom if part.strip())
    elif custom is not None and not isinstance(custom, str):
        raise UsageError("initialize: 'systemPrompt' must be a string or a list of strings")
    if append is not None and not isinstance(append, str):
        raise UsageError("initialize: 'appendSystemPrompt' must be a string")
    return custom, append


def apply_to_args(args: Any, request: Dict[str, Any]) -> None:
    """Before the run is prepared (``--await-initialize``): the request's MCP servers join
    ``--mcp-config`` and its system prompt replaces or extends the command line's."""
    servers = request.get("mcpServers")
    if servers is not None:
        if not isinstance(servers, dict):
            raise UsageError("initialize: 'mcpServers' must be an object of name -> server")
        if servers:
            args.mcp_config.append(json.dumps({"mcpServers": servers}))
    fields = system_prompt_fields(request)
    if fields is not None:
        custom, append = fields
        if custom is not None:
            args.system_prompt, args.system_prompt_file = custom, None
        if append:
            args.append_system_prompt = "\n\n".join(p for p in (args.append_system_prompt, append) if p)


def apply_system_prompt(run: "Run", args: Any, request: Dict[str, Any]) -> bool:
    """After the run was opened: rebuild the system prompt from the request's fields (with the
    command line's ``--append-system-prompt``). True when the request named a system prompt."""
    fields = system_prompt_fields(request)
    if fields is None:
        return False
    from claw.cli.setup import append_prompt_of, system_prompt_override

    custom, append = fields
    if custom is None:
        custom = system_prompt_override(args)
    run.set_system_prompt(custom, "\n\n".join(p for p in (append_prompt_of(args), append) if p) or None)
    return True


def initialize_answer(info: "RunInfo", *, mcp_servers_applied: bool, session_state: str) -> Dict[str, Any]:
    """The answer to ``initialize``: what this run offers, in the fields the SDKs read."""
    import os

    from claw import CLAUDE_CODE_PROTOCOL_VERSION, __version__
    from claw.cli.host_vocabulary import host_api_key_source, host_permission_mode

    return {
        "commands": [dict(c) for c in info.commands],
        "agents": [],
        "output_style": "default",
        "available_output_styles": ["default"],
        "models": [{"value": info.model, "displayName": info.model, "description": "the model of this session"}],
        "account": {"apiKeySource": host_api_key_source(info.api_key_source), "tokenSource": "none"},
        "pid": os.getpid(),
        "claude_code_version": CLAUDE_CODE_PROTOCOL_VERSION,
        "claw_version": __version__,
        "session_id": info.session_id,
        "current_permission_mode": host_permission_mode(info.permission_mode),
        "claw_permission_mode": info.permission_mode,
        "hook_on_failure_supported": True,
        "hooks_applied": True,
        "mcp_servers_applied": mcp_servers_applied,
        "session_state": session_state,
    }
