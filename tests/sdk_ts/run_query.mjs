// Run one query() of the TypeScript Agent SDK from a JSON spec, for tests/sdk/test_ts_sdk.py.
//   node run_query.mjs SPEC.json
// SPEC: {"prompt": "...", "options": {...}, "canUseTool": {"behavior": "allow"|"deny", "message": "..."},
//        "sdkServer": "NAME"}
// "canUseTool": {"behavior": "claude-code-host", "readInstead": PATH} plays a host written for Claude Code:
// Bash with an `echo ` command is allowed, Read is allowed with its file_path replaced by PATH, the rest
// is denied.
// "options" go to query() as given (pathToClaudeCodeExecutable, env, cwd, maxTurns...); with "canUseTool"
// a callback answers every permission request with that answer and records the request; with
// "sdkServer" an in-process SDK MCP server of that name joins options.mcpServers, with one tool
// "shout" {text} that answers the text in capitals (and records the call).
// "steps": [{"prompt": "..."} | {"method": "NAME", "args": [...]}, ...] instead of "prompt" drives a
// streaming-input session: each prompt step sends a user message and waits for its result, each
// method step calls that method of the Query object (setMaxThinkingTokens, getContextUsage,
// setMcpServers, toggleMcpServer, reconnectMcpServer, mcpServerStatus, rewindFiles...) and prints
// {"kind": "call", "method", "result"} or {"kind": "call", "method", "error"}; then the input ends.
// Prints one JSON line per SDK message, {"kind": "can_use_tool", ...} per callback, and last
// {"kind": "end"} or {"kind": "error", "message": "..."}.
import { readFileSync } from "node:fs";
import { createSdkMcpServer, query, tool } from "@anthropic-ai/claude-agent-sdk";
import { z } from "zod";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const options = { ...spec.options };
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
if (spec.canUseTool) {
  options.canUseTool = async (toolName, input) => {
    out({ kind: "can_use_tool", toolName, input });
    if (spec.canUseTool.behavior === "claude-code-host") {
      // A host written for Claude Code: it knows Claude Code's tool names and input fields only.
      if (toolName === "Bash" && typeof input.command === "string" && input.command.startsWith("echo ")) {
        return { behavior: "allow", updatedInput: input };
      }
      if (toolName === "Read" && typeof input.file_path === "string") {
        return { behavior: "allow", updatedInput: { ...input, file_path: spec.canUseTool.readInstead || input.file_path } };
      }
      return { behavior: "deny", message: `this host does not allow ${toolName}` };
    }
    return spec.canUseTool.behavior === "allow"
      ? { behavior: "allow", updatedInput: input }
      : { behavior: "deny", message: spec.canUseTool.message || "denied by the test" };
  };
}
if (spec.sdkServer) {
  const shout = tool("shout", "Repeat the text in capitals", { text: z.string() }, async ({ text }) => {
    out({ kind: "sdk_tool", text });
    return { content: [{ type: "text", text: text.toUpperCase() }] };
  });
  options.mcpServers = { ...(options.mcpServers || {}),
                         [spec.sdkServer]: createSdkMcpServer({ name: spec.sdkServer, tools: [shout] }) };
}
const stderr = [];
options.stderr = (text) => stderr.push(text);
async function runSteps(steps) {
  const queue = [];
  let wake = null;
  let finished = false;
  const poke = () => { if (wake) { const w = wake; wake = null; w(); } };
  async function* input() {
    while (true) {
      while (queue.length) yield queue.shift();
      if (finished) return;
      await new Promise((resolve) => { wake = resolve; });
    }
  }
  const q = query({ prompt: input(), options });
  let onResult = null;
  const reader = (async () => {
    for await (const message of q) {
      out({ kind: "message", message });
      if (message.type === "result" && onResult) { const r = onResult; onResult = null; r(); }
    }
  })();
  for (const step of steps) {
    if (step.prompt !== undefined) {
      const got = new Promise((resolve) => { onResult = resolve; });
      queue.push({ type: "user", message: { role: "user", content: step.prompt }, parent_tool_use_id: null,
                   session_id: "" });
      poke();
      await got;
    } else {
      try {
        const result = await q[step.method](...(step.args || []));
        out({ kind: "call", method: step.method, result: result === undefined ? null : result });
      } catch (err) {
        out({ kind: "call", method: step.method, error: String(err && err.message ? err.message : err) });
      }
    }
  }
  finished = true;
  poke();
  await reader;
}

try {
  if (spec.steps) {
    await runSteps(spec.steps);
  } else {
    for await (const message of query({ prompt: spec.prompt, options })) {
      out({ kind: "message", message });
    }
  }
  out({ kind: "end", stderr: stderr.join("") });
} catch (err) {
  out({ kind: "error", message: String(err && err.message ? err.message : err), stderr: stderr.join("") });
}
