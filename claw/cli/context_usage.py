"""The SDK's ``get_context_usage``: claw's own token accounting of a run, in the shape the Agent SDK types
(``SDKControlGetContextUsageResponse``).

What fills the context window of the next request, by category:

- ``system_prompt``: the system prompt without the instruction files, ``memory_files``: the
  instruction files (CLAUDE.md, CLAW.md, AGENTS.md...) it holds, each listed in ``memoryFiles``;
- ``system_tools``: the definitions of claw's built-in tools, ``mcp_tools``: those of MCP tools (the
  run's servers and the host's SDK servers), each listed in ``mcpTools``;
- ``messages``: the conversation. When the provider counted the last response, that count (prompt
  plus output, less the system prompt and tools estimated here) plus an estimate of what came after
  it; otherwise an estimate;
- ``free_space`` and ``autocompact_buffer``: what remains of the model's context window, and the part
  of it auto-compaction keeps free (``CLAW_AUTOCOMPACT_PCT``).

``backgroundTasks`` (claw's addition, only when the run has started background shells) lists them as
the SDK's ``BackgroundTaskSummary``: id, type ``shell``, status, the command.

Estimates are claw.api.preflight's (UTF-8 bytes / 4), not a tokenizer: claw makes no token-counting
request, so ``detail: "full"`` and ``"summary"`` get the same answer. ``gridRows`` is a 10x10 picture of
the window, one square per hundredth. A model whose context window claw does not know is drawn
against ``ASSUMED_WINDOW``.

Deliberately not here: sending the answer (claw.cli.host_controls) or deciding when to compact
(claw.runtime.compaction).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Tuple

if TYPE_CHECKING:
    from claw.runtime.run import Run

ASSUMED_WINDOW = 200_000
GRID = 10
_MEMORY_TYPES = {"user_instructions": "User", "project_instructions": "Project", "local_instructions": "Local"}
_CATEGORIES = (  # id, name, color, kind
    ("system_prompt", "System prompt", "gray", "used"),
    ("system_tools", "System tools", "blue", "used"),
    ("mcp_tools", "MCP tools", "cyan", "used"),
    ("memory_files", "Memory files", "yellow", "used"),
    ("messages", "Messages", "magenta", "used"),
    ("free_space", "Free space", "white", "free"),
    ("autocompact_buffer", "Autocompact buffer", "red", "buffer"),
)


def context_usage(run: "Run") -> Dict[str, Any]:
    """The ``get_context_usage`` answer for ``run`` as it stands (between turns or during one)."""
    from claw.api.preflight import estimate_tokens

    agent = run.agent
    system = estimate_tokens({"system": agent._system()})
    memory_files = [{"path": f.path, "type": _MEMORY_TYPES.get(f.kind, "Project"), "tokens": f.chars // 4}
                    for f in run.memory_files]
    memory = min(system, sum(f["tokens"] for f in memory_files))
    system_tools: List[Dict[str, Any]] = []
    mcp_tools: List[Dict[str, Any]] = []
    for definition in run.tools.model_tools():
        tokens = estimate_tokens({"tools": [definition]})
        name = definition["name"]
        tool = run.tools.tools.get(name)
        server = getattr(getattr(tool, "server", None), "name", None)
        if name.startswith("mcp__") or server is not None:
            mcp_tools.append({"name": name, "serverName": server or name.split("__")[1], "tokens": tokens})
        else:
            system_tools.append({"name": _host_name(name), "tokens": tokens})
    builtin_total = sum(t["tokens"] for t in system_tools)
    mcp_total = sum(t["tokens"] for t in mcp_tools)
    if agent.last_usage is not None and agent._known_prompt is not None:
        messages = max(0, agent._prompt_tokens() - system - builtin_total - mcp_total)
    else:
        messages = estimate_tokens({"messages": list(agent.messages)})

    window = agent.settings.context_window or ASSUMED_WINDOW
    pct = agent.settings.autocompact_pct
    auto = bool(agent.settings.context_window) and pct < 100
    used = {"system_prompt": system - memory, "system_tools": builtin_total, "mcp_tools": mcp_total,
            "memory_files": memory, "messages": messages}
    total = sum(used.values())
    buffer = window - window * pct // 100 if auto else 0
    amounts = dict(used, free_space=max(0, window - total - buffer), autocompact_buffer=buffer)
    categories = [{"id": cid, "name": name, "tokens": amounts[cid], "color": color, "kind": kind}
                  for cid, name, color, kind in _CATEGORIES
                  if amounts[cid] > 0 or cid in ("system_prompt", "messages", "free_space")
                  or (cid == "autocompact_buffer" and auto)]
    last = agent.last_usage
    answer: Dict[str, Any] = {
        "categories": categories,
        "totalTokens": total,
        "maxTokens": window,
        "rawMaxTokens": window,
        "percentage": round(total * 100.0 / window, 1),
        "gridRows": grid(categories, window),
        "model": agent.settings.model,
        "memoryFiles": memory_files,
        "mcpTools": mcp_tools,
        "systemTools": system_tools,
        "agents": [],
        "isAutoCompactEnabled": auto,
        "apiUsage": last.to_dict() if last is not None else None,
    }
    shells = run.background_shells()
    if shells:
        answer["backgroundTasks"] = [{"id": s["id"], "type": "shell", "status": s["status"],
                                      "description": s["command"][:1000], "command": s["command"][:1000]}
                                     for s in shells]
    if auto:
        answer["autoCompactThreshold"] = window * pct // 100
    return answer


def grid(categories: List[Dict[str, Any]], window: int) -> List[List[Dict[str, Any]]]:
    """``GRID`` rows of ``GRID`` squares, each a hundredth of ``window``, laid out in category order:
    a square shows the category that covers its middle, ``squareFullness`` how much of it that
    category fills."""
    spans: List[Tuple[int, int, Dict[str, Any]]] = []
    start = 0
    for category in categories:
        spans.append((start, start + category["tokens"], category))
        start += category["tokens"]
    per = window / float(GRID * GRID)
    rows: List[List[Dict[str, Any]]] = []
    for row in range(GRID):
        squares = []
        for col in range(GRID):
            low = (row * GRID + col) * per
            middle = low + per / 2
            span = next((s for s in spans if s[0] <= middle < s[1]), spans[-1] if spans else None)
            if span is None:
                continue
            begin, end, category = span
            fullness = max(0.0, min(1.0, (min(end, low + per) - max(begin, low)) / per))
            squares.append({"color": category["color"], "isFilled": category["kind"] != "free",
                            "categoryName": category["name"], "tokens": category["tokens"],
                            "percentage": round(category["tokens"] * 100.0 / window, 1),
                            "squareFullness": round(fullness, 3)})
        rows.append(squares)
    return rows


def _host_name(name: str) -> str:
    from claw.cli.host_vocabulary import host_tool_name

    return host_tool_name(name)
