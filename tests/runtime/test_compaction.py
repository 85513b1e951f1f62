"""Compaction: where the cut goes, the model-written summary, the fallback, the session record, and
auto-compaction in a real headless run."""

from __future__ import annotations

import asyncio
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from claw.api.client import create_provider
from claw.runtime.compaction import SUMMARY_PREFIX, compact, fallback_summary, split_point
from claw.runtime.session_store import SessionStore
from tests.cli.headless_helpers import isolated_env, run_inprocess
from tests.fakes.model_server import ModelServer, error, reply, tool_use


def _prompt(text):
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def _answer(text):
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def _call(i, name="read_file", path="a.txt"):
    return {"role": "assistant", "content": [{"type": "tool_use", "id": f"t{i}", "name": name,
                                              "input": {"path": path}}]}


def _result(i):
    return {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{i}", "content": "ok"}]}


@st.composite
def histories(draw):
    messages, n = [], 0
    for _ in range(draw(st.integers(1, 8))):
        messages.append(_prompt("p"))
        for _ in range(draw(st.integers(0, 3))):
            n += 1
            messages += [_call(n), _result(n)]
        messages.append(_answer("a"))
    return messages


@given(histories(), st.integers(1, 3))
@settings(max_examples=200)
def test_the_cut_never_separates_a_tool_use_from_its_result(messages, keep):
    cut = split_point(messages, keep)
    if cut == 0:
        return
    kept = messages[cut:]
    assert kept[0]["role"] == "user"
    assert not any(b.get("type") == "tool_result" for b in kept[0]["content"])
    used = {b["id"] for m in kept for b in m["content"] if b.get("type") == "tool_use"}
    answered = {b["tool_use_id"] for m in kept for b in m["content"] if b.get("type") == "tool_result"}
    assert used == answered


def test_nothing_to_compact_with_a_single_prompt():
    assert split_point([_prompt("only"), _answer("a")]) == 0


def _history():
    return [_prompt("fix the bug in a.txt"), _call(1), _result(1), _answer("fixed"),
            _prompt("now add a test"), _answer("added"), _prompt("and docs"), _answer("done")]


def test_model_written_summary_replaces_the_old_part(tmp_path):
    with ModelServer([reply(text="The user fixed a bug in a.txt.")]) as srv:
        async def go():
            provider = create_provider("claude-sonnet-4-5", env=srv.env())
            try:
                return await compact(provider, "claude-sonnet-4-5", _history(), keep_prompts=2)
            finally:
                await provider.aclose()

        result = asyncio.run(go())
        sent = srv.requests[0].json
    assert result.by_model and result.replaced == 4 and result.kept == 4
    assert result.summary_message["content"][0]["text"] == SUMMARY_PREFIX + "The user fixed a bug in a.txt."
    assert sent.get("tools") in (None, [])
    transcript = sent["messages"][0]["content"][0]["text"]
    assert "fix the bug in a.txt" in transcript and "TOOL CALL read_file" in transcript


def test_fallback_summary_when_the_model_fails(tmp_path):
    with ModelServer([error(400, "invalid_request_error", "nope")]) as srv:
        async def go():
            provider = create_provider("claude-sonnet-4-5", env=srv.env(CLAW_MAX_RETRIES="0"))
            try:
                return await compact(provider, "claude-sonnet-4-5", _history(), keep_prompts=2)
            finally:
                await provider.aclose()

        result = asyncio.run(go())
    text = result.summary_message["content"][0]["text"]
    assert not result.by_model
    assert "fix the bug in a.txt" in text and "read_file a.txt" in text


def test_fallback_summary_lists_files_and_last_answer():
    text = fallback_summary(_history()[:4])
    assert "Files touched: a.txt" in text and "fixed" in text


def test_session_records_compaction_and_resume_sees_it(tmp_path):
    store = SessionStore(tmp_path)
    session = store.create(model="m", cwd=str(tmp_path))
    for message in _history():
        session.append_message(message)
    summary = {"role": "user", "content": [{"type": "text", "text": SUMMARY_PREFIX + "s"}]}
    session.append_compaction(summary, upto=4, trigger="manual")
    session.close()
    again = store.open(session.id)
    assert again.messages[0] == summary
    assert again.messages[1:] == _history()[4:]


def test_auto_compaction_in_a_headless_run(tmp_path, monkeypatch):
    work, home = tmp_path / "ws", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    long_prompt = "please consider this carefully. " * 400  # ~13 KB: over 1% of a 200K window
    with ModelServer([reply(text="first answer"), reply(text="SUMMARY OF EARLIER"),
                      reply(text="second answer")]) as srv:
        env = isolated_env(srv.env(), home, CLAW_AUTOCOMPACT_PCT="1")
        first = run_inprocess(["-p", "short one", "--model", "claude-sonnet-4-5", "--output-format", "json"],
                              env, monkeypatch, work)
        second = run_inprocess(["-p", long_prompt, "--continue", "--model", "claude-sonnet-4-5",
                                "--output-format", "json"], env, monkeypatch, work)
        summarise, final = srv.requests[1].json, srv.requests[2].json
    assert first.code == 0 and second.code == 0, second.stderr
    assert "short one" in summarise["messages"][0]["content"][0]["text"]
    assert final["messages"][0]["content"][0]["text"].endswith("SUMMARY OF EARLIER")
    assert final["messages"][-1]["content"][0]["text"] == long_prompt
    assert "compacted" in second.stderr
    records = [json.loads(line) for line in
               next((work / ".claw" / "sessions").glob("*.jsonl")).read_text().splitlines()]
    assert any(r.get("type") == "compaction" and r.get("trigger") == "auto" for r in records)


def test_auto_compaction_uses_the_providers_token_count(tmp_path, monkeypatch):
    """The check before each turn trusts the provider's count of the last request (plus an estimate
    of what came after), instead of re-serialising the whole history every turn."""
    work, home = tmp_path / "ws", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    (work / "a.txt").write_text("tiny\n")
    big_usage = {"input_tokens": 190_000, "output_tokens": 10}
    with ModelServer([reply(text="first answer"),
                      reply(tool_uses=[tool_use("read_file", {"path": "a.txt"})], usage=big_usage),
                      reply(text="SUMMARY"), reply(text="after compaction")]) as srv:
        env = isolated_env(srv.env(), home)
        run_inprocess(["-p", "one", "--model", "claude-sonnet-4-5"], env, monkeypatch, work)
        second = run_inprocess(["-p", "two", "--continue", "--model", "claude-sonnet-4-5", "--output-format",
                                "json"], env, monkeypatch, work)
        final = srv.requests[3].json
    assert second.code == 0, second.stderr
    assert second.json["result"] == "after compaction"
    assert final["messages"][0]["content"][0]["text"].endswith("SUMMARY")
    assert "compacted" in second.stderr
