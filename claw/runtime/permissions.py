"""The permission policy: may this tool call run, must the user be asked, or is it denied — and why.

Modes (``--permission-mode``, settings ``permissions.defaultMode``; Claude Code names accepted):
- ``read-only`` (``plan``): read-only tools run; anything that needs more is denied (allow rules do not
  lift it), with a reason that
  tells the model to present its plan with ``exit_plan_mode``.
``exit_plan_mode`` and ``ask_user_question`` (``USER_TOOLS``) ask in every mode (their work is the answer).
- ``default``: read-only tools run; anything more asks.
- ``workspace-write`` (``acceptEdits``): file writes inside the workspace run; bash asks.
- ``danger-full-access`` (``bypassPermissions``): everything runs (deny and ask rules still apply).
- ``dontAsk``: as ``default``, but whatever would ask is denied.
In every mode but danger-full-access a file tool whose path resolves (``..``, symlinks, ``~``) outside
the workspace roots (cwd, ``--add-dir``, ``permissions.additionalDirectories``) asks, and so does a write
to a protected control file (``claw.runtime.protected``: ``.claw/``, ``.claude/``, ``.git/``, ``.mcp.json``,
the config home, shell start-up files), whatever the allow rules say (read-only mode denies it).

Rules (``claw.runtime.rules``) from ``--allowedTools`` (pre-approved), ``--disallowedTools`` (denied;
bare names are also removed from the offered set by ``claw.tools.registry.build_tools``) and settings
``permissions.allow|deny|ask``. Order: deny rules, then ask rules, then protected files, then allow
rules, then the mode. A bare allow rule for a file tool (``Edit``) does not lift the workspace check; a
path rule (``Edit(//tmp/**)``) does.

Bash (``_decide_bash``): deny rules match any simple command anywhere in the command, seen through
wrappers, and match conservatively what they cannot see (``claw.runtime.shell_commands``). An output
redirection to a file is a write_file call on its target: denied when an Edit/Write deny rule (or
the protected-files check) denies that write, in every mode; asked when it would ask with the mode's
own limits lifted. Then ask rules. An allow rule with a pattern applies only when every simple
command is proven covered and each redirection target, a literal path, is allowed as write_file
would be in this mode (``ls > out.txt`` under ``Bash(ls:*)`` runs in workspace-write, asks in
default). A bare ``Bash`` allow rule is all of bash: only what a rule or a protected file says about a
redirection's target still asks or denies. A command the run's sandbox confines, with
``sandbox.autoAllowBashIfSandboxed``, is allowed after the deny and ask rules (claw.tools.sandbox).

``decide`` returns a ``Decision`` whose ``reason`` names the rule or mode that decided. Turning an ask
into a prompt (TTY, SDK ``can_use_tool``) or a denial (headless) is the conversation loop's job.
"""

from __future__ import annotations

import copy
import enum
import os
from dataclasses import dataclass, replace
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from claw.errors import ConfigError, UsageError
from claw.runtime.rules import EDIT_FAMILY, PATH_TOOLS, PermissionRule, Target, expand_targets, home_dir, parse_rules
from claw.tools.base import PermissionLevel
from claw.tools.paths import within_any
from claw.tools.registry import canonical_tool_name, split_tool_list

ALLOW = "allow"
DENY = "deny"
ASK = "ask"
USER_TOOLS = ("exit_plan_mode", "ask_user_question")  # their work is the user's answer: always asked


class PermissionMode(enum.Enum):
    READ_ONLY = "read-only"
    WORKSPACE_WRITE = "workspace-write"
    DANGER_FULL_ACCESS = "danger-full-access"
    DEFAULT = "default"
    DONT_ASK = "dontAsk"

    @property
    def claude_code_name(self) -> str:
        return _CLAUDE_CODE_NAMES[self]

    @property
    def auto_level(self) -> PermissionLevel:
        """The highest tool level this mode runs without asking."""
        if self is PermissionMode.WORKSPACE_WRITE:
            return PermissionLevel.WORKSPACE_WRITE
        if self is PermissionMode.DANGER_FULL_ACCESS:
            return PermissionLevel.DANGER_FULL_ACCESS
        return PermissionLevel.READ_ONLY

    def __str__(self) -> str:
        return self.value


_CLAUDE_CODE_NAMES = {
    PermissionMode.READ_ONLY: "plan",
    PermissionMode.WORKSPACE_WRITE: "acceptEdits",
    PermissionMode.DANGER_FULL_ACCESS: "bypassPermissions",
    PermissionMode.DEFAULT: "default",
    PermissionMode.DONT_ASK: "dontAsk",
}

MODE_NAMES = {
    "read-only": PermissionMode.READ_ONLY,
    "plan": PermissionMode.READ_ONLY,
    "workspace-write": PermissionMode.WORKSPACE_WRITE,
    "acceptEdits": PermissionMode.WORKSPACE_WRITE,
    "danger-full-access": PermissionMode.DANGER_FULL_ACCESS,
    "bypassPermissions": PermissionMode.DANGER_FULL_ACCESS,
    "default": PermissionMode.DEFAULT,
    "dontAsk": PermissionMode.DONT_ASK,
}


def parse_permission_mode(text: Union[str, PermissionMode], *, source: str = "--permission-mode") -> PermissionMode:
    """A mode from its claw or Claude Code name; UsageError listing the valid names otherwise."""
    if isinstance(text, PermissionMode):
        return text
    mode = MODE_NAMES.get(str(text).strip())
    if mode is None:
        raise UsageError(
            f"unknown permission mode {text!r} ({source})",
            hint="valid modes: " + ", ".join(MODE_NAMES),
        )
    return mode


@dataclass(frozen=True)
class Decision:
    """A permission verdict for one tool call, and why."""

    outcome: str  # allow | deny | ask
    reason: str
    rule: Optional[str] = None  # the rule text that decided, when a rule did
    protected: bool = False  # a write to a protected control file: only a person (or host) may approve
    paths: Tuple[str, ...] = ()  # the resolved paths judged; a file tool acts on exactly these

    @property
    def allowed(self) -> bool:
        return self.outcome == ALLOW

    @property
    def denied(self) -> bool:
        return self.outcome == DENY

    @property
    def needs_approval(self) -> bool:
        return self.outcome == ASK


class PermissionPolicy:
    """Decides tool calls. ``mode`` may be changed at any time (``/permissions``, SDK
    ``set_permission_mode``); everything else is fixed at construction. ``sandbox``: the run's bash
    sandbox (``claw.tools.sandbox.Sandbox``), set by the run: a command it confines runs without asking
    when ``autoAllowBashIfSandboxed`` (deny and ask rules still apply). ``plugin_tools``: the names of
    the run's plugin manifest tools, which rules may name as they name MCP tools."""

    sandbox: Any = None

    def __init__(
        self,
        *,
        mode: Union[str, PermissionMode] = PermissionMode.DEFAULT,
        workspace_roots: Iterable[Union[str, "os.PathLike[str]"]] = (),
        cwd: Union[str, "os.PathLike[str]", None] = None,
        allowed: Union[str, Sequence[str], None] = (),
        disallowed: Union[str, Sequence[str], None] = (),
        allow_rules: Iterable[str] = (),
        deny_rules: Iterable[str] = (),
        ask_rules: Iterable[str] = (),
        home: Optional[str] = None,
        config_home: Union[str, "os.PathLike[str]", None] = None,
        plugin_tools: Sequence[str] = (),
    ) -> None:
        self.mode = parse_permission_mode(mode)
        self.cwd = os.path.realpath(os.fspath(cwd) if cwd is not None else os.getcwd())
        roots = [os.path.realpath(os.path.expanduser(os.fspath(r))) for r in workspace_roots]
        if self.cwd not in roots:
            roots.insert(0, self.cwd)
        self.workspace_roots = tuple(roots)
        self.home = os.path.realpath(home) if home else home_dir()
        # claw's user config home: protected (``claw.runtime.protected``); default ~/.claw
        self.config_home = (os.path.realpath(os.path.expanduser(os.fspath(config_home))) if config_home
                            else os.path.join(self.home, ".claw"))
        self.warnings: List[str] = []
        self.plugin_tools = tuple(plugin_tools)
        kw = dict(cwd=self.cwd, home=self.home, warnings=self.warnings, extra=self.plugin_tools)
        self.deny: List[PermissionRule] = (
            parse_rules(split_tool_list(disallowed), "--disallowedTools", error=UsageError, **kw)
            + parse_rules(deny_rules, "settings permissions.deny", error=ConfigError, **kw)
        )
        self.ask: List[PermissionRule] = parse_rules(ask_rules, "settings permissions.ask", error=ConfigError, **kw)
        self.allow: List[PermissionRule] = (
            parse_rules(split_tool_list(allowed), "--allowedTools", error=UsageError, **kw)
            + parse_rules(allow_rules, "settings permissions.allow", error=ConfigError, **kw)
        )

    def use_sandbox(self, raw: Any, env: Mapping[str, str], roots: Sequence[Any]) -> Optional[str]:
        """Set ``sandbox`` when the settings (``raw``) enable one; claw.tools.sandbox is imported only
        then. Returns its warning, also added to ``warnings``; ``UsageError`` when one is required and
        cannot be made."""
        box = raw.get("sandbox") if hasattr(raw, "get") else None
        if not (isinstance(box, dict) and box.get("enabled") is True):
            return None
        from claw.tools.sandbox import open_sandbox

        self.sandbox, notice = open_sandbox(box, env, roots)
        self.warnings += [notice] if notice else []
        return notice

    # --- queries -------------------------------------------------------------------------------
    def removed_tools(self) -> List[str]:
        """Tools that a bare deny rule removes entirely (never offered to the model)."""
        out = []
        for rule in self.deny:
            if rule.pattern is None and not rule.tool.startswith("mcp__") and rule.tool not in out:
                out.append(rule.tool)
        return out

    def is_read_denied(self, path: Union[str, "os.PathLike[str]"]) -> bool:
        """True when a deny rule forbids reading ``path`` (for hiding glob/grep results)."""
        targets = expand_targets([path], self.cwd)
        for rule in self.deny:
            if rule.path is not None and rule.covers_tool("read_file") and rule.matches_paths(targets, every=False):
                return True
        return False

    def in_workspace(self, path: Union[str, "os.PathLike[str]"]) -> bool:
        resolved, _ = expand_targets([path], self.cwd)[0]
        return within_any(resolved, self.workspace_roots)

    # --- the decision --------------------------------------------------------------------------
    def decide(
        self,
        tool_name: str,
        spec: Any,
        tool_input: Optional[Mapping[str, Any]] = None,
        target_paths: Iterable[Any] = (),
        *,
        shell_cwd: Union[str, "os.PathLike[str]", None] = None,
    ) -> Decision:
        """Allow, deny or ask for one call. ``spec`` is the tool's ToolSpec (its ``permission`` level);
        ``target_paths`` what ``Tool.target_paths`` returned, resolved here (symlinks followed) once:
        the decision's ``paths`` are those resolved paths, and a caller that runs the tool hands the
        tool exactly them, so nothing swapped in after this check is ever what the tool acts on.
        ``shell_cwd``: for bash, the directory the command starts in (a ``cd`` of an earlier call
        carries over); its relative redirection targets are judged there. Default: the cwd."""
        name = canonical_tool_name(tool_name) or tool_name
        tool_input = tool_input or {}
        level = PermissionLevel(getattr(spec, "permission", PermissionLevel.DANGER_FULL_ACCESS))
        if self.mode is PermissionMode.READ_ONLY and level and name not in USER_TOOLS:
            return self._by_mode(name, level, ())  # plan mode: whatever the allow rules say
        if name == "bash":
            return self._decide_bash(str(tool_input.get("command", "")), level,
                                     os.fspath(shell_cwd) if shell_cwd is not None else self.cwd)
        targets = expand_targets(target_paths, self.cwd)
        decision = self._decide_paths(name, level, tool_input, targets)
        return replace(decision, paths=tuple(resolved for resolved, _ in targets)) if targets else decision

    def _decide_paths(self, name: str, level: PermissionLevel, tool_input: Mapping[str, Any],
                      targets: Sequence[Target]) -> Decision:
        """Every tool but bash: deny rules, ask rules, protected files, allow rules, the mode."""

        rule = self._first_match(self.deny, name, tool_input, targets, allow=False)
        if rule is not None:
            return Decision(DENY, f"denied by the rule {rule.label}", rule.text)
        if name in USER_TOOLS:
            return self._ask(f"{name} needs the user's answer")
        rule = self._first_match(self.ask, name, tool_input, targets, allow=False)
        if rule is not None:
            return self._ask(f"the rule {rule.label} asks for approval", rule.text)
        protected = self._protected(name, targets)
        if protected is not None:
            return protected
        allowed = self._allowed_by_rules(name, tool_input, targets)
        if isinstance(allowed, Decision):
            return allowed
        decision = self._by_mode(name, level, targets)
        if allowed and decision.outcome != ALLOW:
            decision = Decision(decision.outcome, f"{decision.reason} ({allowed})", decision.rule)
        return decision

    def protection(self, path: str) -> Optional[str]:
        """Why a write to the absolute ``path`` is protected (``claw.runtime.protected``), or None."""
        from claw.runtime.protected import protection

        return protection(path, home=self.home, config_home=self.config_home)

    def _protected(self, name: str, targets: Sequence[Target]) -> Optional[Decision]:
        """A write to a protected control file: ask (denied under dontAsk and read-only) in every mode
        but danger-full-access, whatever the allow rules say. Both the resolved path and the path as
        written count, so a symlink to a protected file and a protected symlink are both caught."""
        if name not in EDIT_FAMILY or self.mode is PermissionMode.DANGER_FULL_ACCESS:
            return None
        from claw.runtime.protected import linked_control_file

        for resolved, lexical in targets:
            reason = (self.protection(resolved) or self.protection(lexical)
                      or linked_control_file(resolved, self.cwd))
            if reason is not None:
                if self.mode is PermissionMode.READ_ONLY:
                    return Decision(DENY, f"{reason}; this is plan mode, which allows only read-only tools",
                                    protected=True)
                return self._ask(reason, protected=True)
        return None

    def _by_mode(self, name: str, level: PermissionLevel, targets: Sequence[Target]) -> Decision:
        mode = self.mode
        if mode is PermissionMode.DANGER_FULL_ACCESS:
            return Decision(ALLOW, "danger-full-access mode allows every tool")
        if level > mode.auto_level:
            why = f"{name} needs {level.label} permission; the mode is {mode.value}"
            if mode is PermissionMode.READ_ONLY:
                return Decision(DENY, f"{name} is not read-only and this is plan mode: only read-only tools "
                                      "run. Explore, then present your plan with exit_plan_mode")
            return self._ask(why)
        outside = [resolved for resolved, _ in targets if not within_any(resolved, self.workspace_roots)]
        if outside:
            roots = ", ".join(self.workspace_roots)
            return self._ask(
                f"{outside[0]} is outside the workspace ({roots}); add it with --add-dir or "
                "permissions.additionalDirectories"
            )
        return Decision(ALLOW, f"{mode.value} mode allows {level.label} tools inside the workspace")

    def _ask(self, reason: str, rule: Optional[str] = None, *, protected: bool = False) -> Decision:
        if self.mode is PermissionMode.DONT_ASK:
            return Decision(DENY, f"{reason}; dontAsk mode denies what would need approval", rule, protected)
        return Decision(ASK, reason, rule, protected)

    def _first_match(self, rules: Sequence[PermissionRule], name: str, tool_input: Mapping[str, Any],
                     targets: Sequence[Target], *, allow: bool) -> Optional[PermissionRule]:
        """The first deny/ask rule (``allow=False``) matching a call of any tool but bash (bash:
        ``_bash_rule_hit``)."""
        for rule in rules:
            if not rule.covers_tool(name):
                continue
            if rule.pattern is None:
                return rule
            if rule.path is not None:
                if rule.matches_paths(targets, every=allow):
                    return rule
            elif rule.matches_input(name, tool_input):
                return rule
        return None

    def _allowed_by_rules(self, name: str, tool_input: Mapping[str, Any],
                          targets: Sequence[Target]) -> Union[Decision, str, None]:
        """A Decision when an allow rule applies; else None, or a note on why the bash rules did not."""
        rules = [r for r in self.allow if r.covers_tool(name)]
        if not rules:
            return None
        for rule in rules:
            if rule.path is not None:
                if rule.matches_paths(targets, every=True):
                    return Decision(ALLOW, f"allowed by the rule {rule.label}", rule.text)
            elif rule.pattern is None:
                if name in PATH_TOOLS and not all(within_any(r, self.workspace_roots) for r, _ in targets):
                    continue  # a bare file-tool rule does not reach outside the workspace
                return Decision(ALLOW, f"allowed by the rule {rule.label}", rule.text)
            elif rule.matches_input(name, tool_input):
                return Decision(ALLOW, f"allowed by the rule {rule.label}", rule.text)
        return None

    # --- bash ----------------------------------------------------------------------------------
    def _bash_rule_hit(self, rules: Sequence[PermissionRule],
                       analysis: Any) -> Optional[Tuple[PermissionRule, str]]:
        """The first bash deny/ask rule matching the analysed command (``claw.runtime.shell_commands``:
        any simple command anywhere in it, seen through wrappers), with the reason when it matched only
        because the command could not be fully seen."""
        from claw.runtime.shell_commands import deny_view, rule_hit

        view = None
        for rule in rules:
            if not rule.covers_tool("bash"):
                continue
            if rule.bash is None:
                return rule, ""
            if view is None:
                view = deny_view(analysis)
            hit, why = rule_hit(rule.bash, view)
            if hit:
                return rule, why
        return None

    def _decide_bash(self, command: str, level: PermissionLevel, shell_cwd: str) -> Decision:
        """Deny rules, writes by redirection that a rule or a protected file forbids, ask rules, allow
        rules (all of the command proven covered, its redirections allowed as file writes), the mode.
        The shell analysis is imported here, not at the top: a run whose model never calls bash does
        not load it."""
        from claw.runtime.shell_commands import allow_coverage, changes_directory, write_targets
        from claw.runtime.shell_syntax import analyse

        analysis = analyse(command)
        hit = self._bash_rule_hit(self.deny, analysis)
        if hit is not None:
            why = f": {hit[1]}, so the rule may match" if hit[1] else ""
            return Decision(DENY, f"denied by the rule {hit[0].label}{why}", hit[0].text)
        moves = changes_directory(analysis)
        # A relative target is where the shell will be: the directory the command starts in, which
        # an earlier call's ``cd`` may have moved, never simply the session's cwd.
        targets = [(t, _in_dir(t.value, shell_cwd)
                    if (t.literal or t.home_path) and (t.value[:1] in ("/", "~") or not moves) else None)
                   for t in write_targets(analysis)]
        pending: Optional[Decision] = None  # an ask a redirection needs whatever allows the command
        for target, path in targets:
            verdict = self._redirect_verdict(target, path, strict=False)
            if verdict.denied:
                return verdict
            pending = pending or (verdict if verdict.needs_approval else None)
        hit = self._bash_rule_hit(self.ask, analysis)
        if hit is not None:
            why = f" ({hit[1]}, so the rule may match)" if hit[1] else ""
            return self._ask(f"the rule {hit[0].label} asks for approval{why}", hit[0].text)
        if self.sandbox is not None and self.sandbox.auto_allows(command):
            return pending or Decision(ALLOW, "the command runs in the sandbox (sandbox.autoAllowBashIfSandboxed)")
        rules = [r for r in self.allow if r.covers_tool("bash")]
        bare = next((r for r in rules if r.bash is None), None)
        note = ""
        if bare is not None:  # all bash; only what a rule or a protected file says about writes remains
            return pending or Decision(ALLOW, f"allowed by the rule {bare.label}", bare.text)
        if rules:
            coverage = allow_coverage(rules, analysis)
            note = coverage.reason
            unknown = next((t for t, path in targets if path is None), None)
            if coverage.rules and unknown is not None:
                note = f"the command writes to {unknown.raw!r}, which is not a literal path here"
            elif coverage.rules:
                labels = ", ".join(r.label for r in coverage.rules)
                allowed = f"allowed by the rule{'s' if len(coverage.rules) > 1 else ''} {labels}"
                for target, path in targets:
                    verdict = self._redirect_verdict(target, path, strict=True)
                    if not verdict.allowed:
                        return Decision(verdict.outcome, f"{verdict.reason} (the command is otherwise {allowed})",
                                        verdict.rule, verdict.protected)
                return Decision(ALLOW, allowed, coverage.rules[0].text if len(coverage.rules) == 1 else None)
        decision = self._by_mode("bash", level, ())
        if pending is not None and not decision.denied:
            return pending
        if note and not decision.allowed:
            decision = Decision(decision.outcome, f"{decision.reason} ({note})", decision.rule)
        return decision

    def _redirect_verdict(self, target: Any, path: Optional[str], *, strict: bool) -> Decision:
        """Writing ``path`` through an output redirection is a write_file call: decided as one
        (``strict``, for a command allowed by specific rules), or (else) with the mode's own limits
        lifted so that only Edit/Write rules and protected files count. ``path`` None (not a literal
        path): every Edit/Write deny or ask rule may match it."""
        where = f"the command writes to {target.raw} (an output redirection)"
        if path is None:
            for rules, outcome in ((self.deny, DENY), (self.ask, ASK)):
                rule = next((r for r in rules if r.covers_tool("write_file") and (r.path or r.pattern is None)),
                            None)
                if rule is not None:
                    why = f"{where}, not a literal path, so the rule {rule.label} may match it"
                    return Decision(DENY, why, rule.text) if outcome == DENY else self._ask(why, rule.text)
            return Decision(ALLOW, where)
        from claw.tools.registry import get_tool

        policy = self
        if not strict:
            policy = copy.copy(self)
            full = self.mode is PermissionMode.DANGER_FULL_ACCESS
            policy.mode = PermissionMode.DANGER_FULL_ACCESS if full else PermissionMode.WORKSPACE_WRITE
            policy.workspace_roots = ("/",)
        verdict = policy.decide("write_file", get_tool("write_file").spec, {"path": path}, [path])
        if verdict.allowed:
            return verdict
        if verdict.denied:
            return Decision(DENY, f"{where}: {verdict.reason}", verdict.rule, verdict.protected)
        return self._ask(f"{where}: {verdict.reason}", verdict.rule, protected=verdict.protected)

    def read_denied_checker(self):
        """A ``ToolContext.is_read_denied`` callable, or None when no deny rule concerns reads."""
        if not any(r.path is not None and r.covers_tool("read_file") for r in self.deny):
            return None
        return lambda path: self.is_read_denied(path)


def _in_dir(path: str, directory: str) -> str:
    """``path`` as bash will open it from ``directory`` (absolute and ``~`` paths unchanged)."""
    if path[:1] in ("/", "~"):
        return path
    return os.path.join(directory, path)
