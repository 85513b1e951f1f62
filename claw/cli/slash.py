"""Slash commands of the REPL.

Each command is a small function taking the REPL and the rest of the line. ``run_slash`` dispatches;
a name that is no built-in command but one of the run's custom commands or MCP prompts
(``RunInfo.commands``) runs as a turn (the run expands it: ``claw.runtime.extensions``), and an unknown
command suggests the nearest known one. Two kinds of handler:

- ``async def``: runs on the REPL's event loop, cancellable with Ctrl-C like a turn (``/compact``,
  ``/model``, ``/clear``...);
- plain ``def``: runs with the loop idle, for commands that own the terminal for a while or run their
  own event loop (``/login`` reads a pasted code, ``/doctor``, ``/config``).

Commands write to stderr (status, notices) or stdout (content the user asked to see, like ``/diff``),
never raise for user mistakes (a ``ClawError`` is rendered as one message and a hint), and leave the
session consistent.
"""

from __future__ import annotations

import difflib
import inspect
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Tuple

from claw.errors import ClawError

Handler = Callable[[Any, str], Any]
COMMANDS: Dict[str, Tuple[Handler, str]] = {}
ALIASES = {"quit": "exit", "q": "exit", "?": "help", "reset": "clear"}


def command(name: str, summary: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = (fn, summary)
        return fn

    return register


def _say(text: str) -> None:
    sys.stderr.write(text.rstrip("\n") + "\n")
    sys.stderr.flush()


def parse(line: str) -> Tuple[str, str]:
    """``"/model  sonnet"`` -> ``("model", "sonnet")``."""
    name, _, rest = line.strip()[1:].partition(" ")
    return name.strip().lower(), rest.strip()


def suggest(name: str) -> str:
    """The nearest command name (prefix first, then spelling), or ''."""
    known = sorted(COMMANDS)
    prefixed = [n for n in known if name and n.startswith(name)]
    if len(prefixed) == 1:
        return prefixed[0]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    return close[0] if close else ""


def complete(text: str, extra: Any = ()) -> list:
    """Completions of a partial ``/command`` (for readline's Tab); ``extra``: the run's custom commands
    and MCP prompts."""
    if not text.startswith("/"):
        return []
    names = sorted(set(COMMANDS) | set(extra))
    return [f"/{n}" for n in names if n.lower().startswith(text[1:].lower())]


def custom_names(repl: Any) -> list:
    """The run's custom commands and MCP prompts (``/name`` runs them as a turn)."""
    run = getattr(repl, "run", None)
    return [c["name"] for c in run.info.commands] if run is not None else []


def run_slash(repl: Any, line: str) -> None:
    """Run one slash command line. ``repl`` provides ``run_async(coro, label)`` (runs a coroutine on
    its loop, Ctrl-C cancels it) and ``run``, the open ``claw.runtime.run.Run``."""
    name, rest = parse(line)
    name = ALIASES.get(name, name)
    entry = COMMANDS.get(name)
    if entry is None:
        raw = line.strip()[1:].split(None, 1)[0] if line.strip()[1:].strip() else ""
        if any(raw.lower() == n.lower() for n in custom_names(repl)):
            repl.turn(line.strip())  # a custom command or an MCP prompt: the run expands it
            return
        near = suggest(name) or next((n for n in custom_names(repl) if name and n.lower().startswith(name)), "")
        hint = f" — did you mean /{near}?" if near else ""
        _say(f"unknown command /{name}{hint} (/help lists them)")
        return
    handler = entry[0]
    try:
        if inspect.iscoroutinefunction(handler):
            repl.run_async(handler(repl, rest), label=_LABELS.get(name), spinner_delay=0.2)
        else:
            handler(repl, rest)
    except ClawError as exc:
        from claw.cli.errors import render_error

        _say(render_error(exc))


_LABELS = {"compact": "compacting", "model": "switching model"}


# -- the commands ---------------------------------------------------------------------------------------


@command("help", "list the commands")
def _help(repl: Any, rest: str) -> None:
    width = max(len(n) for n in COMMANDS) + 2
    _say("\n".join(f"/{n.ljust(width)}{s}" for n, (_, s) in sorted(COMMANDS.items())))
    custom = list(repl.run.info.commands) if getattr(repl, "run", None) is not None else []
    if custom:
        lines = []
        for c in custom:
            hint = f" {c['argumentHint']}" if c.get("argumentHint") else ""
            shadowed = " [hidden by the built-in command]" if c["name"].lower() in COMMANDS else ""
            lines.append(f"/{c['name']}{hint}  {c['description']}{shadowed}")
        _say("Custom commands and MCP prompts:\n" + "\n".join(lines))
    _say('Multi-line input: end a line with \\ to continue it, or put """ alone on a line before and after.\n'
         "Ctrl-C cancels the running turn; Ctrl-C twice on the prompt, Ctrl-D or /exit leaves.")


@command("exit", "leave claw")
def _exit(repl: Any, rest: str) -> None:
    repl.should_exit = True


@command("status", "model, permission mode, session, settings files")
def _status(repl: Any, rest: str) -> None:
    p = repl.run
    lines = [
        f"model:            {p.resolved_model.qualified}",
        f"permission mode:  {p.info.permission_mode}",
        f"session:          {p.session.id} ({len(p.session.messages)} messages)",
        f"working dir:      {p.info.cwd}",
        f"credentials:      {p.info.api_key_source}",
    ]
    sources = [s.describe() for s in p.loaded.sources]
    lines.append("settings files:   " + (", ".join(sources) if sources else "none"))
    shells = p.background_shells()
    if shells:
        running = sum(1 for s in shells if s["status"] == "running")
        lines.append(f"background shells: {running} running, {len(shells) - running} ended (/bashes)")
    _say("\n".join(lines))


@command("model", "show or switch the model: /model sonnet")
async def _model(repl: Any, rest: str) -> None:
    if not rest:
        _say(f"model: {repl.run.resolved_model.qualified}")
        return
    _say(f"model: {await repl.run.switch_model(rest)}")


@command("permissions", "show or set the permission mode: /permissions workspace-write")
def _permissions(repl: Any, rest: str) -> None:
    if rest:
        _say(f"permission mode: {repl.run.set_permission_mode(rest)}")
        return
    perms = repl.run.loaded.settings.permissions
    _say(f"permission mode: {repl.run.info.permission_mode}\n"
         f"allow rules: {', '.join(perms.allow) or 'none'}\ndeny rules: {', '.join(perms.deny) or 'none'}\n"
         f"ask rules: {', '.join(perms.ask) or 'none'}\n"
         "modes: read-only, workspace-write, danger-full-access, default (ask above read-only)")


@command("compact", "summarise the older conversation: /compact [what to focus on]")
async def _compact(repl: Any, rest: str) -> None:
    p = repl.run
    await p.agent.compact(trigger="manual", instructions=rest)
    p.session.sync()


@command("clear", "start a fresh session (the old one stays on disk)")
async def _clear(repl: Any, rest: str) -> None:
    p = repl.run
    old = p.session
    await p.agent.session_end("clear")
    p.switch_session(p.session_store().create(model=p.resolved_model.qualified, cwd=p.info.cwd))
    old.close()
    await p.agent.session_start("clear")
    _say(f"new session {p.session.id} (the previous one can be resumed with /resume {old.id})")


@command("cost", "tokens and cost spent in this REPL so far")
def _cost(repl: Any, rest: str) -> None:
    tally = repl.tally
    usage = tally.usage
    shown = "unknown (no price for this model)" if tally.cost_usd is None else f"${tally.cost_usd:.4f}"
    _say(f"input {usage.input_tokens:,} · output {usage.output_tokens:,} · cache write "
         f"{usage.cache_creation_input_tokens:,} · cache read {usage.cache_read_input_tokens:,} tokens "
         f"({tally.responses} model response{'s' if tally.responses != 1 else ''})\n"
         f"cost: {shown}\napi time: {tally.api_seconds:.1f}s")


@command("sessions", "list the sessions of this workspace")
def _sessions(repl: Any, rest: str) -> None:
    rows = repl.run.session_store().list()
    if not rows:
        _say("no sessions yet")
        return
    current = repl.run.session.id
    out = []
    for r in rows[:20]:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.updated))
        mark = "*" if r.session_id == current else " "
        out.append(f"{mark} {r.session_id}  {when}  {r.message_count:>4} msgs  {r.title or '(untitled)'}")
    _say("\n".join(out))


@command("resume", "switch to another session of this workspace: /resume ID")
async def _resume(repl: Any, rest: str) -> None:
    if not rest:
        _sessions(repl, rest)
        _say("then: /resume ID (a unique prefix is enough)")
        return
    p = repl.run
    store = p.session_store()
    if store.resolve(rest).name == p.session.path.name:
        _say(f"already in session {p.session.id}")
        return
    session = store.open(rest, lock=True)  # SessionInUse when another claw appends to it
    await p.agent.session_end("other")
    p.session.close()
    p.switch_session(session)
    for warning in session.warnings:
        _say(f"claw: warning: {warning}")
    await p.agent.session_start("resume")
    _say(f"resumed {session.id} ({len(session.messages)} messages)")


@command("bashes", "background shells of this session: /bashes [kill ID]")
def _bashes(repl: Any, rest: str) -> None:
    p = repl.run
    if rest.startswith("kill"):
        shell_id = rest[4:].strip()
        background = p.tools.context.background
        if not shell_id or background.get(shell_id) is None:
            _say(f"no background shell {shell_id!r} (/bashes lists them)")
            return
        shell = background.kill(shell_id)
        _say(f"{shell.id}: {shell.status}")
        return
    shells = p.background_shells()
    if not shells:
        _say("no background shells (the model starts them with bash run_in_background)")
        return
    now = time.time()
    for s in shells:
        state = s["status"] + (f" (exit {s['exit_code']})" if s["exit_code"] is not None else "")
        _say(f"{s['id']}  {state:<16} {int(now - s['started']):>5}s  pid {s['pid']}  {s['command'][:80]}\n"
             f"        output: {s['output_file']}")
    _say("stop one with /bashes kill ID")


@command("rewind", "put files and/or the conversation back to an earlier prompt: /rewind [N [files|conversation]]")
def _rewind(repl: Any, rest: str) -> None:
    p = repl.run
    turns = p.user_turns()
    if not turns:
        _say("nothing to rewind: no prompt in this session yet")
        return
    words = rest.split()
    if not words:
        for number, (uid, text) in enumerate(turns, 1):
            preview = p.rewind_files(uid, dry_run=True)
            files = len(preview.get("filesChanged") or [])
            first = " ".join(text.split())[:70] or "(no text)"
            _say(f"{number:>3}  {first}" + (f"  [{files} file{'s' if files != 1 else ''} changed since]" if files else ""))
        _say("then: /rewind N (files and conversation), /rewind N files, or /rewind N conversation")
        return
    what = words[1] if len(words) > 1 else "both"
    if not words[0].isdigit() or not 1 <= int(words[0]) <= len(turns) or what not in ("both", "files", "conversation"):
        _say(f"usage: /rewind N [files|conversation], N from 1 to {len(turns)} (/rewind lists them)")
        return
    uid, text = turns[int(words[0]) - 1]
    if what in ("both", "files"):
        result = p.rewind_files(uid)
        if not result.get("canRewind"):
            _say(f"files not restored: {result.get('error')}")
            return
        changed = result.get("filesChanged") or []
        _say(f"restored {len(changed)} file{'s' if len(changed) != 1 else ''}"
             + (f" (+{result.get('insertions', 0)} -{result.get('deletions', 0)} lines)" if changed else "")
             + (f"; {result['skippedLinks']} left alone (a symlink is there now)" if result.get("skippedLinks") else ""))
        for path in changed:
            _say(f"  {path}")
        if result.get("error"):
            _say(result["error"])
    if what in ("both", "conversation"):
        removed = p.rewind_conversation(uid)
        _say(f"conversation rewound: {removed} message{'s' if removed != 1 else ''} left the history; "
             f"it goes on from before prompt {words[0]}:\n  {text[:500]}")


@command("config", "show the merged settings and where each key came from: /config [get KEY|list]")
def _config(repl: Any, rest: str) -> None:
    from claw.cli.config_cmd import run as config_run

    config_run(["list"] if not rest else rest.split())


@command("plugin", "installed plugins and their problems: /plugin [list|install|enable|disable|...]")
def _plugin(repl: Any, rest: str) -> None:
    import shlex

    from claw.cli.plugin_cmd import run as plugin_run

    plugin_run(shlex.split(rest) if rest else ["list"])


@command("hooks", "list the configured hooks")
def _hooks(repl: Any, rest: str) -> None:
    hooks = repl.run.loaded.settings.hooks
    if not hooks:
        _say("no hooks configured (settings key: hooks)")
        return
    for event, matchers in hooks.items():
        for m in matchers:
            for h in m.hooks:
                _say(f"{event} [{m.matcher or '*'}] {h.command}")


@command("skills", "the skills the model may load")
def _skills(repl: Any, rest: str) -> None:
    extensions = repl.run.extensions
    skills = extensions.skills if extensions is not None else []
    if not skills:
        off = " (--disable-slash-commands)" if repl.run.options.disable_slash_commands else ""
        _say(f"no skills{off}; a skill is a directory with a SKILL.md in .claw/skills/, .claude/skills/ or "
             "the user's skills directory")
        return
    _say("\n".join(f"{s.name} ({s.scope}): {s.description}\n  {s.path}" for s in skills))


@command("agents", "the subagents the agent tool can start, and where each is defined")
def _agents(repl: Any, rest: str) -> None:
    launcher = getattr(repl.run, "subagents", None)
    if launcher is None:
        _say("no subagents in this run")
        return
    lines = []
    for d in launcher.catalog.agents.values():
        tools = ", ".join(d.tools) if d.tools is not None else "all tools"
        where = f"{d.source}: {d.path}" if d.path else d.source
        lines.append(f"{d.name} ({where}): {d.description} [tools: {tools}; model: {d.model or 'inherit'}]")
    lines.append("define more in .claw/agents/*.md, .claude/agents/*.md or ~/.claude/agents/*.md (docs/AGENTS.md)")
    _say("\n".join(lines))


@command("memory", "the memory files (CLAW.md, CLAUDE.md, their @imports) loaded into the system prompt")
def _memory(repl: Any, rest: str) -> None:
    from claw.runtime.system_prompt import build_system_prompt

    prompt = build_system_prompt(cwd=repl.run.info.cwd, env=repl.run.env, include_git=False)
    lines = [f"{s.kind}: {s.path}" + (f" ({s.note})" if s.note else "")
             for s in prompt.sources + prompt.skipped if s.path is not None]
    lines += [f"warning: {w}" for w in prompt.warnings]
    _say("\n".join(lines) if lines else
         "no memory files (CLAUDE.md, .claude/CLAUDE.md, CLAW.md, AGENTS.md, CLAUDE.local.md, ~/.claude/CLAUDE.md); "
         "/init creates CLAW.md")


@command("init", "create .claw/settings.json and a CLAW.md skeleton here (/init CLAUDE.md: Claude Code's file)")
def _init(repl: Any, rest: str) -> None:
    from claw.cli.init_cmd import MEMORY_FILE_CHOICES
    from claw.cli.init_cmd import run as init_run

    choice = rest.strip() or "CLAW.md"
    if choice not in MEMORY_FILE_CHOICES:
        _say(f"usage: /init [{' | '.join(MEMORY_FILE_CHOICES)}]")
        return
    init_run(["--cwd", repl.run.info.cwd, "--memory-file", choice])


@command("diff", "the uncommitted changes of the working tree (git diff HEAD)")
def _diff(repl: Any, rest: str) -> None:
    cwd = repl.run.info.cwd
    color = "--color=always" if getattr(repl, "color", False) else "--no-color"

    def git(*args: str) -> "subprocess.CompletedProcess[str]":
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)

    try:
        inside = git("rev-parse", "--is-inside-work-tree")
        if inside.returncode or inside.stdout.strip() != "true":
            _say(f"not a git repository: {cwd}")
            return
        has_head = git("rev-parse", "--verify", "--quiet", "HEAD").returncode == 0
        out = git("diff", color, "--stat", "--patch", *(["HEAD"] if has_head else []))
        untracked = git("ls-files", "--others", "--exclude-standard")
    except (OSError, subprocess.TimeoutExpired) as exc:
        _say(f"git diff failed: {exc}")
        return
    if out.returncode:
        _say(out.stderr.strip() or f"git diff failed (exit {out.returncode})")
        return
    sys.stdout.write(out.stdout or "no changes to tracked files\n")
    sys.stdout.flush()
    new_files = untracked.stdout.splitlines()
    if new_files:
        shown = ", ".join(new_files[:10]) + (f" and {len(new_files) - 10} more" if len(new_files) > 10 else "")
        _say(f"untracked: {shown}")


@command("export", "write the conversation to a file: /export [FILE.md|FILE.json]")
def _export(repl: Any, rest: str) -> None:
    p = repl.run
    target = Path(rest or f"claw-session-{p.session.id[:8]}.md").expanduser()
    if not target.is_absolute():
        target = Path(p.info.cwd) / target
    if target.suffix == ".json":
        text = json.dumps(p.session.messages, ensure_ascii=False, indent=2)
    else:
        from claw.runtime.compaction import render_transcript

        text = render_transcript(p.session.messages, 10**9)
    try:
        target.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        _say(f"could not write {target}: {exc.strerror or exc}")
        return
    _say(f"wrote {target}")


@command("doctor", "run the checks of claw doctor")
def _doctor(repl: Any, rest: str) -> None:
    from claw.cli.doctor import run as doctor_run

    doctor_run(rest.split())


@command("mcp", "MCP servers and their status")
def _mcp(repl: Any, rest: str) -> None:
    servers = repl.run.info.mcp_servers
    if not servers:
        _say("no MCP servers configured (.mcp.json, settings mcpServers, --mcp-config)")
        return
    _say("\n".join(f"{s.get('name')}: {s.get('status')}" for s in servers))


@command("login", "sign in with an Anthropic account: /login [--no-browser]")
def _login(repl: Any, rest: str) -> None:
    from claw.cli.login_cmd import run_login

    if run_login(rest.split()) == 0:
        _reconnect(repl)


@command("logout", "remove the saved Anthropic sign-in")
def _logout(repl: Any, rest: str) -> None:
    from claw.cli.login_cmd import run_logout

    if run_logout(rest.split()) == 0:
        _reconnect(repl)


def _reconnect(repl: Any) -> None:
    """After /login or /logout: a provider built with the credentials as they are now."""
    p = repl.run
    try:
        repl.run_async(p.switch_model(p.resolved_model.qualified))
    except ClawError as exc:
        _say(f"claw: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else ""))
        return
    _say(f"credentials: {p.info.api_key_source}")
