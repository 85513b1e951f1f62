"""``claw sessions``: list, read, export and delete the saved sessions of a project.

    claw sessions [list] [--json]                     newest first: id, last update, messages, title
    claw sessions show ID                             the conversation, readable on a terminal
    claw sessions export ID [--format md|json] [-o FILE]
    claw sessions rm ID                               delete one session file (no question asked)

``ID`` is a session id or a unique prefix of one; an unknown or ambiguous id is the store's
``UsageError`` (exit 2, with the recent sessions or the candidates as the hint). ``--cwd DIR`` picks
the project. ``show`` and ``export`` use the session's current history, as ``--resume`` would load it
(a compacted part appears as its summary). ``export -o FILE`` writes a temporary file next to FILE and
renames it over FILE, so FILE is never half-written; a new file gets mode 0600, like the sessions.

Reading and deleting files is claw.runtime.session_store's job; this module parses argv, renders and
prints. It never changes a session's content.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import IO, Any, Dict, List, Optional

from claw.errors import ClawError, UsageError

DESCRIPTION = """\
List, read, export and delete the sessions saved in this project (./.claw/sessions).
ID is a session id or a unique prefix of one (as --resume takes it).
"""

TOOL_INPUT_KEYS = ("command", "path", "file_path", "pattern", "url", "query")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}", hint=f"run '{self.prog} --help'")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--cwd", metavar="DIR", help="project directory (default: the current directory)")
    p = _Parser(prog="claw sessions", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    s = sub.add_parser("list", parents=[common], help="the sessions, newest first (the default action)",
                       description="List the sessions of this project, most recently updated first.")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s = sub.add_parser("show", parents=[common], help="print a conversation readably",
                       description="Print the conversation of session ID: prompts, answers, tool calls "
                                   "and a line of each tool result.")
    s.add_argument("id", metavar="ID")
    s = sub.add_parser("export", parents=[common], help="write a conversation as Markdown or JSON",
                       description="Write session ID as Markdown (default) or as JSON (its messages in the "
                                   "Anthropic format, with the session's metadata), to stdout or to a file.")
    s.add_argument("id", metavar="ID")
    s.add_argument("--format", choices=("md", "json"),
                   help="md or json (default: from the -o file name's extension, else md)")
    s.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of stdout")
    s = sub.add_parser("rm", parents=[common], help="delete a session file",
                       description="Delete the file of session ID and print what was removed.")
    s.add_argument("id", metavar="ID")
    return p


# --------------------------------------------------------------------------------------------------
# Rendering


def _blocks(message: Dict[str, Any]) -> List[Dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    return []


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tool_call_summary(name: str, tool_input: Any) -> str:
    """``bash(ls -la)``: the tool and its most telling argument, on one short line."""
    import json

    if isinstance(tool_input, dict):
        for key in TOOL_INPUT_KEYS:
            if key in tool_input:
                return f"{name}({_clip(str(tool_input[key]), 100)})"
    return f"{name}({_clip(json.dumps(tool_input, ensure_ascii=False), 100)})"


def result_text(block: Dict[str, Any]) -> str:
    """A tool result's text; images and documents as one-line notes (``[image: image/png, 1,234 bytes]``)."""
    from claw.tools.base import content_text

    content = block.get("content")
    return content_text(content) if isinstance(content, (str, list)) else ""


def _is_summary(text: str) -> bool:
    from claw.runtime.compaction import SUMMARY_PREFIX

    return text.startswith(SUMMARY_PREFIX)


def _summary_body(text: str) -> str:
    from claw.runtime.compaction import SUMMARY_PREFIX

    return text[len(SUMMARY_PREFIX):] if text.startswith(SUMMARY_PREFIX) else text


def render_conversation(messages: List[Dict[str, Any]]) -> str:
    """The conversation for a terminal: ``> `` before user prompts, assistant text as it is, each tool
    call as ``  * name(arg)`` with one line of its result under it."""
    out: List[str] = []
    for message in messages:
        role = message.get("role")
        for block in _blocks(message):
            kind = block.get("type")
            if kind == "text":
                text = str(block.get("text", "")).rstrip()
                if not text:
                    continue
                if role == "user" and _is_summary(text):
                    out.append("")
                    out.append("[the earlier conversation was compacted into this summary]")
                    out.extend("  " + line for line in _summary_body(text).strip().splitlines())
                elif role == "user":
                    out.append("")
                    out.extend("> " + line for line in text.splitlines())
                else:
                    out.append("")
                    out.extend(text.splitlines())
            elif kind == "tool_use":
                out.append(f"  * {tool_call_summary(str(block.get('name')), block.get('input'))}")
            elif kind == "tool_result":
                text = result_text(block).strip()
                lines = text.splitlines()
                first = _clip(lines[0], 120) if lines else "(no output)"
                more = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
                status = "error" if block.get("is_error") else "ok"
                out.append(f"    -> {status}: {first}{more}")
            elif kind in ("image", "document"):
                out.append(f"  {result_text({'content': [block]})}")
            # thinking and redacted_thinking blocks are not shown
    return "\n".join(out).lstrip("\n") + "\n"


def _fence(text: str, lang: str = "") -> str:
    longest = 0
    run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def render_markdown(meta: Dict[str, Any], messages: List[Dict[str, Any]]) -> str:
    """The conversation as a Markdown document: a heading per turn, tool calls and results fenced."""
    import json

    title = meta.get("title") or f"claw session {meta.get('session_id')}"
    out = [f"# {title}", ""]
    for label, key in (("session", "session_id"), ("model", "model"), ("created", "created_at"),
                       ("project", "cwd"), ("forked from", "parent_session_id")):
        if meta.get(key):
            out.append(f"- {label}: `{meta[key]}`")
    names: Dict[str, str] = {}
    last_heading = None
    for message in messages:
        role = message.get("role")
        for block in _blocks(message):
            kind = block.get("type")
            heading = None
            body = None
            if kind == "text" and str(block.get("text", "")).strip():
                text = str(block.get("text", "")).rstrip()
                if role == "user" and _is_summary(text):
                    heading, body = "Summary of the earlier conversation", _summary_body(text).strip()
                else:
                    heading, body = ("User" if role == "user" else "Assistant"), text
            elif kind == "tool_use":
                names[str(block.get("id"))] = str(block.get("name"))
                heading = "Assistant"
                body = f"**Tool call** `{block.get('name')}`\n\n" + _fence(
                    json.dumps(block.get("input"), ensure_ascii=False, indent=2), "json")
            elif kind == "tool_result":
                name = names.get(str(block.get("tool_use_id")), "tool")
                flag = ", error" if block.get("is_error") else ""
                heading = "Tool results"
                body = f"**Result** (`{name}`{flag})\n\n" + _fence(result_text(block) or "(no output)")
            elif kind in ("image", "document"):
                heading, body = ("User" if role == "user" else "Assistant"), f"*{result_text({'content': [block]})}*"
            if body is None:
                continue
            if heading != last_heading:
                out.extend(["", f"## {heading}"])
                last_heading = heading
            out.extend(["", body])
    return "\n".join(out) + "\n"


def export_object(meta: Any, messages: List[Dict[str, Any]], title: str) -> Dict[str, Any]:
    return {
        "type": "claw_session",
        "session_id": meta.session_id,
        "title": title,
        "model": meta.model,
        "created_at": meta.created_at,
        "cwd": meta.cwd,
        "parent_session_id": meta.parent_session_id,
        "messages": messages,
    }


# --------------------------------------------------------------------------------------------------
# Files


def write_atomically(path: str, text: str) -> None:
    """``text`` to ``path`` atomically; an existing file keeps its mode, a new one gets 0600."""
    from claw.fsutil import atomic_write

    try:
        atomic_write(path, text.encode("utf-8"), new_file_mode=0o600)
    except OSError as exc:
        raise ClawError(f"cannot write {path}: {exc.strerror or exc}", kind="export_io",
                        hint="choose a writable location for -o") from None


# --------------------------------------------------------------------------------------------------
# Actions


def _store(args: Any) -> Any:
    from claw.runtime.session_store import SessionStore

    if args.cwd:
        path = os.path.abspath(os.path.expanduser(args.cwd))
        if not os.path.isdir(path):
            raise UsageError(f"--cwd {args.cwd!r} is not a directory")
    else:
        path = os.getcwd()
    return SessionStore(path)


def _row_json(row: Any) -> Dict[str, Any]:
    from claw.cli.status_cmd import iso_utc

    return {"id": row.session_id, "title": row.title, "updated": iso_utc(row.updated),
            "messages": row.message_count, "size_bytes": row.size_bytes, "path": str(row.path)}


def _list(args: Any, out: IO[str], err: IO[str]) -> int:
    from claw.cli.status_cmd import local_time

    store = _store(args)
    rows = store.list()
    if getattr(args, "json", False):
        import json

        out.write(json.dumps({"type": "sessions", "directory": str(store.directory),
                              "sessions": [_row_json(r) for r in rows]}, ensure_ascii=False, indent=2) + "\n")
        return 0
    if not rows:
        err.write(f"no sessions in {store.directory}\n")
        return 0
    out.write(f"{'ID':<36}  {'UPDATED':<16}  {'MSGS':>5}  TITLE\n")
    for r in rows:
        out.write(f"{r.session_id:<36}  {local_time(r.updated):<16}  {r.message_count:>5}  {r.title or '(untitled)'}\n")
    return 0


def _load(args: Any, err: IO[str]) -> tuple:
    from claw.runtime.session_store import load_session_file
    from claw.runtime.session_summary import summarize_session_file

    store = _store(args)
    path = store.resolve(args.id)
    session = load_session_file(path)
    for warning in session.warnings:
        err.write(f"claw: warning: {warning}\n")
    return session, summarize_session_file(path)


def _show(args: Any, out: IO[str], err: IO[str]) -> int:
    from claw.cli.status_cmd import local_time

    session, row = _load(args, err)
    meta = session.meta
    messages = session.messages
    head = [f"session {meta.session_id}" + (f"  \"{row.title}\"" if row.title else "")]
    facts = [f"model {meta.model}" if meta.model else None,
             f"updated {local_time(row.updated)}",
             _count(len(messages), "message"),
             meta.cwd or None]
    head.append(" · ".join(f for f in facts if f))
    if meta.parent_session_id:
        head.append(f"forked from {meta.parent_session_id}")
    out.write("\n".join(head) + "\n\n")
    out.write(render_conversation(messages) if messages else "(no messages)\n")
    session.close()
    return 0


def _export(args: Any, out: IO[str], err: IO[str]) -> int:
    import json

    session, row = _load(args, err)
    fmt = args.format
    if fmt is None:
        fmt = "json" if args.output and args.output.lower().endswith(".json") else "md"
    meta = session.meta
    if fmt == "json":
        text = json.dumps(export_object(meta, session.messages, row.title), ensure_ascii=False, indent=2) + "\n"
    else:
        info = {"session_id": meta.session_id, "title": row.title, "model": meta.model,
                "created_at": meta.created_at, "cwd": meta.cwd, "parent_session_id": meta.parent_session_id}
        text = render_markdown(info, session.messages)
    session.close()
    if args.output:
        write_atomically(args.output, text)
        err.write(f"wrote session {meta.session_id} ({_count(len(session.messages), 'message')}, {fmt}) to "
                  f"{os.path.abspath(args.output)}\n")
    else:
        out.write(text)
    return 0


def _rm(args: Any, out: IO[str], err: IO[str]) -> int:
    from claw.runtime.session_summary import summarize_session_file

    store = _store(args)
    path = store.resolve(args.id)
    row = summarize_session_file(path)
    try:
        os.unlink(str(path))
    except OSError as exc:
        raise ClawError(f"cannot remove {path}: {exc.strerror or exc}", kind="session_io",
                        hint="check the permissions of the .claw/sessions directory") from None
    title = f" \"{row.title}\"" if row.title else ""
    out.write(f"removed session {row.session_id}{title} ({_count(row.message_count, 'message')}): {path}\n")
    return 0


ACTIONS = {"list": _list, "show": _show, "export": _export, "rm": _rm}


def run(argv: List[str], *, stdout: Optional[IO[str]] = None, stderr: Optional[IO[str]] = None) -> int:
    """Entry point of ``claw sessions``."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    argv = list(argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["list"] + argv  # `claw sessions`, `claw sessions --json`
    as_json = argv[0] == "list" and "--json" in argv
    try:
        args = _parser().parse_args(argv)
        if args.action is None:
            args = _parser().parse_args(["list"])
        return ACTIONS[args.action](args, out, err)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except ClawError as exc:
        if as_json:
            import json

            out.write(json.dumps({"type": "sessions", "error": exc.to_dict()}) + "\n")
        else:
            from claw.cli.errors import render_error

            err.write(render_error(exc) + "\n")
        return exc.exit_code
