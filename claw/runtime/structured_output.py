"""Structured output for a run: the turn ends with a value that matches the host's JSON schema, or fails.

``enable(agent, schema)`` (from ``--json-schema``, or the ``jsonSchema`` of the SDK's ``initialize``)
checks the schema against the supported subset (claw.tools.json_schema: an unsupported keyword is a
``UsageError`` naming it, before any request), adds the ``StructuredOutput`` tool to the agent's tools
and sets ``agent.structured_output``. The agent then asks this module, at two points of each turn:

- after a batch of tool calls (``after_tools``): when ``StructuredOutput`` accepted a value, the turn
  ends at once with ``subtype: "success"``, ``structured_output`` set and ``result`` the value as
  compact JSON (as Claude Code: no further request to the model);
- when the model ends its turn without a value (``after_text``): a reminder goes to the model as a user
  message (Claude Code's ``[structured-output-enforce]`` text) and the turn goes on.

Every call rejected by the schema and every reminder counts as a failed attempt; after
``max_attempts`` (5, or ``MAX_STRUCTURED_OUTPUT_RETRIES``, as in Claude Code) the turn ends with
``subtype: "error_max_structured_output_retries"`` and the last problem. Unlike Claude Code, a model
that keeps answering in prose never makes a successful result without ``structured_output``.

Deliberately not here: the schema validator (claw.tools.json_schema), the tool (claw.tools.structured_output),
the result object's shape (claw.cli.output).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from claw.errors import ClawError, UsageError

ENFORCE = ("[structured-output-enforce] You MUST call the StructuredOutput tool to complete this request. "
           "Call this tool now.")
MAX_ATTEMPTS = 5
SUBTYPE_EXHAUSTED = "error_max_structured_output_retries"


@dataclass(frozen=True)
class StructuredValue:
    """The value the model returned through ``StructuredOutput`` (any JSON value, ``null`` included)."""

    value: Any

    def to_json(self) -> str:
        return json.dumps(self.value, ensure_ascii=False, separators=(",", ":"))


def parse_schema(text: str, *, source: str = "--json-schema") -> Dict[str, Any]:
    """The schema in ``text`` (JSON), checked; ``UsageError`` naming ``source`` otherwise."""
    try:
        schema = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"claw: {source} is not valid JSON: {exc}",
                         hint="pass the schema as one JSON object, e.g. --json-schema '{\"type\": \"object\", ...}'"
                         ) from None
    return checked_schema(schema, source=source)


def checked_schema(schema: Any, *, source: str = "--json-schema") -> Dict[str, Any]:
    """``schema`` when claw can check all of it; ``UsageError`` naming what it cannot."""
    from claw.tools.json_schema import SchemaError, check_schema

    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise UsageError(f"claw: {source} must be a JSON schema of an object ({{\"type\": \"object\", ...}})",
                         hint="the model answers through a tool, whose input is an object: wrap another type "
                              "in a property", kind="unsupported_option")
    try:
        check_schema(schema)
    except SchemaError as exc:
        raise UsageError(f"claw: {source} cannot be used: {exc}",
                         hint="drop or rewrite that part of the schema; docs/CLI.md lists the keywords claw checks",
                         kind="unsupported_option") from None
    return schema


class StructuredOutput:
    """The per-run state: the schema's tool and the failed attempts of the running turn."""

    def __init__(self, schema: Dict[str, Any], *, max_attempts: int = MAX_ATTEMPTS) -> None:
        from claw.tools.structured_output import StructuredOutputTool

        self.schema = schema
        self.tool = StructuredOutputTool(schema)
        self.max_attempts = max_attempts
        self.failures = 0
        self.last_problem = ""

    @property
    def name(self) -> str:
        return self.tool.name

    def start_turn(self) -> None:
        self.tool.reset()
        self.failures = 0
        self.last_problem = ""

    def after_tools(self, calls: List[Mapping[str, Any]]) -> Optional[str]:
        """After a batch: ``"done"`` (a value was accepted), ``"exhausted"``, or None (go on)."""
        if self.tool.accepted:
            return "done"
        tried = sum(1 for c in calls if c.get("name") == self.name)
        if not tried:
            return None
        self.failures += tried
        self.last_problem = (self.tool.rejections[-1] if self.tool.rejections
                             else "the StructuredOutput call was not run (denied or blocked)")
        return "exhausted" if self.failures >= self.max_attempts else None

    def after_text(self) -> Optional[str]:
        """The model stopped without a value: the reminder to send, or None when the attempts are used up."""
        self.failures += 1
        self.last_problem = "the model answered without calling the StructuredOutput tool"
        return None if self.failures >= self.max_attempts else ENFORCE

    def value(self) -> StructuredValue:
        return StructuredValue(self.tool.accepted[-1])

    def error(self) -> ClawError:
        return ClawError(f"Failed to provide valid structured output after {self.failures} attempts — last "
                         f"StructuredOutput error: {self.last_problem}", kind="structured_output_retries",
                         failure_class="tool",
                         hint="simplify the schema, or raise MAX_STRUCTURED_OUTPUT_RETRIES")


def enable(agent: Any, schema: Dict[str, Any], *, env: Optional[Mapping[str, str]] = None,
           listed: Optional[List[str]] = None) -> StructuredOutput:
    """Give ``agent`` structured output with the (checked) ``schema``; returns the state it keeps.
    ``listed``: the run's tool names as ``system/init`` shows them, to which the tool's name is added."""
    structured = StructuredOutput(schema, max_attempts=_max_attempts(env or {}))
    agent.tools.tools[structured.name] = structured.tool
    agent.structured_output = structured
    if listed is not None and structured.name not in listed:
        listed.append(structured.name)
    return structured


def apply_initialize(agent: Any, request: Mapping[str, Any], *, env: Optional[Mapping[str, str]] = None,
                     listed: Optional[List[str]] = None) -> None:
    """The ``jsonSchema`` of an SDK ``initialize`` request (the TypeScript SDK sends the schema there as
    well as in ``--json-schema``): checked and enabled. The same schema as the flag's changes nothing;
    a different one, or one claw cannot check, is a ``UsageError``."""
    schema = request.get("jsonSchema")
    if schema is None:
        return
    schema = checked_schema(schema, source="initialize: 'jsonSchema'")
    current = agent.structured_output
    if current is not None:
        if current.schema != schema:
            raise UsageError("claw: initialize: 'jsonSchema' differs from the --json-schema of the command line",
                             hint="give the schema once (the SDK's outputFormat sends both the same)")
        return
    enable(agent, schema, env=env, listed=listed)


def _max_attempts(env: Mapping[str, str]) -> int:
    raw = env.get("MAX_STRUCTURED_OUTPUT_RETRIES", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return MAX_ATTEMPTS
