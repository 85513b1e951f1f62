"""Message shapes the Agent SDKs expect that claw's own events do not carry: tool results per message
with ``tool_use_result``, and the hook lifecycle messages of ``--include-hook-events``.

- ``ToolResultMessages`` remembers each tool call (``ToolStarted``/``ToolFinished``) and turns claw's
  one user message with every tool result of a batch into one ``user`` message per ``tool_result``
  block, as Claude Code writes them, each with ``tool_use_result``: the structured output Claude Code
  gives for that tool (``{"stdout", "stderr", "interrupted"}`` for Bash, ``{"type": "text", "file":
  {...}}`` for Read...: sdk-tools.d.ts ``ToolOutputSchemas``), ``"Error: <text>"`` for a failed call,
  the output text for tools without a structured form (MCP tools). What claw does not compute is
  given plainly: ``structuredPatch`` is ``[]`` and ``originalFile`` ``null`` for Write/Edit.
- ``hook_started`` / ``hook_response`` build the ``system`` messages for a hook that starts and ends;
  ``hook_event_observer`` is the claw.runtime.hooks ``HookObserver`` that writes them through a
  stream-json writer.

Deliberately not here: tool and field names (claw.cli.host_vocabulary translates them), the session
file (it keeps claw's one message per batch), writing anything.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional

from claw.ids import uuid4

_NUMBERED = re.compile(r"^ *\d+\t")  # read_file's "     1\ttext" lines


class ToolResultMessages:
    """Per-call records of one run and the split of tool-result user messages."""

    def __init__(self) -> None:
        self._calls: Dict[str, Dict[str, Any]] = {}

    def started(self, tool_use_id: str, name: str, tool_input: Mapping[str, Any]) -> None:
        self._calls[tool_use_id] = {"name": name, "input": dict(tool_input or {})}

    def finished(self, tool_use_id: str, name: str, output: str, is_error: bool, metadata: Mapping[str, Any]) -> None:
        call = self._calls.setdefault(tool_use_id, {"name": name, "input": {}})
        call.update(output=output, is_error=is_error, metadata=dict(metadata or {}))

    def split(self, obj: Dict[str, Any]) -> List[Dict[str, Any]]:
        """``obj`` (a stream-json ``user`` message) as one message per ``tool_result`` block, each with
        its ``tool_use_result``; the first keeps ``obj``'s uuid. Other user messages pass unchanged."""
        message = obj.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list) or not content or not all(
                isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
            return [obj]
        out = []
        for index, block in enumerate(content):
            part = dict(obj, message=dict(message, content=[block]))
            if index:
                part["uuid"] = uuid4()
            part["tool_use_result"] = self.result_of(block)
            out.append(part)
            self._calls.pop(str(block.get("tool_use_id")), None)
        return out

    def result_of(self, block: Mapping[str, Any]) -> Any:
        call = self._calls.get(str(block.get("tool_use_id")))
        text = _text_of(block.get("content"))
        if call is None or "output" not in call:
            return f"Error: {text}" if block.get("is_error") else text
        if call["is_error"]:
            return f"Error: {call['output']}"
        try:
            return tool_use_result(call["name"], call["input"], call["output"], call["metadata"])
        except Exception:  # a shape must never cost the host its message
            return call["output"]


def tool_use_result(name: str, tool_input: Mapping[str, Any], output: str, meta: Mapping[str, Any]) -> Any:
    """Claude Code's structured output for a successful call of claw's tool ``name``."""
    path = str(meta.get("path") or tool_input.get("path") or tool_input.get("file_path") or "")
    if name == "bash":
        result: Dict[str, Any] = {"stdout": output, "stderr": "", "interrupted": bool(meta.get("interrupted")),
                                  "isImage": False, "noOutputExpected": False}
        if meta.get("background"):
            result["backgroundTaskId"] = str(meta.get("job_id"))
        return result
    if name == "notebook_edit":
        return dict(meta["notebook"])
    if name == "read_file" and meta.get("type") in ("image", "pdf", "notebook", "parts"):
        return {k: meta[k] for k in ("type", "file", "firstPage") if k in meta}
    if name == "read_file":
        shown = meta.get("shown") or [1, 0]
        start, last = int(shown[0]), int(shown[1])
        lines = [_NUMBERED.sub("", line) for line in output.splitlines() if _NUMBERED.match(line)]
        return {"type": "text", "file": {"filePath": path, "content": "\n".join(lines) + ("\n" if lines else ""),
                                         "numLines": max(0, last - start + 1), "startLine": start,
                                         "totalLines": int(meta.get("lines") or 0)}}
    if name == "write_file":
        return {"type": "create" if meta.get("created") else "update", "filePath": path,
                "content": str(tool_input.get("content", "")), "structuredPatch": [], "originalFile": None}
    if name == "edit_file":
        return {"filePath": path, "oldString": str(tool_input.get("old_string", "")),
                "newString": str(tool_input.get("new_string", "")), "originalFile": None, "structuredPatch": [],
                "userModified": False, "replaceAll": bool(tool_input.get("replace_all"))}
    if name == "glob_search":
        files = [] if not meta.get("count") else [line for line in output.splitlines() if line.strip()]
        return {"durationMs": 0, "numFiles": int(meta.get("count") or 0), "filenames": files,
                "truncated": False}
    if name == "grep_search":
        mode = str(tool_input.get("output_mode") or "files_with_matches")
        result = {"mode": mode, "numFiles": int(meta.get("files") or 0), "filenames": []}
        if mode == "files_with_matches" and meta.get("files"):  # "Found N files", the names, maybe a note
            result["filenames"] = [line for line in output.splitlines()[1:]
                                   if line.strip() and not line.startswith("[")]
        else:
            result["content"] = output
        return result
    if name == "web_fetch":
        status = int(meta.get("status") or 0)
        return {"bytes": int(meta.get("bytes") or 0), "code": status, "codeText": "", "result": output,
                "durationMs": 0, "url": str(meta.get("url") or tool_input.get("url") or "")}
    if name == "web_search":
        return {"query": str(tool_input.get("query", "")), "results": [output], "durationSeconds": 0}
    if name == "exit_plan_mode":
        return {"plan": str(meta.get("plan") or ""), "isAgent": False}
    if name == "ask_user_question":
        return {"questions": [dict(q, multiSelect=bool(q.get("multiSelect"))) for q in meta.get("questions") or ()],
                "answers": dict(meta.get("answers") or {})}
    if name == "todo_write":
        return {"oldTodos": _todos(meta.get("old_todos")), "newTodos": _todos(meta.get("todos"))}
    if name == "kill_shell":
        return {"message": output, "task_id": str(meta.get("shell_id") or ""), "task_type": "local_bash",
                "command": str(meta.get("command") or "")}
    if name == "agent" and meta.get("agent_id"):
        usage = dict(meta.get("usage") or {})
        return {"status": "completed", "agentId": str(meta["agent_id"]), "agentType": str(meta.get("subagent_type")),
                "prompt": str(meta.get("prompt") or tool_input.get("prompt") or ""),
                "content": [{"type": "text", "text": output}], "resolvedModel": str(meta.get("model") or ""),
                "totalToolUseCount": int(meta.get("tool_uses") or 0),
                "totalDurationMs": int(meta.get("duration_ms") or 0),
                "totalTokens": int(meta.get("total_tokens") or 0),
                "usage": {"input_tokens": int(usage.get("input_tokens") or 0),
                          "output_tokens": int(usage.get("output_tokens") or 0),
                          "cache_creation_input_tokens": usage.get("cache_creation_input_tokens"),
                          "cache_read_input_tokens": usage.get("cache_read_input_tokens"),
                          "server_tool_use": None, "service_tier": None, "cache_creation": None}}
    return output


def _todos(items: Any) -> List[Dict[str, Any]]:
    out = []
    for item in items or ():
        if isinstance(item, Mapping):
            active = item.get("activeForm") or item.get("active_form") or item.get("content", "")
            out.append({"content": str(item.get("content", "")), "status": str(item.get("status", "pending")),
                        "activeForm": str(active)})
    return out


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


# -- hook lifecycle messages ----------------------------------------------------------------------

def hook_started(hook_id: str, hook_name: str, event: str, *, session_id: str) -> Dict[str, Any]:
    """``system/hook_started``: a hook of ``event`` begins (``hook_name``: ``PreToolUse:Bash``)."""
    return {"type": "system", "subtype": "hook_started", "hook_id": hook_id, "hook_name": hook_name,
            "hook_event": event, "uuid": uuid4(), "session_id": session_id}


def hook_response(hook_id: str, hook_name: str, event: str, result: Optional[Any], *, session_id: str,
                  cancelled: bool = False) -> Dict[str, Any]:
    """``system/hook_response``: what the hook printed (a callback: its answer as JSON), its exit code
    and ``outcome`` (``success``, ``error`` or ``cancelled``)."""
    import json

    stdout = stderr = ""
    exit_code: Optional[int] = None
    outcome = "cancelled" if cancelled else "error"
    if result is not None:
        stdout, stderr, exit_code = result.stdout or "", result.stderr or "", result.exit_code
        if result.answer is not None:
            stdout = json.dumps(result.answer, ensure_ascii=False, default=str)
        if result.error:
            stderr = (stderr + "\n" if stderr else "") + result.error
        elif result.timed_out:
            stderr = (stderr + "\n" if stderr else "") + "timed out"
        elif exit_code == 0:
            outcome = "success"
    obj: Dict[str, Any] = {"type": "system", "subtype": "hook_response", "hook_id": hook_id,
                           "hook_name": hook_name, "hook_event": event, "output": stdout + stderr,
                           "stdout": stdout, "stderr": stderr}
    if exit_code is not None:
        obj["exit_code"] = exit_code
    obj.update({"outcome": outcome, "uuid": uuid4(), "session_id": session_id})
    return obj


def hook_event_observer(emit: Any, info: Any) -> Any:
    """A claw.runtime.hooks ``HookObserver`` that writes ``hook_started`` / ``hook_response`` through
    ``emit`` (``info``: the run's RunInfo, for the session id). ``hook_name`` is ``Event:Tool`` with
    Claude Code's tool name for tool events, the event alone otherwise."""
    from claw.cli.host_vocabulary import host_tool_name

    def observe(phase: str, event: str, tool_name: Optional[str], spec: Any, hook_id: str,
                result: Optional[Any]) -> None:
        name = f"{event}:{host_tool_name(tool_name)}" if tool_name else event
        if phase == "started":
            emit(hook_started(hook_id, name, event, session_id=info.session_id))
        else:
            emit(hook_response(hook_id, name, event, result, session_id=info.session_id,
                               cancelled=phase == "cancelled"))

    return observe
