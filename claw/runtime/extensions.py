"""A run's custom slash commands, MCP prompt commands and skills, and what running one does to a turn.

``open_extensions`` is called by ``claw.runtime.run`` only when a command or skill directory exists
(the run stats them; a run without any never imports this module). It decides which directories
the run may use:

- ``--setting-sources``: project directories only when the project source is on, user directories
  only when the user source is on (an SDK host that loads no settings gets no commands either);
- folder trust (``claw.config.trust``): a command can run shell commands (``!`cmd```) and widen the
  permission rules (``allowed-tools``), a skill can widen them too, so in a folder that is not trusted
  the project's commands and skills are not loaded at all, and one note says so. The user's own
  directories always load.

``Extensions`` keeps the commands (parsed on first use) and the skills (parsed at once: the system
prompt lists them). ``expand_prompt(run, prompt)`` turns a prompt that starts with ``/name`` into the
command's text (``CommandTurn``), or returns None when the name is no command; ``run_command_turn``
runs that turn with the command's ``allowed-tools`` added to the allow rules and its ``model`` in
force, both for that one turn. ``widen`` is the same for the ``skill`` and ``slash_command`` tools,
which call it in the middle of a turn; ``end_turn`` takes every such rule back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from claw.errors import UsageError
from claw.runtime.commands import CommandDir, CustomCommand, load_commands
from claw.runtime.skills import Skill, load_skills

if TYPE_CHECKING:
    from claw.runtime.run import Run


@dataclass(frozen=True)
class CommandTurn:
    """A prompt that named a command, expanded: what the model gets and what the turn changes."""

    prompt: Any  # text, or content blocks when the user message had more than the text
    source: str  # "/review" or "/mcp__srv__prompt"
    allowed_tools: Tuple[str, ...] = ()
    model: Optional[str] = None


@dataclass
class Extensions:
    """The commands and skills one run offers (fixed for the run) and the rules a turn has added."""

    command_dirs: List[CommandDir] = field(default_factory=list)
    skills: List[Skill] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    turn_rules: List[Any] = field(default_factory=list)  # PermissionRule objects added for this turn
    _commands: Optional[List[CustomCommand]] = None

    @property
    def commands(self) -> List[CustomCommand]:
        if self._commands is None:
            self._commands, notes = load_commands(self.command_dirs)
            self.notes.extend(notes)
        return self._commands

    def find(self, name: str) -> Optional[CustomCommand]:
        """The command ``name`` (exact, else case-insensitive), or None."""
        commands = self.commands
        hit = next((c for c in commands if c.name == name), None)
        return hit or next((c for c in commands if c.name.lower() == name.lower()), None)

    def find_skill(self, name: str) -> Optional[Skill]:
        return next((s for s in self.skills if s.name == name), None) or next(
            (s for s in self.skills if s.name.lower() == name.lower()), None)

    def prompt_section(self) -> Optional[str]:
        """The system prompt's list of skills, or None without skills."""
        from claw.runtime.skills import skills_section

        return skills_section(self.skills) or None

    def model_commands(self) -> List[CustomCommand]:
        """The commands the model may run with the ``slash_command`` tool."""
        return [c for c in self.commands if not c.disable_model_invocation]

    def widen(self, policy: Any, allowed: Sequence[str], source: str) -> None:
        """Add ``allowed`` (permission rules) to ``policy``'s allow rules until ``end_turn``."""
        from claw.runtime.rules import parse_rules

        if not allowed:
            return
        rules = parse_rules(allowed, f"allowed-tools of {source}", cwd=policy.cwd, home=policy.home,
                            error=UsageError, warnings=policy.warnings, extra=policy.plugin_tools)
        policy.allow.extend(rules)
        self.turn_rules.extend(rules)

    def end_turn(self, policy: Any) -> None:
        """Take back the rules added during the turn."""
        if self.turn_rules:
            added = {id(rule) for rule in self.turn_rules}
            policy.allow[:] = [rule for rule in policy.allow if id(rule) not in added]
            self.turn_rules.clear()


def candidate_dirs(cwd: str, env: Dict[str, str], kind: str, setting_sources: Optional[Sequence[str]]
                   ) -> List[CommandDir]:
    """The ``kind`` ("commands" or "skills") directories in precedence order that exist."""
    from claw.config.sources import config_home, expand_user

    roots: List[CommandDir] = []
    if setting_sources is None or {"project", "local"} & set(setting_sources):
        roots += [CommandDir(os.path.join(cwd, ".claw"), "project"), CommandDir(os.path.join(cwd, ".claude"), "project")]
    if setting_sources is None or "user" in setting_sources:
        claude_home = env.get("CLAUDE_CONFIG_DIR") or os.path.join(expand_user("~", env), ".claude")
        roots += [CommandDir(config_home(env, cwd), "user"), CommandDir(claude_home, "user")]
    out = []
    for root in roots:
        path = os.path.join(root.path, kind)
        if os.path.isdir(path) and not any(os.path.realpath(path) == os.path.realpath(d.path) for d in out):
            out.append(CommandDir(path, root.scope))
    return out


def open_extensions(cwd: str, env: Dict[str, str], *, loaded: Any, setting_sources: Optional[Sequence[str]],
                    plugins: Any = None) -> Extensions:
    """The commands and skills of the run (see the module docstring), those of ``plugins``
    (``claw.runtime.plugin_loader.Plugins``) last; notes for the user in ``notes``."""
    command_dirs = candidate_dirs(cwd, env, "commands", setting_sources)
    skill_dirs = candidate_dirs(cwd, env, "skills", setting_sources)
    notes: List[str] = []
    project = [d for d in command_dirs + skill_dirs if d.scope == "project"]
    if project and not _trusted(cwd, env, loaded, setting_sources):
        from claw.config.trust import HOW_TO_TRUST

        shown = ", ".join(os.path.relpath(d.path, cwd) for d in project)
        notes.append(f"claw: note: this folder is not trusted, so its commands and skills ({shown}) are not "
                     f"loaded; to use them, {HOW_TO_TRUST}")
        command_dirs = [d for d in command_dirs if d.scope != "project"]
        skill_dirs = [d for d in skill_dirs if d.scope != "project"]
    if plugins is not None:
        command_dirs += plugins.dirs("commands")
        skill_dirs += plugins.dirs("skills")
    skills, skill_notes = load_skills(skill_dirs)
    return Extensions(command_dirs=command_dirs, skills=skills, notes=notes + skill_notes)


def _trusted(cwd: str, env: Dict[str, str], loaded: Any, setting_sources: Optional[Sequence[str]]) -> bool:
    from claw.config.trust import trust_state
    from claw.errors import ConfigError

    state = getattr(loaded, "trust", None)
    if state is not None:
        return bool(state.trusted)
    explicit = setting_sources is not None and bool({"project", "local"} & set(setting_sources))
    try:
        return trust_state(cwd, env, explicit_project=explicit).trusted
    except ConfigError:  # a corrupt store: the settings loader reports it; nothing is trusted
        return False


# -- a turn that names a command ------------------------------------------------------------------------


def command_word(prompt: Any) -> Optional[Tuple[str, str]]:
    """``("review", "src/a.py")`` for a prompt ``/review src/a.py`` (text, or blocks whose first text
    block starts so); None otherwise."""
    text = _first_text(prompt)
    if text is None or not text.startswith("/") or text.startswith("//"):
        return None
    head, _, rest = text[1:].partition(" ")
    head, _, more = head.partition("\n")
    name = head.strip()
    if not name or "/" in name:
        return None
    return name, (more + " " + rest if more else rest).strip()


def _first_text(prompt: Any) -> Optional[str]:
    if isinstance(prompt, str):
        return prompt.lstrip()
    if isinstance(prompt, list):
        for block in prompt:
            if isinstance(block, dict) and block.get("type") == "text":
                return str(block.get("text", "")).lstrip()
            return None
    return None


def _with_text(prompt: Any, text: str) -> Any:
    if isinstance(prompt, str):
        return text
    blocks = list(prompt)
    blocks[0] = dict(blocks[0], text=text)
    return blocks


def is_mcp_prompt(run: "Run", name: str) -> bool:
    manager = run.mcp
    return manager is not None and name.startswith("mcp__") and any(
        c.name == name for c in manager.prompt_commands())


async def expand_prompt(run: "Run", prompt: Any) -> Optional[CommandTurn]:
    """The command turn of ``prompt``, or None when it does not name a command of this run.
    Raises ``UsageError`` (an MCP prompt's missing argument) or ``ToolFailure`` (a denied ``!``/``@``)."""
    word = command_word(prompt)
    if word is None or run.options.disable_slash_commands:
        return None
    name, arguments = word
    if is_mcp_prompt(run, name):
        text = await run.mcp.run_prompt(name, arguments)  # type: ignore[union-attr]
        return CommandTurn(_with_text(prompt, text), f"/{name}")
    extensions = run.extensions
    command = extensions.find(name) if extensions is not None else None
    if command is None:
        return None
    return CommandTurn(_with_text(prompt, await expand_command(run, command, arguments)), f"/{command.name}",
                       command.allowed_tools, command.model)


async def expand_command(run: "Run", command: CustomCommand, arguments: str) -> str:
    """The text of ``command`` run with ``arguments`` (``claw.runtime.command_expand``)."""
    from claw.runtime.command_expand import Gate, expand_body

    gate = Gate(policy=run.policy, prompter=run.tools.prompter, cwd=run.options.cwd, env=run.env,
                source=f"/{command.name}", hooks=run.hooks)
    return await expand_body(command.body, arguments, gate)


async def run_command_turn(run: "Run", turn: CommandTurn) -> Any:
    """One turn of an expanded command: its ``allowed-tools`` and ``model`` apply to this turn only."""
    if run.extensions is not None:
        run.extensions.widen(run.policy, turn.allowed_tools, turn.source)
    previous = None
    if turn.model:
        previous = run.resolved_model.qualified
        await run.switch_model(turn.model)
    try:
        return await run.agent.run(turn.prompt)
    finally:
        if previous is not None:
            import asyncio

            await asyncio.shield(run.switch_model(previous))
