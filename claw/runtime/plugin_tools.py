"""A plugin's manifest tools (claw-code's ``tools`` entries) as tools of the run.

One call runs the entry's ``command`` with its ``args`` in the plugin's directory, in its own process
group (``claw.runtime.hooks.run_captured``, the hook runner's code): the validated input as JSON on
stdin, and in the environment the run's shaped environment (settings ``env``, the proxy and CA
variables every child of the run gets: ``ToolContext.env``) plus ``CLAW_PLUGIN_ROOT``,
``CLAW_PLUGIN_NAME``, ``CLAW_TOOL_NAME``, ``CLAUDE_PLUGIN_ROOT``, ``CLAUDE_PROJECT_DIR`` and the
names claw-code sets (``CLAWD_PLUGIN_ID``, ``CLAWD_PLUGIN_NAME``, ``CLAWD_TOOL_NAME``,
``CLAWD_TOOL_INPUT``, ``CLAWD_PLUGIN_ROOT``). Exit status 0: stdout (trimmed) is the result; another
status, a timeout (the entry's ``timeout``, default 120 s; the process group is killed) or a program
that cannot start: an error result saying which, with the stderr.

With the bash sandbox on (settings ``sandbox.enabled``, ``claw.tools.sandbox``) the program runs in
it exactly as a bash command does: the filesystem read-only (so the plugin's directory is readable)
but for the workspace roots and a private ``/tmp``, no network. ``excludedCommands`` does not apply
(it names bash commands); when no sandbox can be made, it runs unconfined like bash, after the run's
warning.

The entry's ``requiredPermission`` is the tool's permission level, so the permission policy treats it
as it treats a built-in tool of that level (``read-only`` runs in the default mode; the others ask,
or are denied with nobody to ask). Deliberately not here: reading the manifest
(``claw.runtime.plugin_manifest``) and choosing which tools join the run (``claw.runtime.plugin_loader``).
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Mapping

from claw.runtime.plugin_manifest import PluginManifest
from claw.runtime.plugin_manifest import PluginTool as ToolEntry
from claw.tools.base import PermissionLevel, Tool, ToolContext, ToolInputError, ToolResult, ToolSpec

LEVELS = {"read-only": PermissionLevel.READ_ONLY, "workspace-write": PermissionLevel.WORKSPACE_WRITE,
          "danger-full-access": PermissionLevel.DANGER_FULL_ACCESS}
MAX_RESULT_CHARS = 100_000


class ManifestTool(Tool):
    """One ``tools`` entry of a plugin manifest; a call runs its program (see the module docstring)."""

    def __init__(self, plugin: PluginManifest, entry: ToolEntry, plugin_id: str = "") -> None:
        self.plugin, self.entry, self.plugin_id = plugin, entry, plugin_id or plugin.name
        level = LEVELS[entry.required_permission]
        schema = entry.input_schema if entry.input_schema.get("type") == "object" else {"type": "object"}
        self.spec = ToolSpec(name=entry.name, description=f"{entry.description} (from the plugin {plugin.name})",
                             input_schema=schema, permission=level, read_only=level == PermissionLevel.READ_ONLY)

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        from claw.tools.json_schema import describe_errors, validate

        if not isinstance(tool_input, Mapping):
            raise ToolInputError("input must be a JSON object")
        errors = validate(self.spec.input_schema, dict(tool_input))
        if errors:
            raise ToolInputError(describe_errors(errors))
        return dict(tool_input)

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        from claw.runtime.hook_verdicts import HookResult
        from claw.runtime.hooks import run_captured

        entry, root, text = self.entry, str(self.plugin.root), json.dumps(tool_input)
        env = dict(ctx.env)
        env.update(CLAW_PLUGIN_ROOT=root, CLAW_PLUGIN_NAME=self.plugin.name, CLAW_TOOL_NAME=entry.name,
                   CLAUDE_PLUGIN_ROOT=root, CLAUDE_PROJECT_DIR=str(ctx.cwd), CLAWD_PLUGIN_ID=self.plugin_id,
                   CLAWD_PLUGIN_NAME=self.plugin.name, CLAWD_TOOL_NAME=entry.name, CLAWD_TOOL_INPUT=text,
                   CLAWD_PLUGIN_ROOT=root)
        what = f"plugin tool {entry.name!r} ({self.plugin.name})"
        argv, fds = [entry.command, *entry.args], ()
        try:
            if ctx.sandbox is not None:  # confined as bash is (a no-op when no sandbox can be made)
                argv, env, fds = ctx.sandbox.wrap("", argv, root, env)
        except OSError as exc:
            return ToolResult.error(f"{what} could not start in the sandbox: {exc}")
        try:
            done = await run_captured(argv, text.encode(), HookResult(hook=None),  # type: ignore[arg-type]
                                      cwd=root, env=env, timeout=entry.timeout, pass_fds=fds)
        finally:
            for fd in fds:
                os.close(fd)
        meta = {"plugin": self.plugin.name, "exit_code": done.exit_code}
        if done.error is not None:
            return ToolResult.error(f"{what} could not start {entry.command!r}: {done.error}", **meta)
        if done.timed_out:
            return ToolResult.error(f"{what} timed out after {entry.timeout:g} s and was stopped", **meta)
        out = done.stdout.strip()
        if done.exit_code != 0:
            detail = done.stderr.strip() or out or "no output"
            return ToolResult.error(f"{what} failed with exit status {done.exit_code}: {detail[-4000:]}", **meta)
        if len(out) > MAX_RESULT_CHARS:
            out = out[:MAX_RESULT_CHARS] + f"\n[output cut at {MAX_RESULT_CHARS} characters]"
        return ToolResult(out or "(no output)", metadata=meta)
