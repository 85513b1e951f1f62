"""What a run with custom commands or skills adds to itself: the ``skill`` and ``slash_command`` tools
and the lists the front ends show (``RunInfo.commands``, ``RunInfo.skills``).

``install(run)`` is called once by ``open_run`` when ``run.extensions`` exists. The ``skill`` tool is
offered when there are skills, the ``slash_command`` tool when some command does not set
``disable-model-invocation``; either only when ``--tools``/``--disallowedTools`` and bare deny rules
leave it (``claw.tools.registry.offers``). Both join after the built-in tools, before MCP tools, so
the request's tool list stays the same for the whole run (the prompt cache's prefix).
Deliberately not here: finding commands and skills, expanding a command (``claw.runtime.extensions``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from claw.runtime.run import Run


def install(run: "Run") -> None:
    from claw.tools.registry import offers

    extensions = run.extensions
    assert extensions is not None
    run.info.skills = [s.name for s in extensions.skills]
    run.info.commands.extend({"name": c.name, "description": c.summary, "argumentHint": c.argument_hint}
                             for c in extensions.commands)
    removed = set(run.policy.removed_tools())
    disallowed = list(run.options.disallowed_tools)

    def offered(name: str) -> bool:
        return name not in removed and offers(name, run.options.tools, disallowed)

    if extensions.skills and offered("skill"):
        from claw.tools.skill import SkillTool

        _add(run, SkillTool(lambda name, args: _load_skill(run, name, args),
                            ", ".join(s.name for s in extensions.skills)))
    commands = extensions.model_commands()
    if commands and offered("slash_command"):
        from claw.tools.slash_command import SlashCommandTool, describe

        _add(run, SlashCommandTool(lambda line: _run_command(run, line),
                                   describe([(c.name, c.argument_hint, c.summary) for c in commands])))


def _add(run: "Run", tool: object) -> None:
    name = tool.spec.name  # type: ignore[attr-defined]
    run.tools.tools[name] = tool
    run.info.tools.append(name)


async def _load_skill(run: "Run", name: str, args: str) -> str:
    extensions = run.extensions
    skill = extensions.find_skill(name) if extensions is not None else None
    if skill is None:
        known = ", ".join(s.name for s in extensions.skills) if extensions is not None else ""
        raise LookupError(f"no skill named {name!r}; the skills are: {known or 'none'}")
    try:
        body = skill.load_body()
    except OSError as exc:
        raise LookupError(f"the skill {name!r} cannot be read: {exc.strerror or exc}") from None
    extensions.widen(run.policy, skill.allowed_tools, f"the skill {skill.name}")  # type: ignore[union-attr]
    return f"{body}\n\nArguments: {args}" if args.strip() else body


async def _run_command(run: "Run", line: str) -> str:
    from claw.runtime.extensions import command_word, expand_command

    extensions = run.extensions
    word = command_word(line)
    command = extensions.find(word[0]) if extensions is not None and word is not None else None
    if command is None or command.disable_model_invocation:
        names = ", ".join(f"/{c.name}" for c in extensions.model_commands()) if extensions is not None else ""
        raise LookupError(f"no command {line.split()[0]!r} the model may run; the commands are: {names or 'none'}")
    text = await expand_command(run, command, word[1])  # type: ignore[index]
    extensions.widen(run.policy, command.allowed_tools, f"/{command.name}")  # type: ignore[union-attr]
    return text
