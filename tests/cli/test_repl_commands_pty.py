"""Custom slash commands, MCP prompts and skills in a real REPL on a pseudo-terminal (the ``Rig`` of
tests/cli/test_repl_pty.py): listed in ``/help`` and ``/skills``, completed with Tab, run as a turn
whose request carries the expanded prompt."""

from __future__ import annotations

import json
import sys

from tests.cli.headless_helpers import ROOT
from tests.cli.test_repl_pty import PROMPT, finish, rig, user_texts  # noqa: F401  (rig is a fixture)
from tests.fakes.model_server import reply


def test_a_custom_command_runs_in_the_repl_and_is_listed_and_completed(rig):
    commands = rig.workspace / ".claude" / "commands"
    commands.mkdir(parents=True)
    (commands / "fixit.md").write_text("---\ndescription: Fix a bug\nargument-hint: <what>\n---\nFix $ARGUMENTS now.")
    skill = rig.workspace / ".claw" / "skills" / "lint"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: lint-rules\ndescription: The house lint rules\n---\nUse tabs.")
    rig.serve(reply(text="fixed it"))
    proc = rig.start(env=rig.env(CLAW_TRUST_PROJECT="1"))
    proc.sendline("/help")
    proc.expect("/fixit <what>  Fix a bug (project)")
    proc.expect(PROMPT)
    proc.sendline("/skills")
    proc.expect("lint-rules (project): The house lint rules")
    proc.expect(PROMPT)
    proc.send("/fix\t")  # completed to /fixit (the built-ins have no /fix...)
    proc.expect("/fixit")
    proc.sendline(" the login")
    proc.expect("fixed it")
    proc.expect(PROMPT)
    assert finish(proc) == 0
    assert user_texts(rig.requests()[0]["messages"][0]) == "Fix the login now."


def test_an_mcp_prompt_runs_as_a_command_in_the_repl(rig):
    config = json.dumps({"mcpServers": {"fm": {"command": sys.executable, "cwd": str(ROOT), "args": [
        "-m", "tests.mcp.servers.fastmcp_server", "stdio"]}}})
    rig.serve(reply(text="looks fine"))
    proc = rig.start("--mcp-config", config)
    proc.sendline("/help")
    proc.expect("/mcp__fm__review <code> [style]")
    proc.expect(PROMPT)
    proc.sendline('/mcp__fm__review "print(1)"')
    proc.expect("looks fine", timeout=30)
    proc.expect(PROMPT)
    assert "unknown command" not in proc.text
    assert finish(proc) == 0
    assert user_texts(rig.requests()[0]["messages"][0]) == "Please review this code:\nprint(1)"
