"""Subagent definitions: what the ``agent`` tool may start, read from files, flags and the SDK.

A definition is a name, a description (when the model should use it), a system prompt, an optional
tool list (absent: every tool of the parent), an optional model (``sonnet``/``opus``/``haiku``,
``inherit`` or a model id), and optionally ``permissionMode``, ``disallowedTools`` and ``maxTurns``
as Claude Code's agent files have them. Sources, later ones overriding earlier ones of the same name:

1. the built-in ``general-purpose`` agent (all the parent's tools, the parent's model);
2. user files: ``~/.claude/agents/*.md`` (``$CLAUDE_CONFIG_DIR/agents``), then ``$CLAW_CONFIG_HOME/agents``;
3. project files: ``.claude/agents/*.md``, then ``.claw/agents/*.md`` — only in a trusted folder
   (claw.config.trust): they are project config, and an untrusted folder's are skipped with a warning;
4. ``--agents JSON`` and the SDK's ``initialize.agents`` (``{name: {description, prompt, tools?, model?}}``).

A file is Markdown with a frontmatter block (``---`` lines) of ``key: value`` lines; the body is the
system prompt. ``--setting-sources`` without ``user`` / ``project`` leaves those files out, as it
leaves out the settings of the scope.

Deliberately not here: starting a child run (claw.runtime.subagents), narrowing tools and modes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from claw.errors import UsageError
from claw.tools.agent import GENERAL_PURPOSE, GENERAL_PURPOSE_DESCRIPTION

MODEL_ALIASES = ("sonnet", "opus", "haiku")
MAX_FILE_BYTES = 256 * 1024


@dataclass(frozen=True)
class AgentDefinition:
    """One subagent the ``agent`` tool can start (``source``: built-in, user, project, flag, sdk)."""

    name: str
    description: str
    prompt: str
    tools: Optional[Tuple[str, ...]] = None  # None: the parent's tools
    disallowed_tools: Tuple[str, ...] = ()
    model: Optional[str] = None  # None / "inherit": the parent's model
    permission_mode: Optional[str] = None  # narrower than the parent's only (claw.runtime.subagents)
    max_turns: Optional[int] = None
    source: str = "built-in"
    path: Optional[str] = None

    def tools_flag(self) -> Optional[str]:
        """The ``--tools`` value of the main thread run as this agent (``--agent``): ``Agent(a, b)`` is the
        agent tool, a tool with a pattern (``Bash(git:*)``) is left out; None when it lists no tools."""
        if self.tools is None:
            return None
        names = [t.split("(", 1)[0].strip() for t in self.tools if "(" not in t or t.startswith(("Agent(", "Task("))]
        return ",".join(names)

    def info(self) -> Dict[str, Any]:
        """The SDK's ``AgentInfo``: name, description and model."""
        data: Dict[str, Any] = {"name": self.name, "description": self.description}
        if self.model:
            data["model"] = self.model
        return data


@dataclass
class AgentCatalog:
    """The definitions of a run by name, and the problems met reading them (warnings, never errors)."""

    agents: Dict[str, AgentDefinition] = field(default_factory=dict)
    warnings: List[str] = field(default_factory=list)

    def names(self) -> List[str]:
        return list(self.agents)

    def get(self, name: str) -> Optional[AgentDefinition]:
        return self.agents.get(name)

    def add(self, definitions: Sequence[AgentDefinition]) -> None:
        for definition in definitions:
            self.agents.pop(definition.name, None)  # an override moves to the end of the listing
            self.agents[definition.name] = definition


BUILTIN = AgentDefinition(
    name=GENERAL_PURPOSE,
    description=GENERAL_PURPOSE_DESCRIPTION,
    prompt=("You are an agent started by another agent to do one task. Do the task with the tools you have, "
            "then answer with a concise, complete report of what you found or did: your final message is "
            "all the other agent sees. Give absolute file paths and relevant code excerpts."),
)


def load_catalog(cwd: Path, env: Mapping[str, str], *, setting_sources: Optional[Sequence[str]] = None,
                 flag_json: Optional[str] = None) -> AgentCatalog:
    """Every definition of a run in ``cwd``, in precedence order (see the module docstring)."""
    catalog = AgentCatalog()
    catalog.add([BUILTIN])
    sources = None if setting_sources is None else set(setting_sources)
    if sources is None or "user" in sources:
        claude_home = env.get("CLAUDE_CONFIG_DIR") or os.path.join(_home(env), ".claude")
        from claw.config.sources import config_home

        for directory in (Path(claude_home) / "agents", Path(config_home(env, str(cwd))) / "agents"):
            catalog.add(_read_dir(directory, "user", catalog.warnings))
    if sources is None or "project" in sources:
        project: List[AgentDefinition] = []
        for directory in (cwd / ".claude" / "agents", cwd / ".claw" / "agents"):
            project.extend(_read_dir(directory, "project", catalog.warnings))
        if project:
            explicit = sources is not None and "project" in sources
            if _trusted(cwd, env, explicit):
                catalog.add(project)
            else:
                from claw.config.trust import HOW_TO_TRUST

                names = ", ".join(sorted({d.name for d in project}))
                catalog.warnings.append(f"this folder is not trusted: its project agent definitions ({names}) "
                                        f"are ignored ({HOW_TO_TRUST})")
    if flag_json:
        catalog.add(parse_agents_json(flag_json, source="flag"))
    return catalog


def parse_agents_json(text: Any, *, source: str) -> List[AgentDefinition]:
    """``--agents`` (JSON text) or ``initialize.agents`` (a dict): ``{name: {description, prompt,
    tools?, disallowedTools?, model?, permissionMode?, maxTurns?}}``. ``UsageError`` when malformed."""
    where = "--agents" if source == "flag" else "initialize: 'agents'"
    if isinstance(text, str):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"{where} is not valid JSON: {exc}",
                             hint='write --agents \'{"name": {"description": "...", "prompt": "..."}}\'') from None
    else:
        data = text
    if not isinstance(data, dict):
        raise UsageError(f"{where} must be an object of name -> agent definition")
    out = []
    for name, spec in data.items():
        if not isinstance(spec, dict):
            raise UsageError(f"{where}: agent {name!r} must be an object with description and prompt")
        out.append(_definition(str(name), spec, source=source, where=f"{where}: agent {name!r}"))
    return out


def _definition(name: str, spec: Mapping[str, Any], *, source: str, where: str,
                path: Optional[str] = None) -> AgentDefinition:
    if not name or not all(c.isalnum() or c in "-_.:" for c in name):
        raise UsageError(f"{where}: the name must be letters, digits, '-', '_', '.' or ':'")
    description = spec.get("description")
    prompt = spec.get("prompt")
    if not isinstance(description, str) or not description.strip():
        raise UsageError(f"{where}: 'description' (a string) is required")
    if not isinstance(prompt, str):
        raise UsageError(f"{where}: 'prompt' (a string: the agent's system prompt) is required")
    model = spec.get("model")
    if model is not None and not isinstance(model, str):
        raise UsageError(f"{where}: 'model' must be a string")
    mode = spec.get("permissionMode")
    if mode is not None:
        from claw.runtime.permissions import parse_permission_mode

        mode = parse_permission_mode(str(mode), source=where).value
    turns = spec.get("maxTurns")
    if turns is not None and (isinstance(turns, bool) or not isinstance(turns, int) or turns < 1):
        raise UsageError(f"{where}: 'maxTurns' must be a positive integer")
    return AgentDefinition(name=name, description=description.strip(), prompt=prompt.strip(),
                           tools=_tool_list(spec.get("tools"), where),
                           disallowed_tools=_tool_list(spec.get("disallowedTools"), where) or (),
                           model=None if model in (None, "", "inherit") else model, permission_mode=mode,
                           max_turns=turns, source=source, path=path)


def _tool_list(value: Any, where: str) -> Optional[Tuple[str, ...]]:
    if value is None:
        return None
    if isinstance(value, str):
        from claw.tools.registry import split_tool_list

        return tuple(split_tool_list(value))
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v.strip() for v in value if v.strip())
    raise UsageError(f"{where}: 'tools' must be a list of tool names or a comma-separated string")


def parse_agent_file(path: Path, text: str, source: str) -> AgentDefinition:
    """One agent file: frontmatter (``name``, ``description``, ``tools``, ``model``...) and the prompt."""
    meta, body = split_frontmatter(text)
    spec: Dict[str, Any] = dict(meta)
    spec["prompt"] = body
    if "maxTurns" in spec:
        try:
            spec["maxTurns"] = int(spec["maxTurns"])
        except ValueError:
            pass
    name = str(meta.get("name") or path.stem)
    return _definition(name, spec, source=source, where=f"agent file {path}", path=str(path))


def split_frontmatter(text: str) -> Tuple[Dict[str, Any], str]:
    """``---``-fenced ``key: value`` lines (a value may be a ``[a, b]`` list or quoted) and the body."""
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text.strip()
    meta: Dict[str, Any] = {}
    for index in range(1, len(lines)):
        line = lines[index]
        if line.strip() == "---":
            return meta, "\n".join(lines[index + 1:]).strip()
        if not line.strip() or line.lstrip().startswith("#") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        meta[key.strip()] = _scalar(value.strip())
    return {}, text.strip()  # no closing fence: all of it is the prompt


def _scalar(value: str) -> Any:
    if value.startswith("[") and value.endswith("]"):
        return [_scalar(v.strip()) for v in value[1:-1].split(",") if v.strip()]
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _read_dir(directory: Path, source: str, warnings: List[str]) -> List[AgentDefinition]:
    try:
        entries = sorted(p for p in directory.iterdir() if p.suffix == ".md" and p.is_file())
    except OSError:
        return []
    out = []
    for path in entries:
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                warnings.append(f"agent file {path} is larger than {MAX_FILE_BYTES} bytes; skipped")
                continue
            out.append(parse_agent_file(path, path.read_text(encoding="utf-8", errors="replace"), source))
        except UsageError as exc:
            warnings.append(f"{exc}; skipped")
        except OSError as exc:
            warnings.append(f"agent file {path} could not be read ({exc.strerror or exc}); skipped")
    return out


def _trusted(cwd: Path, env: Mapping[str, str], explicit: bool) -> bool:
    from claw.config.trust import trust_state
    from claw.errors import ClawError

    try:
        return trust_state(str(cwd), env, explicit_project=explicit).trusted
    except ClawError:  # a corrupt trust store: not trusted
        return False


def _home(env: Mapping[str, str]) -> str:
    return env.get("HOME") or os.path.expanduser("~")
