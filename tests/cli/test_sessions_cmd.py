"""`claw sessions list|show|export|rm` against real session files written by the session store."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from claw.cli.sessions_cmd import run
from claw.runtime.compaction import SUMMARY_PREFIX
from claw.runtime.session_store import SessionStore

REPO = Path(__file__).resolve().parents[2]
ID_A = "aaaaaaaa-1111-4111-8111-111111111111"
ID_B = "aaaaaaaa-2222-4222-8222-222222222222"
ID_C = "cccccccc-3333-4333-8333-333333333333"


def sessions(project: Path, *args: str):
    out, err = io.StringIO(), io.StringIO()
    argv = list(args)
    argv += ["--cwd", str(project)]
    code = run(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def make_session(project: Path, session_id: str, messages, age: float = 0.0, title=None) -> object:
    session = SessionStore(project).create(session_id, model="anthropic/claude-sonnet-5-5", cwd=str(project))
    for message in messages:
        session.append_message(message)
    if title:
        session.set_title(title)
    session.close()
    if age:
        stamp = time.time() - age
        os.utime(session.path, (stamp, stamp))
    return session


CONVERSATION = [
    {"role": "user", "content": "fix the failing test"},
    {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "hidden reasoning", "signature": "s"},
        {"type": "text", "text": "Let me run the tests."},
        {"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {"command": "pytest -q"}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True,
                                  "content": "1 failed\nE assert 1 == 2\n```fence inside```"}]},
    {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_2", "name": "edit_file",
         "input": {"path": "calc.py", "old_string": "1", "new_string": "2"}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2", "content": [
        {"type": "text", "text": "edited calc.py"}]}]},
    {"role": "assistant", "content": [{"type": "text", "text": "Fixed: the test passes now."}]},
]


@pytest.fixture
def three(project):
    a = make_session(project, ID_A, CONVERSATION, age=300)
    b = make_session(project, ID_B, [{"role": "user", "content": "second question"}], age=200, title="Named one")
    c = make_session(project, ID_C, [{"role": "user", "content": "newest " + "x" * 200}])
    return a, b, c


# -- list ------------------------------------------------------------------------------------------


def test_list_empty(project):
    code, out, err = sessions(project, "list")
    assert code == 0 and out == "" and f"no sessions in {project / '.claw' / 'sessions'}" in err
    code, out, _ = sessions(project, "--json")
    assert code == 0 and json.loads(out)["sessions"] == []


def test_list_newest_first(project, three):
    for args in (("list",), ()):
        code, out, err = sessions(project, *args)
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0].split() == ["ID", "UPDATED", "MSGS", "TITLE"]
        assert [line.split()[0] for line in lines[1:]] == [ID_C, ID_B, ID_A]
        row_a = lines[3]
        assert row_a.split()[3] == "6" and row_a.endswith("fix the failing test")
        assert lines[2].endswith("Named one")
        assert lines[1].endswith("…") and len(lines[1].split("  ")[-1]) <= 80


def test_list_json(project, three):
    code, out, _ = sessions(project, "list", "--json")
    data = json.loads(out)
    assert code == 0 and data["directory"] == str(project / ".claw" / "sessions")
    rows = data["sessions"]
    assert [r["id"] for r in rows] == [ID_C, ID_B, ID_A]
    assert rows[2]["messages"] == 6 and rows[2]["title"] == "fix the failing test"
    assert rows[2]["updated"].endswith("Z") and rows[2]["path"].endswith(ID_A + ".jsonl")
    assert set(rows[0]) == {"id", "title", "updated", "messages", "size_bytes", "path"}


# -- show ------------------------------------------------------------------------------------------


def test_show_renders_the_conversation(project, three):
    code, out, err = sessions(project, "show", ID_A)
    assert code == 0, err
    assert out.startswith(f'session {ID_A}  "fix the failing test"\nmodel anthropic/claude-sonnet-5-5 · updated ')
    body = out.split("\n\n", 1)[1]
    assert body.splitlines() == [
        "> fix the failing test",
        "",
        "Let me run the tests.",
        "  * bash(pytest -q)",
        "    -> error: 1 failed (+2 lines)",
        "  * edit_file(calc.py)",
        "    -> ok: edited calc.py",
        "",
        "Fixed: the test passes now.",
    ]
    assert "hidden reasoning" not in out


def test_show_by_unique_prefix_and_compacted_history(project):
    session = SessionStore(project).create(ID_C, model="m", cwd=str(project))
    for message in CONVERSATION:
        session.append_message(message)
    session.append_compaction({"role": "user", "content": [{"type": "text", "text": SUMMARY_PREFIX + "They fixed calc.py."}]},
                              upto=5)
    session.close()
    code, out, _ = sessions(project, "show", "cccc")
    assert code == 0
    assert "[the earlier conversation was compacted into this summary]\n  They fixed calc.py." in out
    assert "fix the failing test\n" not in out.split("\n\n", 1)[1]
    assert "Fixed: the test passes now." in out


def test_unknown_and_ambiguous_ids_are_usage_errors(project, three):
    code, out, err = sessions(project, "show", "ffff")
    assert code == 2 and out == ""
    assert err.startswith("claw: no session 'ffff' in ") and f"hint: recent sessions: {ID_C}" in err
    code, _, err = sessions(project, "export", "aaaaaaaa")
    assert code == 2 and "matches 2 sessions" in err and ID_A in err and ID_B in err
    code, _, err = sessions(project, "rm", "not-an-id!")
    assert code == 2 and "no session" in err


def test_show_a_damaged_file_warns_and_still_shows(project, three):
    path = project / ".claw" / "sessions" / f"{ID_B}.jsonl"
    with open(path, "a") as fh:
        fh.write('{"type":"message","v":1,"uuid":"torn')
    code, out, err = sessions(project, "show", ID_B)
    assert code == 0 and "> second question" in out
    assert "claw: warning: session" in err and "torn" in err


# -- export ----------------------------------------------------------------------------------------


def test_export_markdown_to_stdout(project, three):
    code, out, _ = sessions(project, "export", ID_A)
    assert code == 0
    assert out.startswith("# fix the failing test\n\n- session: `" + ID_A + "`")
    assert "## User\n\nfix the failing test" in out
    assert "## Assistant\n\nLet me run the tests.\n\n**Tool call** `bash`\n\n```json\n{\n  \"command\": \"pytest -q\"\n}\n```" in out
    assert "**Result** (`bash`, error)\n\n````\n1 failed\nE assert 1 == 2\n```fence inside```\n````" in out
    assert "**Result** (`edit_file`)\n\n```\nedited calc.py\n```" in out
    assert out.rstrip().endswith("Fixed: the test passes now.")
    assert "hidden reasoning" not in out


def test_export_json_to_a_file_atomically(project, three, tmp_path):
    target = tmp_path / "out" / "a.json"
    target.parent.mkdir()
    code, out, err = sessions(project, "export", ID_A, "-o", str(target))
    assert code == 0 and out == ""
    assert f"wrote session {ID_A} (6 messages, json) to {target}" in err
    data = json.loads(target.read_text())
    assert data["session_id"] == ID_A and data["title"] == "fix the failing test"
    assert data["messages"] == SessionStore(project).open(ID_A).messages
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(target.parent) == ["a.json"]  # no temporary file left behind


def test_export_keeps_an_existing_files_mode_and_format_flag_wins(project, three, tmp_path):
    target = tmp_path / "notes.json"
    target.write_text("old")
    os.chmod(target, 0o644)
    code, _, _ = sessions(project, "export", ID_B, "--format", "md", "-o", str(target))
    assert code == 0
    assert target.read_text().startswith("# Named one\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    code, out, _ = sessions(project, "export", ID_B, "--format", "json")
    assert json.loads(out)["messages"] == [{"role": "user", "content": "second question"}]


def test_export_to_an_unwritable_place_fails_cleanly(project, three, tmp_path):
    code, _, err = sessions(project, "export", ID_A, "-o", str(tmp_path / "missing-dir" / "x.md"))
    assert code == 1 and "cannot write" in err and "Traceback" not in err


# -- rm --------------------------------------------------------------------------------------------


def test_rm_removes_one_session_and_says_which(project, three):
    code, out, _ = sessions(project, "rm", "cccc")
    path = project / ".claw" / "sessions" / f"{ID_C}.jsonl"
    assert code == 0 and out.startswith(f'removed session {ID_C} "newest ') and out.rstrip().endswith(str(path))
    assert "(1 message)" in out
    assert not path.exists()
    _, out, _ = sessions(project, "list")
    assert ID_C not in out and ID_A in out and ID_B in out


# -- flags and entry point -------------------------------------------------------------------------


def test_usage_errors(project):
    code, _, err = sessions(project, "show")
    assert code == 2 and "ID" in err and "hint:" in err
    code, _, err = sessions(project, "frobnicate")
    assert code == 2 and "invalid choice" in err
    code, _, err = sessions(project, "export", ID_A, "--format", "pdf")
    assert code == 2
    out, err = io.StringIO(), io.StringIO()
    assert run(["list", "--cwd", str(project / "missing")], stdout=out, stderr=err) == 2
    assert "is not a directory" in err.getvalue()


def test_through_the_main_entry_point(project, three):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(project), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "claw", "sessions"], cwd=str(project), env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and ID_A in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "claw", "sessions", "export", "--help"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--format" in proc.stdout
