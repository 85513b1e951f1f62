"""The flags of a run (headless or REPL), parsed into one typed value.

Flag names follow Claude Code's CLI (``-p/--print``, ``--output-format``, ``--allowedTools``...) so
scripts and the Agent SDKs carry over; camelCase flags also accept their kebab-case spelling. Flags the
SDKs may pass that claw does not act on (``--setting-sources``, ``--include-hook-events``, ``--betas``...)
are accepted and recorded, so an embedding host never fails on them; anything else unknown is a usage
error with a hint.

This module parses only: it does not read settings, check that files exist, or resolve tool names.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import List, Optional

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
    fallback_model: Optional[str] = None
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
    resume: Optional[str] = None
    continue_: bool = False
    fork_session: bool = False
    session_id: Optional[str] = None
    mcp_config: List[str] = field(default_factory=list)
    strict_mcp_config: bool = False
    settings: Optional[str] = None
    add_dir: List[str] = field(default_factory=list)
    cwd: Optional[str] = None
    max_thinking_tokens: Optional[int] = None
    thinking: Optional[str] = None
    sdk_url: Optional[str] = None
    replay_user_messages: bool = False  # stream-json input: echo the host's user messages back
    ignored: List[str] = field(default_factory=list)  # accepted for SDK compatibility, not acted on

    @property
    def json_output(self) -> bool:
        return self.output_format in ("json", "stream-json")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"claw: {message}", hint="run 'claw --help' for the list of flags")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _parser() -> _Parser:
    p = _Parser(prog="claw", add_help=False, allow_abbrev=False)
    p.add_argument("prompt", nargs="*")
    p.add_argument("-p", "--print", dest="print_mode", action="store_true")
    p.add_argument("--output-format", choices=OUTPUT_FORMATS, default="text")
    p.add_argument("--input-format", choices=INPUT_FORMATS, default="text")
    p.add_argument("--include-partial-messages", action="store_true")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--model")
    p.add_argument("--fallback-model")
    p.add_argument("--permission-mode")
    p.add_argument("--dangerously-skip-permissions", action="store_true")
    p.add_argument("--tools")
    p.add_argument("--allowedTools", "--allowed-tools", dest="allowed_tools", action="append", default=[])
    p.add_argument("--disallowedTools", "--disallowed-tools", dest="disallowed_tools", action="append",
                   default=[])
    p.add_argument("--permission-prompt-tool")
    p.add_argument("--max-turns", type=_positive_int)
    p.add_argument("--system-prompt")
    p.add_argument("--system-prompt-file")
    p.add_argument("--append-system-prompt")
    p.add_argument("-r", "--resume")
    p.add_argument("-c", "--continue", dest="continue_", action="store_true")
    p.add_argument("--fork-session", action="store_true")
    p.add_argument("--session-id")
    p.add_argument("--mcp-config", action="append", default=[])
    p.add_argument("--strict-mcp-config", action="store_true")
    p.add_argument("--settings")
    p.add_argument("--add-dir", action="append", default=[])
    p.add_argument("--cwd")
    p.add_argument("--max-thinking-tokens", type=_positive_int)
    p.add_argument("--thinking", choices=("adaptive", "enabled", "disabled"))
    p.add_argument("--sdk-url")
    p.add_argument("--replay-user-messages", action="store_true")
    # Accepted for Agent SDK compatibility; recorded in RunArgs.ignored.
    for flag in ("--setting-sources", "--betas", "--effort", "--json-schema", "--plugin-dir",
                 "--max-budget-usd", "--task-budget", "--resume-session-at", "--resume-drops-turn",
                 "--thinking-display"):
        p.add_argument(flag, dest="ignored_" + flag[2:].replace("-", "_"), action="append")
    for flag in ("--include-hook-events", "--session-mirror", "--debug"):
        p.add_argument(flag, dest="ignored_" + flag[2:].replace("-", "_"), action="store_true")
    return p


def parse_run_args(argv: List[str]) -> RunArgs:
    try:
        ns = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits on its own only for --help, which we never register
        raise UsageError("claw: could not parse the command line",
                         hint="run 'claw --help' for the list of flags") from exc
    values = vars(ns)
    ignored = sorted(k[len("ignored_"):].replace("_", "-") for k, v in values.items()
                     if k.startswith("ignored_") and v)
    args = RunArgs(**{k: v for k, v in values.items() if not k.startswith("ignored_") and k != "prompt"},
                   ignored=ignored)
    if ns.prompt:
        args.prompt = " ".join(ns.prompt)
    if args.sdk_url:
        # As Claude Code: --sdk-url speaks stream-json both ways; the flags may be left out.
        args.input_format = args.output_format = "stream-json"
    if args.resume is not None and args.continue_:
        raise UsageError("claw: --resume and --continue cannot be used together",
                         hint="--continue picks the latest session; --resume ID picks one")
    if args.include_partial_messages and args.output_format != "stream-json":
        raise UsageError("claw: --include-partial-messages needs --output-format stream-json")
    if args.input_format == "stream-json" and args.output_format != "stream-json":
        raise UsageError("claw: --input-format stream-json needs --output-format stream-json",
                         hint="embedding hosts run: claw --input-format stream-json --output-format stream-json")
    return args


def sniff_output_format(argv: List[str]) -> str:
    """The output format asked for, read before a full parse, so a usage error can still be reported
    in the format the caller reads."""
    for i, arg in enumerate(argv):
        if arg == "--output-format" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--output-format="):
            value = arg.split("=", 1)[1]
        else:
            continue
        return value if value in OUTPUT_FORMATS else "text"
    return "text"
