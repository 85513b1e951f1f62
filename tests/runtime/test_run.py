"""The run object (claw.runtime.run): built from typed options, owns what it opened, closes all of it,
and keeps no state between runs of one process — so a child run is just another ``open_run``.

Real pieces throughout: the fake model server over HTTP, the session store in tmp_path, a real stdio
MCP server process.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from claw.errors import UsageError
from claw.runtime.run import RunOptions
from claw.runtime.run_open import open_run
from claw.runtime.session_lock import SessionInUse
from tests.fakes.model_server import ModelServer, reply, tool_use
from tests.processes import alive, wait_gone

SETTINGS_SECRET = "settings-only-secret-value-0123456789"


def _env(srv: ModelServer, home: Path) -> dict:
    env = dict(os.environ)
    env.update(srv.env())
    env.update({"HOME": str(home), "CLAW_CONFIG_HOME": str(home / ".claw")})
    return env


def _events():
    seen = []
    return seen, seen.append


def test_a_run_and_a_child_run_with_other_options_share_nothing(home, project):
    with ModelServer([reply(text="parent"), reply(text="child")]) as srv:
        env = _env(srv, home)

        async def go():
            parent_events, parent_sink = _events()
            child_events, child_sink = _events()
            async with await open_run(RunOptions(cwd=project, base_env=env), sink=parent_sink) as parent:
                child_options = RunOptions(cwd=project, base_env=env, permission_mode="read-only",
                                           tools="read_file,grep_search", system_prompt="You are a child.")
                async with await open_run(child_options, sink=child_sink) as child:
                    assert child.session.id != parent.session.id
                    assert child.info.permission_mode == "read-only" and parent.info.permission_mode != "read-only"
                    assert sorted(child.info.tools) == ["grep_search", "read_file"]
                    assert "bash" in parent.info.tools
                    assert (await parent.turn("hi")).result == "parent"
                    assert (await child.turn("hi")).result == "child"
                return parent, child, parent_events, child_events

        parent, child, parent_events, child_events = asyncio.run(go())
    assert parent_events and child_events  # each run's events went to its own sink
    system = [r.json["system"] for r in srv.requests]
    assert "You are a child." not in json.dumps(system[0]) and "You are a child." in json.dumps(system[1])
    assert {t["name"] for t in srv.requests[1].json["tools"]} == {"grep_search", "read_file"}


def test_closing_a_run_releases_its_session(home, project):
    with ModelServer([reply(text="one")]) as srv:
        env = _env(srv, home)

        async def go():
            run = await open_run(RunOptions(cwd=project, base_env=env), sink=lambda e: None)
            async with run:
                await run.turn("hi")  # the session file exists from the first message on
                with pytest.raises(SessionInUse):  # a second writer is refused while the run lives
                    await open_run(RunOptions(cwd=project, base_env=env, resume=run.session.id),
                                   sink=lambda e: None)
            again = await open_run(RunOptions(cwd=project, base_env=env, resume=run.session.id),
                                   sink=lambda e: None)
            async with again:
                assert again.start_source == "resume" and len(again.session.messages) == 2

        asyncio.run(go())


def test_settings_are_read_once_per_run_and_not_kept_for_the_next(home, project, monkeypatch):
    from claw.config import loader

    (project / ".mcp.json").write_text(json.dumps({"mcpServers": {}}))  # MCP start-up reads settings too
    calls = []
    real = loader.load_settings
    monkeypatch.setattr(loader, "load_settings", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    with ModelServer([]) as srv:
        env = _env(srv, home)

        async def one():
            async with await open_run(RunOptions(cwd=project, base_env=env), sink=lambda e: None):
                pass

        asyncio.run(one())
        assert len(calls) == 1
        (project / ".claw").mkdir()
        (project / ".claw" / "settings.json").write_text(json.dumps({"model": "claude-haiku-4-5"}))

        async def model_of_a_new_run():
            async with await open_run(RunOptions(cwd=project, base_env=env), sink=lambda e: None) as run:
                return run.info.model

        assert asyncio.run(model_of_a_new_run()) == "claude-haiku-4-5"  # read again, not reused
        assert len(calls) == 2


def _processes_with(marker: str) -> list:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if marker.encode() in fh.read() and alive(int(entry)):
                        found.append(int(entry))
            except OSError:
                pass
    return found


def test_a_failed_open_leaves_no_server_process(home, project, tmp_path):
    marker = f"claw-test-mcp-{os.getpid()}-{id(tmp_path)}"
    server = f"import time  # {marker}\ntime.sleep(60)\n"  # would outlive its stdin and the event loop
    config = json.dumps({"mcpServers": {"slow": {"command": sys.executable, "args": ["-c", server]}}})
    with ModelServer([]) as srv:
        env = {k: v for k, v in _env(srv, home).items() if k not in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")}
        options = RunOptions(cwd=project, base_env=env, mcp_config=(config,), session_id=None)

        async def go():
            # no credentials: found after the MCP server was launched and the session created
            with pytest.raises(Exception) as caught:
                await open_run(options, sink=lambda e: None)
            left = [pid for pid in _processes_with(marker) if not wait_gone(pid, 5)]
            return caught.value, left

        error, left = asyncio.run(go())
    assert "credentials" in str(error), error
    assert not left, "a server of the run that failed to open still runs"


def test_the_runs_secrets_are_redacted_without_touching_the_process_redactor(home, project):
    from claw import redact

    (project / ".claw").mkdir()
    header_secret = "gw-header-secret-0123456789abcdef"
    (project / ".claw" / "settings.json").write_text(json.dumps({
        "env": {"SERVICE_TOKEN": SETTINGS_SECRET}, "customHeaders": {"X-Gateway-Token": header_secret}}))
    with ModelServer([reply(tool_uses=[tool_use("bash", {"command": f"echo $SERVICE_TOKEN {header_secret}"})]),
                      reply(text="done")]) as srv:
        env = _env(srv, home)

        async def go():
            events, sink = _events()
            options = RunOptions(cwd=project, base_env=env, permission_mode="bypassPermissions")
            async with await open_run(options, sink=sink) as run:
                await run.turn("print it")
                return run

        run = asyncio.run(go())
    stored = run.session.path.read_text()
    assert SETTINGS_SECRET not in stored and header_secret not in stored and "[REDACTED]" in stored
    assert srv.requests[0].header("x-gateway-token") == header_secret
    assert SETTINGS_SECRET in srv.requests[1].body.decode()  # the model saw the tool's real output
    for secret in (SETTINGS_SECRET, header_secret):  # no process-wide state
        assert redact.default_redactor().redact_text(secret) == secret


def test_a_tool_output_that_is_not_valid_unicode_still_reaches_the_model(home, project):
    """Undecodable bytes in a file (Latin-1 in a UTF-8 world) come back from a tool as lone surrogates;
    the next request must still be sent, with them shown, not crash the run."""
    (project / "latin1.txt").write_bytes(b"caf\xe9 ok\n")
    script = [reply(tool_uses=[tool_use("edit_file", {"path": "latin1.txt", "old_string": "ok",
                                                      "new_string": "fine"})]),
              reply(text="done")]
    with ModelServer(script) as srv:
        env = _env(srv, home)

        async def go():
            options = RunOptions(cwd=project, base_env=env, permission_mode="bypassPermissions")
            async with await open_run(options, sink=lambda e: None) as run:
                return await run.turn("fix it")

        outcome = asyncio.run(go())
    assert outcome.subtype == "success" and outcome.result == "done", outcome.result
    assert len(srv.requests) == 2
    json.dumps(srv.requests[1].json).encode("utf-8")  # what was sent is valid Unicode
