"""The flags of a run (headless or REPL), parsed into one typed value.

Flag names follow Claude Code's CLI (``-p/--print``, ``--output-format``, ``--allowedTools``...) so
scripts and the Agent SDKs carry over; camelCase flags also accept their kebab-case spelling. Every flag
the Agent SDKs may pass is either acted on, accepted as a no-op when ignoring it cannot change what the
host asked for (output detail such as ``--debug``), or refused by name with the reason
(``_REFUSED``: ``--task-budget``, ``--channels``...), so a host never silently gets less than it
asked for. docs/EMBEDDING.md keeps the table; tests/sdk/test_flag_table.py checks it against the SDKs.
Anything else unknown is a usage error with a hint.

It is the one parser of a run's argv: claw.cli.main reads the parsed value to choose headless or
the REPL (``RunArgs.headless``), and the front ends use the same value, or the partial value read before
a usage error (``read_run_args``) to report that error in the output format asked for.

This module parses only: it does not read settings, check that files exist, or resolve tool names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from claw.errors import UsageError

OUTPUT_FORMATS = ("text", "json", "stream-json")
INPUT_FORMATS = ("text", "stream-json")


@dataclass
class RunArgs:
    """The parsed options of a headless run or a REPL session."""

    prompt: Optional[str] = None
    print_mode: bool = False
    output_format: str = "text"
    input_format: str = "text"
    include_partial_messages: bool = False
    verbose: bool = False
    model: Optional[str] = None
    permission_mode: Optional[str] = None
    dangerously_skip_permissions: bool = False
    tools: Optional[str] = None
    allowed_tools: List[str] = field(default_factory=list)
    disallowed_tools: List[str] = field(default_factory=list)
    permission_prompt_tool: Optional[str] = None
    max_turns: Optional[int] = None
    system_prompt: Optional[str] = None
    system_prompt_file: Optional[str] = None
    append_system_prompt: Optional[str] = None
    append_system_prompt_file: Optional[str] = None
    resume: Optional[str] = None
    continue_: bool = False
    fork_session: bool = False
    session_id: Optional[str] = None
    mcp_config: List[str] = field(default_factory=list)
    strict_mcp_config: bool = False
    settings: Optional[str] = None
    # --setting-sources: which settings files load ("user", "project", "local"); None: all of them
    setting_sources: Optional[List[str]] = None
    add_dir: List[str] = field(default_factory=list)
    plugin_dir: List[str] = field(default_factory=list)  # --plugin-dir DIR (repeatable): plugins for this run
    plugin_dir_no_mcp: List[str] = field(default_factory=list)  # the same without the plugin's MCP servers
    cwd: Optional[str] = None
    max_thinking_tokens: Optional[int] = None
    thinking: Optional[str] = None
    effort: Optional[str] = None  # --effort: low | medium | high | xhigh | max
    fallback_model: Optional[str] = None  # --fallback-model: comma-separated, tried in order
    max_budget_usd: Optional[float] = None  # --max-budget-usd: no request once the session cost reached it
    betas: List[str] = field(default_factory=list)  # extra anthropic-beta request headers
    # --await-initialize: read the host's initialize request (MCP servers, system prompt) before starting
    await_initialize: bool = False
    # --allow-dangerously-skip-permissions: the host may switch to bypassPermissions later (claw allows it anyway)
    allow_dangerously_skip_permissions: bool = False
    no_session_persistence: bool = False  # --no-session-persistence: no session file is written
    sdk_url: Optional[str] = None
    # --json-schema: the answer must be a value of this schema (claw.runtime.structured_output)
    json_schema: Optional[Dict[str, Any]] = None
    agents: Optional[str] = None  # --agents: subagent definitions as JSON (claw.runtime.agent_defs)
    agent: Optional[str] = None  # --agent: the main thread runs as this agent
    replay_user_messages: bool = False  # stream-json input: echo the host's user messages back
    include_hook_events: bool = False  # stream-json output: system/hook_started and hook_response messages
    disable_slash_commands: bool = False  # --disable-slash-commands: no custom commands, MCP prompts, skills
    ignored: List[str] = field(default_factory=list)  # accepted for SDK compatibility, not acted on
    # --output-format as written (before --sdk-url implies stream-json): failures before a run could
    # start are reported in it
    requested_output_format: str = "text"

    @property
    def headless(self) -> bool:
        """A headless run (one prompt, then exit) rather than the REPL, whatever stdin is."""
        return (self.print_mode or self.sdk_url is not None or self.output_format in ("json", "stream-json")
                or self.input_format == "stream-json")

# The flags, by kind. Names map to RunArgs fields; a flag may have several names (Claude Code's camelCase
# and kebab-case). Parsing is by hand rather than with argparse: argparse and what it imports (gettext,
# shutil with bz2 and lzma) were 4-6 ms of every run's start-up.
_SWITCHES = {
    "-p": "print_mode", "--print": "print_mode",
    "--include-partial-messages": "include_partial_messages",
    "--verbose": "verbose",
    "--dangerously-skip-permissions": "dangerously_skip_permissions",
    "-c": "continue_", "--continue": "continue_",
    "--fork-session": "fork_session",
    "--strict-mcp-config": "strict_mcp_config",
    "--replay-user-messages": "replay_user_messages",
    "--await-initialize": "await_initialize",
    "--allow-dangerously-skip-permissions": "allow_dangerously_skip_permissions",
    "--no-session-persistence": "no_session_persistence",
    "--include-hook-events": "include_hook_events",
    "--disable-slash-commands": "disable_slash_commands",
}
_VALUES = {
    "--output-format": "output_format", "--input-format": "input_format",
    "--model": "model",
    "--permission-mode": "permission_mode", "--tools": "tools",
    "--permission-prompt-tool": "permission_prompt_tool",
    "--max-turns": "max_turns", "--max-thinking-tokens": "max_thinking_tokens",
    "--system-prompt": "system_prompt", "--system-prompt-file": "system_prompt_file",
    "--append-system-prompt": "append_system_prompt",
    "--append-system-prompt-file": "append_system_prompt_file",
    "-r": "resume", "--resume": "resume", "--session-id": "session_id",
    "--settings": "settings", "--setting-sources": "setting_sources",
    "--cwd": "cwd", "--thinking": "thinking", "--sdk-url": "sdk_url",
    "--json-schema": "json_schema",
    "--fallback-model": "fallback_model", "--max-budget-usd": "max_budget_usd", "--effort": "effort",
    "--agents": "agents", "--agent": "agent",
}
_LISTS = {  # repeatable: every value is kept
    "--allowedTools": "allowed_tools", "--allowed-tools": "allowed_tools",
    "--disallowedTools": "disallowed_tools", "--disallowed-tools": "disallowed_tools",
    "--mcp-config": "mcp_config", "--add-dir": "add_dir", "--betas": "betas",
    "--plugin-dir": "plugin_dir", "--plugin-dir-no-mcp": "plugin_dir_no_mcp",
}
_CHOICES = {"output_format": OUTPUT_FORMATS, "input_format": INPUT_FORMATS,
            "thinking": ("adaptive", "enabled", "disabled"),
            "effort": ("low", "medium", "high", "xhigh", "max")}
_POSITIVE_INTS = ("max_turns", "max_thinking_tokens")
# Accepted and recorded in RunArgs.ignored, because ignoring them changes only what is printed, never
# what the run does: these take a value...
_IGNORED_VALUES = ("--debug-file", "--thinking-display")
# ...and these do not.
_IGNORED_SWITCHES = ("--debug", "--debug-to-stderr")
# Refused by name: the SDKs may pass them, and running without what they ask for would quietly give the
# host less than it asked (no budget cap, no schema check, no fallback...). flag -> (takes a value, why).
_REFUSED = {
    "--task-budget": (True, "a task budget is not enforced"),
    "--resume-session-at": (True, "resuming at a given message is not supported (resume the whole session)"),
    "--resume-drops-turn": (True, "resuming without the last turn is not supported"),
    "--session-mirror": (False, "mirroring the session to the host's session store is not supported"),
    "--initialize-fields": (True, "settings, disallowed tools and directories cannot be sent in initialize "
                                  "(use the SDK's default 'argv' delivery)"),
    "--managed-settings": (True, "managed (policy) settings from the host are not supported"),
    "--managed-settings-in-initialize": (False, "managed (policy) settings from the host are not supported"),
    "--project-config-root": (True, "another project configuration root is not supported (use --cwd)"),
    "--permission-prompts": (True, "permission prompt routing is not supported (use --permission-prompt-tool "
                                   "stdio)"),
    "--channels": (True, "MCP channels are not supported"),
}


# Answered by claw.cli.main before a run's flags are parsed; listed so a typo of them gets a did-you-mean.
_HANDLED_BY_MAIN = ("--version", "--help")


def _usage(message: str, hint: str = "run 'claw --help' for the list of flags") -> UsageError:
    return UsageError(f"claw: {message}", hint=hint)


def _is_number(arg: str) -> bool:
    """``-1`` or ``-.5``: a word of the prompt, not a flag (as argparse treats it)."""
    return arg[1:].replace(".", "", 1).isdigit()


def _unknown(flag: str) -> UsageError:
    import difflib

    known = (list(_SWITCHES) + list(_VALUES) + list(_LISTS) + list(_IGNORED_VALUES) + list(_IGNORED_SWITCHES)
             + list(_HANDLED_BY_MAIN) + list(_REFUSED))
    close = difflib.get_close_matches(flag, [k for k in known if k.startswith("--")], n=1)
    if close:
        return _usage(f"unknown flag {flag}", f"did you mean {close[0]}? (claw --help lists the flags)")
    return _usage(f"unknown flag {flag}")


def known_flags() -> List[str]:
    """Every long flag the run parser knows: acted on, accepted as a no-op, or refused by name."""
    return sorted(k for k in (list(_SWITCHES) + list(_VALUES) + list(_LISTS) + list(_IGNORED_VALUES)
                              + list(_IGNORED_SWITCHES) + list(_REFUSED)) if k.startswith("--"))


def refused(flag: str) -> UsageError:
    """The error for a flag claw knows but does not support yet (exit 2; one JSON error result in the
    JSON formats)."""
    reason = _REFUSED[flag][1]
    return UsageError(f"claw: {flag} is not supported by this claw version yet: {reason}",
                      hint=f"run without {flag}; docs/EMBEDDING.md lists what each Agent SDK option needs",
                      kind="unsupported_option")


def _split(argv: List[str]) -> List[tuple]:
    """``argv`` as ``(flag, inline value or None)`` pairs and ``(None, word)`` for prompt words.
    ``--flag=value`` gives the inline value; ``-pc`` is ``-p -c``; ``-rID`` is ``-r ID``; after ``--``
    everything is a prompt word."""
    out: List[tuple] = []
    for i, arg in enumerate(argv):
        if arg == "--":
            out.extend((None, word) for word in argv[i + 1:])
            break
        if not arg.startswith("-") or arg == "-" or _is_number(arg):
            out.append((None, arg))
        elif arg.startswith("--"):
            name, eq, value = arg.partition("=")
            out.append((name, value if eq else None))
        else:
            for j in range(1, len(arg)):
                flag = "-" + arg[j]
                rest = arg[j + 1:]
                if flag in _VALUES and rest:
                    out.append((flag, rest))
                    break
                out.append((flag, None))
    return out


def parse_run_args(argv: List[str]) -> RunArgs:
    """The flags of a run; raises the first ``UsageError`` in them."""
    args, error = read_run_args(argv)
    if error is not None:
        raise error
    return args


def read_run_args(argv: List[str]) -> Tuple[RunArgs, Optional[UsageError]]:
    """``argv`` parsed as far as it can be, and its first usage error (None when there is none). Never
    raises: after a bad flag the rest is still read, so a caller knows e.g. the output format asked for."""
    args = RunArgs()
    errors: List[UsageError] = []
    words: List[str] = []
    ignored = set()
    pairs = _split(argv)
    i = 0
    while i < len(pairs):
        flag, value = pairs[i]
        i += 1
        if flag is None:
            words.append(value)
            continue
        if flag in _REFUSED:
            errors.append(refused(flag))
            takes_value = _REFUSED[flag][0]
            if takes_value and value is None and i < len(pairs) and pairs[i][0] is None:
                i += 1  # its value is not a prompt word
            continue
        if flag in _SWITCHES or flag in _IGNORED_SWITCHES:
            if value is not None:
                errors.append(_usage(f"{flag} takes no value (got {flag}={value})"))
            elif flag in _SWITCHES:
                setattr(args, _SWITCHES[flag], True)
            else:
                ignored.add(flag[2:])
            continue
        if flag not in _VALUES and flag not in _LISTS and flag not in _IGNORED_VALUES:
            errors.append(_unknown(flag))
            continue
        if value is None:  # the next argument is the value, unless it is another flag
            nxt = pairs[i] if i < len(pairs) else None
            if nxt is None or nxt[0] is not None:
                errors.append(_usage(f"{flag} needs a value"))
                continue
            value = nxt[1]
            i += 1
        if flag in _IGNORED_VALUES:
            ignored.add(flag[2:])
        elif flag == "--betas":
            args.betas.extend(b.strip() for b in value.split(",") if b.strip())
        elif flag in _LISTS:
            getattr(args, _LISTS[flag]).append(value)
        else:
            dest = _VALUES[flag]
            try:
                setattr(args, dest, _checked(flag, dest, value))
            except UsageError as exc:
                errors.append(exc)
    args.ignored = sorted(ignored)
    args.requested_output_format = args.output_format
    if words:
        args.prompt = " ".join(words)
    if args.sdk_url:
        # As Claude Code: --sdk-url speaks stream-json both ways; the flags may be left out.
        args.input_format = args.output_format = "stream-json"
    if args.resume is not None and args.continue_:
        errors.append(UsageError("claw: --resume and --continue cannot be used together",
                                 hint="--continue picks the latest session; --resume ID picks one"))
    if args.fallback_model is not None and args.model is not None and (
            args.model.strip() in [m.strip() for m in args.fallback_model.split(",")]):
        # as Claude Code (it compares the names as written; setup compares the resolved models too)
        errors.append(UsageError("claw: --fallback-model cannot be the same as --model",
                                 hint="name another model as the fallback"))
    if args.no_session_persistence and (args.resume is not None or args.continue_):
        errors.append(UsageError("claw: --no-session-persistence with --resume/--continue is not supported by "
                                 "this claw version yet", hint="resume with persistence, or start a new session",
                                 kind="unsupported_option"))
    if args.await_initialize and args.input_format != "stream-json":
        errors.append(UsageError("claw: --await-initialize needs --input-format stream-json",
                                 hint="the initialize request comes from the host on stdin"))
    if args.include_partial_messages and args.output_format != "stream-json":
        errors.append(UsageError("claw: --include-partial-messages needs --output-format stream-json"))
    if args.input_format == "stream-json" and args.output_format != "stream-json":
        errors.append(UsageError(
            "claw: --input-format stream-json needs --output-format stream-json",
            hint="embedding hosts run: claw --input-format stream-json --output-format stream-json"))
    return args, (errors[0] if errors else None)


SETTING_SOURCES = ("user", "project", "local")


def _setting_sources(value: str) -> List[str]:
    """``user,project,local`` (any subset, any order); ``""`` loads no settings files at all."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    for name in names:
        if name not in SETTING_SOURCES:
            raise _usage(f"--setting-sources: unknown source {name!r}",
                         "valid sources: user, project, local (comma-separated; \"\" for none)")
    return list(dict.fromkeys(names))


def _checked(flag: str, dest: str, value: str) -> object:
    if dest == "setting_sources":
        return _setting_sources(value)
    if dest == "json_schema":  # parsed and checked here: a schema claw cannot check fails before any request
        from claw.runtime.structured_output import parse_schema

        return parse_schema(value, source=flag)
    choices = _CHOICES.get(dest)
    if choices is not None and value not in choices:
        raise _usage(f"{flag}: invalid choice {value!r} (choose from {', '.join(choices)})")
    if dest == "max_budget_usd":
        try:
            amount = float(value)
        except ValueError:
            amount = float("nan")
        if not amount > 0 or amount == float("inf"):
            raise _usage(f"{flag} must be a number greater than 0, got {value!r}")
        return amount
    if dest in _POSITIVE_INTS:
        try:
            number = int(value)
        except ValueError:
            raise _usage(f"{flag}: expected a whole number, got {value!r}") from None
        if number < 1:
            raise _usage(f"{flag}: must be at least 1, got {number}")
        return number
    return value
