"""File checkpoints end to end: scripted model calls against the fake server change real files through
write_file, edit_file and bash redirections; ``Run.rewind_files`` (the SDK's rewindFiles) puts them
back byte for byte, deletes files that did not exist, changes nothing on a dry run, never follows a
symlink swapped in after the checkpoint; ``Run.rewind_conversation`` goes on from before a prompt
and the session file says so in a record of its own."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import pytest

from claw.runtime.run import RunOptions
from claw.runtime.run_open import open_run
from claw.runtime.session_store import SessionStore
from tests.fakes.model_server import ModelServer, reply, tool_use

ORIGINAL = "line one\r\nline two\nl\u00efne three\nline four".encode("utf-8")  # CRLF, no final newline
BINARY = b"\x00\xff\xfe not utf-8\n" * 100


def _env(srv: ModelServer, home: Path) -> dict:
    env = dict(os.environ)
    env.update(srv.env())
    env.update({"HOME": str(home), "CLAW_CONFIG_HOME": str(home / ".claw")})
    return env


def _turns(project: Path, home: Path, script, prompts, after):
    """Run ``prompts`` as turns of one run, then ``after(run, uuids)`` with the prompts' uuids."""
    with ModelServer(script) as srv:
        async def go():
            async with await open_run(RunOptions(cwd=project, base_env=_env(srv, home)), sink=lambda e: None) as run:
                for prompt in prompts:
                    outcome = await run.turn(prompt)
                    assert outcome.subtype == "success", outcome
                uuids = [uid for uid, _ in run.user_turns()]
                return after(run, uuids)

        return asyncio.run(go())


def _edit_script(path: str):
    return [
        reply(tool_uses=[tool_use("edit_file", {"path": path, "old_string": "line two", "new_string": "LINE 2"})]),
        reply(tool_uses=[tool_use("write_file", {"path": "created/new.txt", "content": "brand new\n"}),
                         tool_use("bash", {"command": "echo appended >> notes.txt; echo made > by-bash.txt"})]),
        reply(text="edited"),
        reply(tool_uses=[tool_use("write_file", {"path": path, "content": "rewritten entirely\n"}),
                         tool_use("write_file", {"path": "bin.dat", "content": "text now\n"})]),
        reply(text="rewritten"),
    ]


@pytest.fixture
def files(project):
    (project / "a.txt").write_bytes(ORIGINAL)
    os.chmod(project / "a.txt", 0o640)
    (project / "notes.txt").write_text("notes\n")
    (project / "bin.dat").write_bytes(BINARY)
    return project


def test_rewind_restores_bytes_exactly_and_removes_created_files(files, home):
    project = files

    def after(run, uuids):
        assert (project / "a.txt").read_bytes() == b"rewritten entirely\n"
        preview = run.rewind_files(uuids[0], dry_run=True)
        assert (project / "a.txt").read_bytes() == b"rewritten entirely\n"  # a dry run changes nothing
        assert (project / "created" / "new.txt").exists() and (project / "by-bash.txt").exists()
        done = run.rewind_files(uuids[0])
        return preview, done

    preview, done = _turns(project, home, _edit_script("a.txt"), ["edit it", "rewrite it"], after)
    assert (project / "a.txt").read_bytes() == ORIGINAL
    assert (project / "bin.dat").read_bytes() == BINARY
    assert stat.S_IMODE(os.stat(project / "a.txt").st_mode) == 0o640
    assert not (project / "created" / "new.txt").exists() and not (project / "by-bash.txt").exists()
    assert (project / "notes.txt").read_text() == "notes\n"  # a bash >> target was kept too
    changed = {str(project / n) for n in ("a.txt", "created/new.txt", "notes.txt", "by-bash.txt", "bin.dat")}
    assert preview["canRewind"] and set(preview["filesChanged"]) == changed and "skippedLinks" not in preview
    assert done["canRewind"] and set(done["filesChanged"]) == changed and done["skippedLinks"] == 0
    assert done["insertions"] == preview["insertions"] > 0 and done["deletions"] == preview["deletions"] > 0


def test_rewind_to_the_second_turn_keeps_the_first_turns_changes(files, home):
    project = files

    def after(run, uuids):
        return run.rewind_files(uuids[1])

    result = _turns(project, home, _edit_script("a.txt"), ["edit it", "rewrite it"], after)
    assert sorted(result["filesChanged"]) == [str(project / "a.txt"), str(project / "bin.dat")]
    assert (project / "a.txt").read_bytes() == ORIGINAL.replace(b"line two", b"LINE 2")
    assert (project / "created" / "new.txt").read_text() == "brand new\n"


def test_a_symlink_swapped_in_after_the_checkpoint_is_not_followed(files, home, tmp_path):
    project = files
    victim = tmp_path / "victim.txt"
    victim.write_text("victim stays\n")

    def after(run, uuids):
        os.unlink(project / "a.txt")
        os.symlink(victim, project / "a.txt")  # the restore would write through it
        os.rename(project / "created", project / "created-real")
        os.symlink(tmp_path, project / "created")  # and a directory on the way
        (tmp_path / "new.txt").write_text("not ours to delete\n")
        return run.rewind_files(uuids[0])

    result = _turns(project, home, _edit_script("a.txt"), ["edit it", "rewrite it"], after)
    assert victim.read_text() == "victim stays\n" and os.path.islink(project / "a.txt")
    assert (tmp_path / "new.txt").read_text() == "not ours to delete\n"
    assert result["skippedLinks"] == 2 and result["canRewind"]
    assert not (project / "by-bash.txt").exists()  # the rest was restored


def test_unknown_message_and_a_turn_that_changed_nothing(project, home):
    (project / "f.txt").write_text("before\n")
    script = [reply(text="just talk"),
              reply(tool_uses=[tool_use("write_file", {"path": "f.txt", "content": "after\n"})]), reply(text="ok")]

    def after(run, uuids):
        return run.rewind_files("no-such-message"), run.rewind_files(uuids[0], dry_run=True)

    unknown, earlier = _turns(project, home, script, ["hello", "write"], after)
    assert unknown["canRewind"] is False and "No file checkpoint" in unknown["error"]
    assert earlier["canRewind"] and earlier["filesChanged"] == [str(project / "f.txt")]


def test_checkpoints_are_private_and_deduplicated(project, home):
    (project / "f.txt").write_text("same\n")
    (project / "g.txt").write_text("same\n")
    script = [reply(tool_uses=[tool_use("write_file", {"path": "f.txt", "content": "x\n"}),
                               tool_use("write_file", {"path": "g.txt", "content": "y\n"})]), reply(text="ok")]

    def after(run, uuids):
        return run.session.path.parent / run.session.id / "checkpoints"

    where = _turns(project, home, script, ["write"], after)
    blobs = list((where / "blobs").iterdir())
    assert len(blobs) == 1 and blobs[0].read_bytes() == b"same\n"  # one content, kept once
    for path in (where, where / "blobs"):
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o700
    for path in (where / "index.jsonl", blobs[0]):
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600


def test_conversation_rewind_is_a_record_and_survives_a_resume(project, home):
    script = [reply(text="one"), reply(text="two"), reply(text="three")]

    def after(run, uuids):
        removed = run.rewind_conversation(uuids[1])
        return run.session.id, removed, run.session.path

    with ModelServer(script) as srv:
        env = _env(srv, home)

        async def go():
            async with await open_run(RunOptions(cwd=project, base_env=env), sink=lambda e: None) as run:
                await run.turn("first")
                await run.turn("second")
                uuids = [uid for uid, _ in run.user_turns()]
                removed = run.rewind_conversation(uuids[1])
                await run.turn("second again")
                return run.session.id, removed, run.session.path

        session_id, removed, path = asyncio.run(go())
        last = srv.requests[-1].json["messages"]
    assert removed == 2
    assert [m["content"] if isinstance(m["content"], str) else m["content"][0]["text"] for m in last] == [
        "first", "one", "second again"]
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["type"] for r in records].count("rewind") == 1
    assert sum(1 for r in records if r["type"] == "message") == 6  # nothing rewritten
    resumed = SessionStore(project).open(session_id)
    texts = [m["content"] if isinstance(m["content"], str) else m["content"][0].get("text") for m in resumed.messages]
    assert texts == ["first", "one", "second again", "three"] and not resumed.warnings


def test_the_hosts_id_for_a_prompt_names_its_turn(project, home):
    (project / "f.txt").write_text("before\n")
    script = [reply(tool_uses=[tool_use("write_file", {"path": "f.txt", "content": "after\n"})]), reply(text="ok")]
    with ModelServer(script) as srv:
        async def go():
            async with await open_run(RunOptions(cwd=project, base_env=_env(srv, home)), sink=lambda e: None) as run:
                await run.turn("write", user_uuid="4b0c6a1e-0000-4000-8000-00000000host")
                return run.rewind_files("4b0c6a1e-0000-4000-8000-00000000host")

        result = asyncio.run(go())
    assert result["canRewind"] and result["filesChanged"] == [str(project / "f.txt")]
    assert (project / "f.txt").read_text() == "before\n"


def test_the_size_caps_are_kept_and_a_rewind_says_what_it_could_not_restore(tmp_path, monkeypatch):
    from claw.runtime import checkpoints

    monkeypatch.setattr(checkpoints, "MAX_FILE_BYTES", 100)
    monkeypatch.setattr(checkpoints, "MAX_SESSION_BYTES", 150)
    work = tmp_path / "w"
    work.mkdir()
    (tmp_path / "session").mkdir(mode=0o700)
    big, a, b = work / "big.bin", work / "a.txt", work / "b.txt"
    big.write_bytes(b"x" * 101)
    a.write_bytes(b"a" * 90)
    b.write_bytes(b"b" * 90)
    store = checkpoints.CheckpointStore(tmp_path / "session" / "checkpoints")
    store.begin_turn("turn-1")
    store.snapshot([str(big), str(a), str(b)])  # a fits; b would pass the session's 150 bytes
    for path in (big, a, b):
        path.write_bytes(b"changed\n")
    result = store.rewind("turn-1", history=["turn-1"])
    assert a.read_bytes() == b"a" * 90
    assert big.read_bytes() == b.read_bytes() == b"changed\n"
    assert result.files_changed == [str(a)] and len(result.failed) == 2
    assert "101 bytes, over the 100 byte limit" in result.error and "reached 150 bytes" in result.error
    assert len(list((tmp_path / "session" / "checkpoints" / "blobs").iterdir())) == 1
