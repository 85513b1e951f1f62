"""Session files: create/append/resume, damage tolerance, compaction, caps, redaction, list/fork."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from claw.errors import ClawError, UsageError
from claw.runtime.session_records import (
    INTERRUPTED_TOOL_RESULT,
    TOOL_RESULT_STORE_LIMIT,
    cap_for_storage,
    repair_tool_pairs,
)
from claw.runtime.session_store import SessionStore, validate_session_id

SECRET = "sk-ant-api03-TESTSECRETVALUE"
REPO_ROOT = Path(__file__).resolve().parents[2]


def fake_redact(obj):
    """Stands in for claw.redact: replaces one known secret everywhere."""
    if isinstance(obj, str):
        return obj.replace(SECRET, "[REDACTED]")
    if isinstance(obj, dict):
        return {k: fake_redact(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [fake_redact(v) for v in obj]
    return obj


@pytest.fixture
def store(tmp_path):
    return SessionStore(tmp_path, redact=fake_redact)


def user(text):
    return {"role": "user", "content": text}


def assistant_text(text):
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def tool_use(tid, name="bash", **inp):
    return {"role": "assistant", "content": [{"type": "tool_use", "id": tid, "name": name, "input": inp}]}


def tool_result(tid, content, is_error=False):
    block = {"type": "tool_result", "tool_use_id": tid, "content": content}
    if is_error:
        block["is_error"] = True
    return {"role": "user", "content": [block]}


def records(path):
    return [json.loads(line) for line in Path(path).read_text().split("\n") if line.strip()]


# -- create / append / open ---------------------------------------------------------------------


def test_file_appears_with_first_record_and_has_header(store, tmp_path):
    s = store.create(model="claude-x", cwd=str(tmp_path))
    assert not s.path.exists() and not s.exists
    uid = s.append_message(user("hello"))
    s.close()
    recs = records(s.path)
    assert [r["type"] for r in recs] == ["session", "message"]
    header = recs[0]
    assert header["v"] == 1 and header["session_id"] == s.id
    assert header["model"] == "claude-x" and header["cwd"] == str(tmp_path)
    assert header["parent_session_id"] is None and header["claw_version"]
    assert recs[1]["uuid"] == uid and recs[1]["parent_uuid"] is None
    assert recs[1]["message"] == user("hello")
    assert s.path == tmp_path / ".claw" / "sessions" / f"{s.id}.jsonl"


def test_permissions_0600_file_0700_dir_and_gitignore(store, tmp_path):
    s = store.create(model="m", cwd=str(tmp_path))
    s.append_message(user("x"))
    s.close()
    assert stat.S_IMODE(os.stat(s.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(s.path.parent).st_mode) == 0o700
    assert (s.path.parent / ".gitignore").read_text().strip().endswith("*")


def test_round_trip_messages_uuids_and_usage(store, tmp_path):
    s = store.create(model="m", cwd=str(tmp_path))
    history = [user("list files"), tool_use("t1", command="ls"), tool_result("t1", "a\nb"), assistant_text("done")]
    uuids = []
    for m in history:
        usage = {"input_tokens": 10, "output_tokens": 2} if m["role"] == "assistant" else None
        uuids.append(s.append_message(m, usage=usage))
    s.close()
    recs = records(s.path)
    assert recs[2]["usage"] == {"input_tokens": 10, "output_tokens": 2}
    assert "usage" not in recs[1]
    assert [r["parent_uuid"] for r in recs[1:]] == [None] + uuids[:-1]

    resumed = store.open(s.id)
    assert resumed.messages == history
    assert resumed.message_uuids == uuids
    assert resumed.warnings == []
    assert resumed.meta.model == "m"


def test_resume_appends_to_same_file(store, tmp_path):
    s = store.create(model="m", cwd=str(tmp_path))
    s.append_message(user("one"))
    s.append_message(assistant_text("two"))
    s.close()
    r = store.open(s.id)
    r.append_message(user("three"))
    r.close()
    again = store.open(s.id)
    assert [m["content"] if isinstance(m["content"], str) else m["content"][0]["text"] for m in again.messages] == [
        "one", "two", "three"]
    assert sum(1 for rec in records(s.path) if rec["type"] == "session") == 1


def test_messages_property_is_a_copy(store, tmp_path):
    s = store.create(model="m", cwd=str(tmp_path))
    s.append_message(user("a"))
    s.messages.append(user("not recorded"))
    assert len(s.messages) == 1


def test_invalid_message_is_rejected(store, tmp_path):
    s = store.create(model="m", cwd=str(tmp_path))
    with pytest.raises(ValueError):
        s.append_message({"role": "system", "content": "x"})
    with pytest.raises(ValueError):
        s.append_message({"role": "user"})


# -- ids -----------------------------------------------------------------------------------------


def test_session_id_validation():
    good = "123E4567-E89B-12D3-A456-426614174000"
    assert validate_session_id(good) == good.lower()
    for bad in ("abc", "123e4567e89b12d3a456426614174000", "../../etc/passwd", "", "123e4567-e89b-12d3-a456-42661417400g"):
        with pytest.raises(UsageError) as info:
            validate_session_id(bad)
        assert info.value.exit_code == 2 and info.value.hint


def test_create_with_given_id_and_duplicate(store, tmp_path):
    sid = str(uuid.uuid4())
    s = store.create(sid, model="m", cwd=str(tmp_path))
    assert s.id == sid
    s.append_message(user("x"))
    s.close()
    with pytest.raises(UsageError) as info:
        store.create(sid, model="m", cwd=str(tmp_path))
    assert info.value.kind == "session_exists" and "--resume" in info.value.hint
    with pytest.raises(UsageError):
        store.create("not-a-uuid", model="m", cwd=str(tmp_path))


def _make(store, tmp_path, sid, prompt):
    s = store.create(sid, model="m", cwd=str(tmp_path))
    s.append_message(user(prompt))
    s.close()
    return s


def test_prefix_resolution_unique_ambiguous_unknown(store, tmp_path):
    a = _make(store, tmp_path, "aaaa1111-0000-4000-8000-000000000001", "first prompt")
    _make(store, tmp_path, "aaaa2222-0000-4000-8000-000000000002", "second prompt")
    assert store.open("aaaa1").id == a.id
    assert store.open(a.id.upper()).id == a.id
    with pytest.raises(UsageError) as info:
        store.open("aaaa")
    assert info.value.kind == "session_ambiguous" and "aaaa1111" in info.value.hint
    with pytest.raises(ClawError) as info:
        store.open("bbbb")
    assert info.value.kind == "session_not_found"
    assert "first prompt" in info.value.hint and "second prompt" in info.value.hint
    with pytest.raises(UsageError):
        store.open("../../etc/passwd")


def test_unknown_id_in_empty_workspace(store):
    with pytest.raises(UsageError) as info:
        store.open(str(uuid.uuid4()))
    assert "no sessions" in info.value.hint


# -- latest / list ---------------------------------------------------------------------------------


def test_latest_is_newest_by_mtime(store, tmp_path):
    old = _make(store, tmp_path, None, "old")
    new = _make(store, tmp_path, None, "new")
    os.utime(old.path, (time.time() + 100, time.time() + 100))
    assert store.latest().id == old.id
    os.utime(new.path, (time.time() + 200, time.time() + 200))
    assert store.latest().id == new.id


def test_latest_without_sessions(tmp_path):
    with pytest.raises(UsageError) as info:
        SessionStore(tmp_path, redact=fake_redact).latest()
    assert info.value.kind == "session_not_found"


def test_list_titles_counts_sizes_and_order(store, tmp_path):
    s1 = store.create(model="m", cwd=str(tmp_path))
    s1.append_message(tool_result("x", "not a prompt"))  # not a title
    s1.append_message(user("  fix   the\nflaky test in  tests/test_net.py " + "please " * 30))
    s1.append_message(assistant_text("ok"))
    s1.close()
    s2 = store.create(model="m", cwd=str(tmp_path))
    s2.append_message(user("short"))
    s2.set_title("My named session")
    s2.close()
    os.utime(s1.path, (time.time() + 50, time.time() + 50))
    rows = store.list()
    assert [r.session_id for r in rows] == [s1.id, s2.id]
    assert rows[0].title.startswith("fix the flaky test in tests/test_net.py")
    assert len(rows[0].title) <= 80 and rows[0].title.endswith("…")
    assert rows[0].message_count == 3
    assert rows[0].size_bytes == os.path.getsize(s1.path)
    assert rows[1].title == "My named session" and rows[1].message_count == 1


def test_list_ignores_nested_message_like_objects(store, tmp_path):
    s = store.create(model="m", cwd=str(tmp_path))
    s.append_message(tool_use("t1", name="mcp__x__y", payload={"type": "message", "text": "{\"type\":\"message\"}"}))
    s.close()
    assert store.list()[0].message_count == 1


def test_list_skips_foreign_files(store, tmp_path):
    _make(store, tmp_path, None, "real")
    (store.directory / "notes.jsonl").write_text("{}\n")
    assert len(store.list()) == 1


# -- damage ----------------------------------------------------------------------------------------


def test_torn_last_line_is_skipped_with_warning_and_next_append_is_clean(store, tmp_path):
    s = store.create(model="m", cwd=str(tmp_path))
    s.append_message(user("one"))
    s.append_message(assistant_text("two"))
    s.close()
    with open(s.path, "ab") as f:
        f.write(b'{"type":"message","v":1,"uuid":"x","message":{"role":"us')
    r = store.open(s.id)
    assert len(r.messages) == 2
    assert len(r.warnings) == 1 and "line 4" in r.warnings[0] and "torn" in r.warnings[0]
    r.append_message(user("three"))
    r.close()
    again = store.open(s.id)
    assert [m["role"] for m in again.messages] == ["user", "assistant", "user"]
    assert again.messages[-1] == user("three")
    assert len(again.warnings) == 1 and "line 4" in again.warnings[0]  # the old torn line, now closed


def test_damaged_middle_line_is_skipped(store, tmp_path):
    s = store.create(model="m", cwd=str(tmp_path))
    for i in range(4):
        s.append_message(user(f"m{i}") if i % 2 == 0 else assistant_text(f"m{i}"))
    s.close()
    lines = s.path.read_bytes().split(b"\n")
    lines[2] = lines[2][:30]  # record of m1
    lines.insert(3, b"[1, 2]")
    s.path.write_bytes(b"\n".join(lines))
    r = store.open(s.id)
    assert [m["content"] if isinstance(m["content"], str) else m["content"][0]["text"] for m in r.messages] == [
        "m0", "m2", "m3"]
    text = " ".join(r.warnings)
    assert "line 3 is not valid JSON" in text and "line 4 is not a record" in text
    assert "missing" in text  # m2's parent was lost


def test_missing_header_uses_file_name(store, tmp_path):
    s = store.create(model="m", cwd=str(tmp_path))
    s.append_message(user("x"))
    s.close()
    lines = s.path.read_text().splitlines()
    s.path.write_text("\n".join(lines[1:]) + "\n")
    r = store.open(s.id)
    assert r.id == s.id and r.messages == [user("x")]
    assert any("header" in w for w in r.warnings)


def test_non_ascii_and_lone_surrogates_survive(store, tmp_path):
    s = store.create(model="m", cwd=str(tmp_path))
    s.append_message(tool_result("t", "naïve 日本語 \u2028 bad:\udcff end"))
    s.close()
    content = store.open(s.id).messages
    # a lone result is orphaned (no tool_use before it), so check the raw record instead
    assert content == []
    rec = records(s.path)[1]
    assert rec["message"]["content"][0]["content"] == "naïve 日本語 \u2028 bad:\udcff end"


KILL_CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from claw.runtime.session_store import SessionStore
    store = SessionStore({project!r}, redact=lambda o: o)
    s = store.create(model="m", cwd={project!r})
    s.append_message({{"role": "user", "content": "run the tests"}})
    s.append_message({{"role": "assistant", "content": [
        {{"type": "text", "text": "running"}},
        {{"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {{"command": "pytest"}}}},
        {{"type": "tool_use", "id": "toolu_2", "name": "read_file", "input": {{"path": "a.py"}}}}]}})
    print(s.id, flush=True)
    if {flood}:
        i = 0
        while True:
            s.append_message({{"role": "user", "content": "x" * (i % 5000)}})
            i += 1
    time.sleep(60)
    """
)


def _spawn(tmp_path, flood):
    code = KILL_CHILD.format(root=str(REPO_ROOT), project=str(tmp_path), flood=flood)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    session_id = proc.stdout.readline().strip()
    return proc, session_id


def test_kill_9_mid_tool_call_then_resume(tmp_path):
    proc, session_id = _spawn(tmp_path, flood=False)
    try:
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
        proc.stdout.close()
    store = SessionStore(tmp_path, redact=fake_redact)
    r = store.open(session_id)
    roles = [m["role"] for m in r.messages]
    assert roles == ["user", "assistant", "user"]
    results = r.messages[-1]["content"]
    assert [b["tool_use_id"] for b in results] == ["toolu_1", "toolu_2"]
    assert all(b["is_error"] and b["content"] == INTERRUPTED_TOOL_RESULT for b in results)
    assert any("interrupted" in w for w in r.warnings)
    r.append_message(user("continue please"))
    r.close()
    again = store.open(session_id)
    assert [m["role"] for m in again.messages] == ["user", "assistant", "user", "user"]
    assert again.messages[2] == r.messages[2]
    assert not any("interrupted" in w for w in again.warnings)  # the repair is now in the file
    assert any(rec.get("synthetic") == "interrupted_tool_result" for rec in records(again.path))


def test_kill_9_while_appending_leaves_a_loadable_file(tmp_path):
    proc, session_id = _spawn(tmp_path, flood=True)
    path = tmp_path / ".claw" / "sessions" / f"{session_id}.jsonl"
    try:
        deadline = time.monotonic() + 10
        while path.stat().st_size < 300_000 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
        proc.stdout.close()
    r = SessionStore(tmp_path, redact=fake_redact).open(session_id)
    lines = path.read_bytes().count(b"\n")
    assert len(r.messages) >= 10
    # one os.write per record: a kill never leaves half a line, every line is the header or a message
    assert len(r.messages) == lines - 1
    assert not any("JSON" in w or "incomplete" in w for w in r.warnings)


# -- compaction --------------------------------------------------------------------------------------


def _conversation(s):
    uuids = [
        s.append_message(user("q1")),
        s.append_message(tool_use("t1", command="ls")),
        s.append_message(tool_result("t1", "out")),
        s.append_message(assistant_text("a1")),
        s.append_message(user("q2")),
        s.append_message(assistant_text("a2")),
    ]
    return uuids


def test_compaction_upto_count_is_seen_on_resume(store, tmp_path):
    s = store.create(model="m", cwd=str(tmp_path))
    uuids = _conversation(s)
    summary = user("Summary: listed files.")
    sid = s.append_compaction(summary, upto=4, trigger="manual")
    assert s.messages == [summary, user("q2"), assistant_text("a2")]
    assert s.message_uuids == [sid] + uuids[4:]
    s.append_message(user("q3"))
    s.close()
    rec = [r for r in records(s.path) if r["type"] == "compaction"][0]
    assert rec["replaces"] == uuids[:4] and rec["trigger"] == "manual" and rec["summary"] == summary
    r = store.open(s.id)
    assert r.messages == [summary, user("q2"), assistant_text("a2"), user("q3")]
    assert r.warnings == []


def test_compaction_upto_uuid_and_explicit_list_and_recompaction(store, tmp_path):
    s = store.create(model="m", cwd=str(tmp_path))
    uuids = _conversation(s)
    first = s.append_compaction(user("S1"), upto=uuids[3])
    assert s.messages[0] == user("S1") and len(s.messages) == 3
    second = s.append_compaction(user("S2"), replaced_uuids=[first, uuids[4]])
    assert s.messages == [user("S2"), assistant_text("a2")]
    s.close()
    r = store.open(s.id)
    assert r.messages == [user("S2"), assistant_text("a2")]
    assert r.message_uuids == [second, uuids[5]]


def test_compaction_of_a_middle_range_keeps_the_summary_in_place(store, tmp_path):
    s = store.create(model="m", cwd=str(tmp_path))
    uuids = _conversation(s)
    s.append_compaction(user("S-middle"), replaced_uuids=uuids[1:4])
    expected = [user("q1"), user("S-middle"), user("q2"), assistant_text("a2")]
    assert s.messages == expected
    s.close()
    assert store.open(s.id).messages == expected


def test_compacted_lines_are_not_parsed(store, tmp_path):
    # Damage inside a replaced record goes unnoticed: resume does not even parse it.
    s = store.create(model="m", cwd=str(tmp_path))
    _conversation(s)
    s.append_compaction(user("S"), upto=4)
    s.close()
    lines = s.path.read_text().split("\n")
    assert lines[2].startswith('{"type":"message","v":1,"uuid":"')
    lines[2] = lines[2][:90] + "#garbage#" + lines[2][90:]
    s.path.write_text("\n".join(lines))
    r = store.open(s.id)
    assert r.messages == [user("S"), user("q2"), assistant_text("a2")] and r.warnings == []


def test_compaction_record_before_its_messages_still_loads(store, tmp_path):
    s = store.create(model="m", cwd=str(tmp_path))
    uuids = _conversation(s)
    s.append_compaction(user("S"), upto=2)
    s.close()
    lines = s.path.read_text().rstrip("\n").split("\n")
    compaction = lines.pop()
    lines.insert(1, compaction)  # a damaged order: the summary comes first, its messages stay
    s.path.write_text("\n".join(lines) + "\n")
    r = store.open(s.id)
    assert r.messages[0] == user("S") and user("q1") in r.messages
    assert r.message_uuids[1] == uuids[0]


def test_compaction_argument_errors(store, tmp_path):
    s = store.create(model="m", cwd=str(tmp_path))
    _conversation(s)
    with pytest.raises(ValueError):
        s.append_compaction(user("S"))
    with pytest.raises(ValueError):
        s.append_compaction(user("S"), upto=99)
    with pytest.raises(ValueError):
        s.append_compaction(user("S"), replaced_uuids=["nope"])


# -- storage shaping ----------------------------------------------------------------------------------


def test_large_tool_result_is_stored_capped_but_kept_in_memory(store, tmp_path):
    s = store.create(model="m", cwd=str(tmp_path))
    big = "HEAD" + "x" * (TOOL_RESULT_STORE_LIMIT * 2) + "TAIL"
    s.append_message(tool_use("t1", command="cat big"))
    s.append_message(tool_result("t1", big))
    s.append_message(tool_use("t2", command="cat big"))
    s.append_message({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t2",
                                                     "content": [{"type": "text", "text": big}]}]})
    assert s.messages[1]["content"][0]["content"] == big
    s.close()
    recs = records(s.path)
    assert recs[2]["stored_truncated"] is True and "stored_truncated" not in recs[1]
    stored = recs[2]["message"]["content"][0]["content"]
    assert stored.startswith("HEAD") and stored.endswith("TAIL")
    assert "not stored in the session file" in stored
    assert len(stored) < TOOL_RESULT_STORE_LIMIT + 500
    stored_list = recs[4]["message"]["content"][0]["content"][0]["text"]
    assert len(stored_list) < TOOL_RESULT_STORE_LIMIT + 500
    assert os.path.getsize(s.path) < 3 * TOOL_RESULT_STORE_LIMIT
    r = store.open(s.id)
    assert r.messages[1]["content"][0]["content"] == stored


def test_cap_for_storage_leaves_small_messages_alone():
    m = tool_result("t", "small")
    out, truncated = cap_for_storage(m)
    assert out is m and truncated is False


def test_secrets_are_redacted_on_disk_only(store, tmp_path):
    s = store.create(model="m", cwd=str(tmp_path))
    m = tool_use("t1", command=f"curl -H 'x-api-key: {SECRET}' https://api")
    s.append_message(m)
    s.set_meta(note=f"key {SECRET}")
    s.close()
    raw = s.path.read_text()
    assert SECRET not in raw and "[REDACTED]" in raw
    assert SECRET in s.messages[0]["content"][0]["input"]["command"]


def test_the_run_redactor_removes_its_secrets_and_the_rules_the_rest(tmp_path):
    from claw.redact import Redactor

    proxy_password = "pr0xy-Pa55-" + uuid.uuid4().hex
    # what a run passes: a redactor that knows the secrets of its effective environment
    store = SessionStore(tmp_path, redact=Redactor.from_env({"HTTPS_PROXY": f"http://me:{proxy_password}@p:1"}).redact_obj)
    s = store.create(model="m", cwd=str(tmp_path))
    api_key = "sk-ant-api03-" + "A1b2C3d4" * 8
    s.append_message(user(f"my key is {api_key}"))
    s.append_message(tool_use("t1", command=f"echo {proxy_password}; curl -H 'Authorization: Bearer abcdef123456789' x"))
    s.close()
    raw = s.path.read_text()
    assert api_key not in raw and proxy_password not in raw and "abcdef123456789" not in raw
    assert "[REDACTED]" in raw
    assert api_key in s.messages[0]["content"]  # memory keeps the original


# -- meta / fork ------------------------------------------------------------------------------------


def test_meta_records_are_loaded(store, tmp_path):
    s = store.create(model="m1", cwd=str(tmp_path))
    s.append_message(user("x"))
    s.set_model("m2")
    s.set_permission_mode("read-only")
    s.set_title("T")
    s.set_meta(custom=1)
    s.close()
    r = store.open(s.id)
    assert (r.meta.model, r.meta.permission_mode, r.meta.title, r.meta.extra) == ("m2", "read-only", "T", {"custom": 1})


def test_fork_copies_history_and_records_parent(store, tmp_path):
    s = store.create(model="m", cwd=str(tmp_path))
    uuids = _conversation(s)
    s.append_compaction(user("S"), upto=4)
    s.set_title("original")
    s.close()
    f = store.fork(s.id[:8])
    assert f.id != s.id and f.exists
    assert f.messages == store.open(s.id).messages
    f.append_message(user("only in fork"))
    f.close()
    header = records(f.path)[0]
    assert header["parent_session_id"] == s.id
    assert header["forked_from_uuid"] == store.open(s.id).message_uuids[-1]
    assert store.open(f.id).meta.parent_session_id == s.id
    assert store.open(f.id).meta.title == "original"
    assert user("only in fork") not in store.open(s.id).messages
    assert uuids  # the source is untouched
    assert len(store.list()) == 2


def test_fork_of_unknown_session(store):
    with pytest.raises(UsageError):
        store.fork("ffff")


# -- repair -------------------------------------------------------------------------------------------


def test_repair_tool_pairs_in_the_middle_and_orphans():
    msgs = [
        user("q"),
        tool_use("t1"),
        user("interjection without results"),
        tool_result("zz", "orphan"),
        assistant_text("a"),
    ]
    uuids = ["u1", "u2", "u3", "u4", "u5"]
    out, out_uuids, notes, inserted = repair_tool_pairs(msgs, uuids)
    assert out[2]["content"][0]["tool_use_id"] == "t1" and out[2]["content"][0]["is_error"]
    assert out[2]["content"][1] == {"type": "text", "text": "interjection without results"}
    assert all(m is not msgs[3] for m in out)  # the orphan-only message is gone
    assert out_uuids == ["u1", "u2", "u3", "u5"]
    assert inserted == [] and notes
    again = repair_tool_pairs(msgs, uuids)
    assert again[1] == out_uuids


def test_repair_is_identity_on_a_good_history():
    msgs = [user("q"), tool_use("t1"), tool_result("t1", "r"), assistant_text("a")]
    uuids = ["1", "2", "3", "4"]
    out, out_uuids, notes, inserted = repair_tool_pairs(msgs, uuids)
    assert out is msgs and out_uuids is uuids and notes == [] and inserted == []


def test_repair_inserts_results_between_two_assistant_messages_deterministically():
    msgs = [user("q"), tool_use("t1"), assistant_text("a")]
    out1, u1, _, ins1 = repair_tool_pairs(msgs, ["1", "2", "3"])
    out2, u2, _, _ = repair_tool_pairs(msgs, ["1", "2", "3"])
    assert [m["role"] for m in out1] == ["user", "assistant", "user", "assistant"]
    assert ins1 == [2] and u1 == u2


def test_fsync_mode_validation(tmp_path):
    with pytest.raises(ValueError):
        SessionStore(tmp_path, fsync="sometimes")
    s = SessionStore(tmp_path, redact=fake_redact, fsync="always").create(model="m", cwd=str(tmp_path))
    s.append_message(user("x"))
    s.sync()
    s.close()
    assert records(s.path)[1]["message"] == user("x")


def test_write_failure_is_a_claw_error(tmp_path):
    store = SessionStore(tmp_path, redact=fake_redact)
    (tmp_path / ".claw").mkdir()
    (tmp_path / ".claw" / "sessions").write_text("a file where the directory should be")
    s = store.create(model="m", cwd=str(tmp_path))
    with pytest.raises(ClawError) as info:
        s.append_message(user("x"))
    assert info.value.kind == "session_io" and info.value.hint
