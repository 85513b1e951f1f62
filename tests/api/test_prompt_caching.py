"""Prompt caching: where the breakpoints go (claw.api.caching), what the Anthropic provider sends with
caching on and off, the prefix staying byte-stable from turn to turn, cache pricing, and the fake
server's cache emulation that the CLI tests and bench/cache_cost.py rely on."""

from __future__ import annotations

import copy
import json

import pytest

from claw.api.caching import EPHEMERAL, MAX_BREAKPOINTS, caching_disabled, with_breakpoints
from claw.api.client import ApiSettings
from claw.api.registry import lookup
from claw.api.types import Usage
from claw.api.types import ModelRequest
from tests.api.helpers import collect, request, run, user
from tests.fakes.model_server import ModelServer, reply
from tests.fakes.prompt_cache import PromptCache

TOOLS = [{"name": "read_file", "description": "read", "input_schema": {"type": "object"}},
         {"name": "bash", "description": "run", "input_schema": {"type": "object"}}]


def marks(value):
    """Paths of every cache_control in a JSON-like value."""
    out = []

    def walk(v, path):
        if isinstance(v, dict):
            if "cache_control" in v:
                out.append(path)
            for k, item in v.items():
                walk(item, f"{path}.{k}")
        elif isinstance(v, list):
            for i, item in enumerate(v):
                walk(item, f"{path}[{i}]")

    walk(value, "")
    return out


def strip(value):
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def turn(n):
    return [{"role": "assistant", "content": [{"type": "tool_use", "id": f"t{n}", "name": "read_file",
                                               "input": {"path": f"f{n}"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{n}", "content": f"text {n}"}]}]


# -- placement -------------------------------------------------------------------------------------


def test_breakpoints_on_tools_system_previous_turn_and_newest_message():
    messages = [user("go")] + turn(1) + turn(2)
    before = copy.deepcopy(messages)
    tools, system, out = with_breakpoints(TOOLS, "be brief", messages)
    assert tools[-1]["cache_control"] == EPHEMERAL and "cache_control" not in tools[0]
    assert system == [{"type": "text", "text": "be brief", "cache_control": EPHEMERAL}]
    assert marks({"m": out}) == [".m[2].content[0]", ".m[4].content[0]"]  # previous turn's end, newest
    assert len(marks([tools, system, out])) == MAX_BREAKPOINTS
    assert messages == before and TOOLS[-1].get("cache_control") is None  # nothing mutated
    assert strip(out) == messages


def test_first_turn_has_no_previous_turn_breakpoint():
    _, _, out = with_breakpoints([], "s", [user("go")])
    assert marks({"m": out}) == [".m[0].content[0]"]


def test_thinking_and_empty_text_blocks_never_carry_a_breakpoint():
    messages = [user("go"), {"role": "assistant", "content": [
        {"type": "text", "text": "plan"}, {"type": "thinking", "thinking": "x", "signature": "s"},
        {"type": "redacted_thinking", "data": "d"}, {"type": "text", "text": ""}]}]
    _, _, out = with_breakpoints([], None, messages)
    assert marks({"m": out}) == [".m[1].content[0]"]


def test_string_content_and_system_blocks():
    _, system, out = with_breakpoints([], [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                                      [{"role": "user", "content": "hello"}])
    assert system == [{"type": "text", "text": "a"}, {"type": "text", "text": "b", "cache_control": EPHEMERAL}]
    assert out == [{"role": "user", "content": [{"type": "text", "text": "hello", "cache_control": EPHEMERAL}]}]


def test_breakpoints_already_present_count_against_the_four():
    system = [{"type": "text", "text": f"s{i}", "cache_control": EPHEMERAL} for i in range(3)]
    tools, system_out, out = with_breakpoints(TOOLS, system, [user("go")] + turn(1))
    assert len(marks([tools, system_out, out])) == MAX_BREAKPOINTS
    assert marks({"m": out}) == [".m[2].content[0]"]  # the newest message comes first


def test_breakpoints_a_host_put_in_messages_do_not_pile_up_past_four():
    """An SDK host may send user messages with cache_control; kept in the history, five of them would
    make every later request fail with the API's 'a maximum of 4 blocks' error."""
    marked = [{"role": "user", "content": [{"type": "text", "text": f"p{i}", "cache_control": EPHEMERAL}]}
              if i % 2 == 0 else {"role": "assistant", "content": [{"type": "text", "text": "ok"}]}
              for i in range(11)]
    marked[4]["content"] = [{"type": "tool_result", "tool_use_id": "t", "content": [
        {"type": "text", "text": "r", "cache_control": EPHEMERAL}]}]
    before = copy.deepcopy(marked)
    tools, system, out = with_breakpoints(TOOLS, "sys", marked)
    assert len(marks([tools, system, out])) == MAX_BREAKPOINTS
    assert marks({"m": out}) == [".m[8].content[0]", ".m[10].content[0]"]
    assert marked == before


@pytest.mark.parametrize("value, off", [("1", True), ("true", True), ("yes", True), ("", False), ("0", False),
                                        ("false", False)])
def test_disable_prompt_caching_values(value, off):
    assert caching_disabled({"DISABLE_PROMPT_CACHING": value}) is off


# -- the provider ----------------------------------------------------------------------------------


def test_request_body_carries_the_breakpoints(server, provider_for):
    server.enqueue(reply("ok"))
    messages = [user("go")] + turn(1)
    run(collect(provider_for(), ModelRequest(model="sonnet", messages=messages, system="sys", tools=TOOLS)))
    body = server.requests[0].json
    assert marks(body) == [".messages[0].content[0]", ".messages[2].content[0]", ".system[0]", ".tools[1]"]
    assert body["system"] == [{"type": "text", "text": "sys", "cache_control": EPHEMERAL}]


def test_prefix_bytes_are_stable_from_turn_to_turn(server, provider_for):
    """Request N+1, without its cache_control markers, starts with request N's tools, system and
    messages, byte for byte in the JSON claw sends (key order included)."""
    history = [user("go")]
    bodies = []
    for n in range(4):
        server.enqueue(reply("ok"))
        run(collect(provider_for(), ModelRequest(model="sonnet", messages=list(history), system="sys", tools=TOOLS)))
        bodies.append(server.requests[-1].body)
        history += turn(n)

    def prefix_parts(raw):
        body = strip(json.loads(raw))
        return (json.dumps(body["tools"]), json.dumps(body["system"]),
                [json.dumps(m) for m in body["messages"]])

    for before, after in zip(bodies, bodies[1:]):
        t0, s0, m0 = prefix_parts(before)
        t1, s1, m1 = prefix_parts(after)
        assert (t0, s0) == (t1, s1) and m1[:len(m0)] == m0
    assert all(len(marks(json.loads(b))) <= MAX_BREAKPOINTS for b in bodies)


def _provider(env, **settings):
    from claw.api.client import create_provider
    from claw.api.retry import RetryPolicy

    return create_provider("claude-sonnet-4-5", env=env, retry=RetryPolicy(max_retries=0),
                           settings=ApiSettings.from_env(env, **settings))


@pytest.mark.parametrize("env, settings", [({"DISABLE_PROMPT_CACHING": "1"}, {}), ({}, {"prompt_caching": False})])
def test_caching_off_sends_no_cache_control_and_a_plain_system(server, env, settings):
    server.enqueue(reply("ok"))
    run(collect(_provider(dict(server.env(), **env), **settings), request(system="sys", tools=TOOLS)))
    (rec,) = server.requests
    assert marks(rec.json) == [] and rec.json["system"] == "sys" and rec.json["tools"] == TOOLS


def test_a_one_off_request_is_not_cached(server, provider_for):
    server.enqueue(reply("summary"))
    run(collect(provider_for(), request(system="summarise", cache=False)))
    assert marks(server.requests[0].json) == [] and server.requests[0].json["system"] == "summarise"


def test_api_settings_turn_caching_off_by_env_or_settings():
    assert ApiSettings.from_env({}).prompt_caching is True
    assert ApiSettings.from_env({"DISABLE_PROMPT_CACHING": "1"}).prompt_caching is False
    assert ApiSettings.from_env({}, prompt_caching=False).prompt_caching is False
    assert ApiSettings.from_env({"DISABLE_PROMPT_CACHING": "1"}, prompt_caching=True).prompt_caching is False


# -- pricing ---------------------------------------------------------------------------------------


def test_cache_reads_and_writes_are_priced_from_the_registry():
    info = lookup("claude-sonnet-4-5")
    p = info.pricing
    assert p.cache_read == pytest.approx(p.input * 0.1) and p.cache_write == pytest.approx(p.input * 1.25)
    usage = Usage(input_tokens=1_000, output_tokens=100, cache_creation_input_tokens=10_000,
                  cache_read_input_tokens=100_000)
    expected = (1_000 * 3.0 + 100 * 15.0 + 10_000 * 3.75 + 100_000 * 0.30) / 1_000_000
    assert info.cost_usd(usage) == pytest.approx(expected)


# -- the emulator ----------------------------------------------------------------------------------


def _body(messages, system="S" * 8000, tools=TOOLS, cached=True):
    tools_out, system_out, messages_out = (with_breakpoints(tools, system, messages) if cached
                                           else (tools, system, messages))
    return {"model": "m", "tools": tools_out, "system": system_out, "messages": messages_out}


def test_emulator_reads_what_the_previous_turn_wrote():
    now = [0.0]
    cache = PromptCache(clock=lambda: now[0])
    history = [user("go")]
    first = cache.usage("/v1/messages", _body(history))
    assert first["cache_read_input_tokens"] == 0 and first["cache_creation_input_tokens"] > 2000
    history += turn(0)
    second = cache.usage("/v1/messages", _body(history))
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert 0 < second["cache_creation_input_tokens"] < 100 and second["input_tokens"] == 0
    now[0] = 301.0  # five minutes later the entries are gone
    history += turn(1)
    third = cache.usage("/v1/messages", _body(history))
    assert third["cache_read_input_tokens"] == 0


def test_emulator_without_breakpoints_reads_nothing_and_refuses_five():
    cache = PromptCache()
    for _ in range(2):
        usage = cache.usage("/v1/messages", _body([user("go")], cached=False))
        assert usage["cache_read_input_tokens"] == usage["cache_creation_input_tokens"] == 0
    body = _body([user("go")] + turn(1) + turn(2))
    body["messages"][0]["content"][0]["cache_control"] = EPHEMERAL
    assert "maximum of 4" in cache.usage("/v1/messages", body)["error"]


def test_emulator_hit_needs_the_same_prefix():
    cache = PromptCache()
    cache.usage("/v1/messages", _body([user("go")]))
    changed = cache.usage("/v1/messages", _body([user("go")], tools=list(reversed(TOOLS))))
    assert changed["cache_read_input_tokens"] == 0  # tool order is part of the prefix


def test_fake_server_reports_the_emulated_usage_and_claw_reads_it():
    with ModelServer([reply("one"), reply("two")], cache=PromptCache()) as srv:
        history = [user("go")]
        usages = []
        for n in range(2):
            evts = run(collect(_provider(srv.env()), ModelRequest(model="sonnet", messages=list(history), system="S" * 8000,
                                                             tools=TOOLS)))
            usages.append(evts[-1].response.usage)
            history += turn(n)
    assert usages[0].cache_creation_input_tokens > 2000 and usages[0].cache_read_input_tokens == 0
    assert usages[1].cache_read_input_tokens == usages[0].cache_creation_input_tokens
