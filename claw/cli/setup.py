"""The command line's side of a run: ``RunArgs`` (claw.cli.args) translated into the typed
``RunOptions`` that ``claw.runtime.run_open.open_run`` builds every run from.

``run_options(args)`` resolves ``--cwd`` and reads ``--system-prompt-file`` and
``--append-system-prompt-file``, so a missing file is a usage error before anything starts. It does not
read settings, start anything or print: that is the run's and the front end's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional

from claw.cli.args import RunArgs
from claw.errors import UsageError
from claw.runtime.run import RunOptions


def project_dir(args: RunArgs) -> Path:
    if args.cwd:
        path = Path(args.cwd).expanduser()
        if not path.is_dir():
            raise UsageError(f"--cwd {args.cwd!r} is not a directory")
        return path.resolve()
    return Path(os.getcwd())


def run_options(args: RunArgs, base_env: Optional[Mapping[str, str]] = None) -> RunOptions:
    """The options of the run ``args`` describe."""
    return RunOptions(
        cwd=project_dir(args),
        settings_file=args.settings,
        setting_sources=tuple(args.setting_sources) if args.setting_sources is not None else None,
        model=args.model,
        permission_mode=args.permission_mode,
        skip_permissions=args.dangerously_skip_permissions,
        add_dirs=tuple(args.add_dir),
        tools=args.tools,
        allowed_tools=tuple(args.allowed_tools),
        disallowed_tools=tuple(args.disallowed_tools),
        resume=args.resume,
        continue_latest=args.continue_,
        fork_session=args.fork_session,
        session_id=args.session_id,
        persist_session=not args.no_session_persistence,
        system_prompt=system_prompt_override(args),
        append_system_prompt=append_prompt_of(args),
        max_turns=args.max_turns,
        max_thinking_tokens=args.max_thinking_tokens,
        thinking=args.thinking,
        effort=args.effort,
        fallback_model=args.fallback_model,
        max_budget_usd=args.max_budget_usd,
        betas=tuple(args.betas),
        mcp_config=tuple(args.mcp_config),
        plugin_dirs=tuple(args.plugin_dir) + tuple(f"no-mcp:{d}" for d in args.plugin_dir_no_mcp),
        strict_mcp_config=args.strict_mcp_config,
        disable_slash_commands=args.disable_slash_commands,
        json_schema=args.json_schema,
        base_env=base_env,
        agents_json=args.agents,
        agent=args.agent,
    )


def system_prompt_override(args: RunArgs) -> Optional[str]:
    if args.system_prompt_file:
        try:
            return Path(args.system_prompt_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read --system-prompt-file {args.system_prompt_file!r}: "
                             f"{exc.strerror or exc}") from None
    return args.system_prompt


def append_prompt_of(args: RunArgs) -> Optional[str]:
    """``--append-system-prompt`` and ``--append-system-prompt-file`` (both may be given: file last)."""
    parts = [args.append_system_prompt] if args.append_system_prompt else []
    if args.append_system_prompt_file:
        try:
            parts.append(Path(args.append_system_prompt_file).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read --append-system-prompt-file {args.append_system_prompt_file!r}: "
                             f"{exc.strerror or exc}") from None
    return "\n\n".join(parts) if parts else None
