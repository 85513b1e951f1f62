"""Extended thinking in requests (claw.api.thinking and the provider): where the wish comes from, the
body and max_tokens each model gets, the interleaved-thinking beta; and the fake server's own check
that a continuation sends thinking blocks back exactly as they came."""

from __future__ import annotations

import json
import urllib.request

import pytest

from claw.api.thinking import DEFAULT_BUDGET, INTERLEAVED_BETA, for_model, request_thinking, thinking_wish
from claw.api.types import MessageDone
from tests.api.helpers import collect, request, run, user
from tests.fakes.model_server import reply, sign_thinking, tool_use


# -- where the wish comes from ----------------------------------------------------------------------


def test_flags_win_over_the_environment_and_the_environment_over_settings():
    assert thinking_wish(flag_mode="disabled", flag_budget=5000, env={"MAX_THINKING_TOKENS": "9000"}) is False
    assert thinking_wish(flag_budget=5000, env={"MAX_THINKING_TOKENS": "9000"}) == 5000
    assert thinking_wish(flag_mode="adaptive", env={"MAX_THINKING_TOKENS": "9000"}) == "auto"
    assert thinking_wish(env={"MAX_THINKING_TOKENS": "9000"}, always=False) == 9000
    assert thinking_wish(env={"MAX_THINKING_TOKENS": "0"}, always=True) is False
    assert thinking_wish(always=True) == "auto"
    assert thinking_wish(always=False) is False
    assert thinking_wish() is None  # claw does not think unasked


def test_the_request_object_is_adapted_to_each_model():
    auto = request_thinking("auto")
    assert auto == {"type": "adaptive"}
    # an adaptive model keeps adaptive; one with budgets only gets the default budget and the beta
    assert for_model(auto, 32000, model_thinking="adaptive", known=True, max_output=128000) == (auto, 32000, ())
    assert for_model(auto, 32000, model_thinking="interleaved", known=True, max_output=64000) == (
        {"type": "enabled", "budget_tokens": DEFAULT_BUDGET}, 32000, (INTERLEAVED_BETA,))
    # a model known not to think gets none; an unknown one gets a budget (the server judges)
    assert for_model(auto, 8192, model_thinking="", known=True, max_output=8192) == (None, 8192, ())
    assert for_model(auto, 32000, model_thinking="", known=False, max_output=32000)[0]["type"] == "enabled"


def test_max_tokens_is_raised_above_the_budget_within_the_model_limit():
    wish = request_thinking(40000)
    thinking, max_tokens, _ = for_model(wish, 32000, model_thinking="interleaved", known=True, max_output=64000)
    assert thinking == {"type": "enabled", "budget_tokens": 40000} and max_tokens == 48192
    # the budget alone fills the output limit: it shrinks so an answer fits
    thinking, max_tokens, _ = for_model(request_thinking(64000), 32000, model_thinking="interleaved",
                                        known=True, max_output=64000)
    assert max_tokens == 64000 and thinking["budget_tokens"] < max_tokens
    assert request_thinking(10)["budget_tokens"] == 1024  # the API's minimum


# -- on the wire ------------------------------------------------------------------------------------


def test_body_and_beta_for_a_model_with_interleaved_thinking(server, provider_for):
    server.enqueue(reply("ok", thinking="hm"))
    req = request(thinking={"type": "enabled", "budget_tokens": 40000}, max_tokens=1000)
    run(collect(provider_for("claude-sonnet-4-5"), req))
    sent = server.requests[0]
    assert sent.json["thinking"] == {"type": "enabled", "budget_tokens": 40000}
    assert sent.json["max_tokens"] == 48192  # was 1000: the fake (like the API) refuses max_tokens <= budget
    assert INTERLEAVED_BETA in sent.header("anthropic-beta")


def test_adaptive_model_gets_adaptive_and_no_beta(server, provider_for):
    server.enqueue(reply("ok"))
    run(collect(provider_for("opus"), request(thinking={"type": "adaptive"})))
    sent = server.requests[0]
    assert sent.json["thinking"] == {"type": "adaptive"}
    assert sent.header("anthropic-beta") is None


def test_a_model_that_cannot_think_gets_no_thinking(server, provider_for):
    server.enqueue(reply("ok"))
    run(collect(provider_for("claude-3-5-haiku-20241022"), request(thinking={"type": "adaptive"})))
    assert "thinking" not in server.requests[0].json


def test_openai_compatible_providers_get_no_thinking_and_keep_their_max_tokens(server, provider_for):
    server.enqueue(reply("ok"))
    run(collect(provider_for("openai/gpt-5-mini"), request(thinking={"type": "enabled", "budget_tokens": 50000},
                                                           max_tokens=100)))
    sent = server.requests[0].json
    assert "thinking" not in sent and 50000 not in sent.values()


# -- the fake server checks thinking as the API does -----------------------------------------------


def _post(server, body):
    req = urllib.request.Request(server.url + "/v1/messages", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _turn_with_tool(server):
    """One request answered with thinking + a tool_use; returns the assistant message as received."""
    server.enqueue(reply(thinking="I should list the files.", tool_uses=[tool_use("Bash", {"command": "ls"})]))
    status, message = _post(server, {"model": "claude-sonnet-5-5", "max_tokens": 4096,
                                     "thinking": {"type": "enabled", "budget_tokens": 2048},
                                     "messages": [user("list")]})
    assert status == 200
    return {"role": "assistant", "content": message["content"]}


def _continuation(assistant):
    tool_id = next(b["id"] for b in assistant["content"] if b["type"] == "tool_use")
    return {"model": "claude-sonnet-5-5", "max_tokens": 4096, "thinking": {"type": "enabled", "budget_tokens": 2048},
            "messages": [user("list"), assistant,
                         {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id,
                                                       "content": "a.txt"}]}]}


@pytest.mark.parametrize("change", ["none", "altered_text", "altered_signature", "dropped"])
def test_the_fake_rejects_a_continuation_without_its_thinking_intact(server, change):
    assistant = _turn_with_tool(server)
    thinking = assistant["content"][0]
    assert thinking["signature"] == sign_thinking(thinking["thinking"])
    if change == "altered_text":
        thinking["thinking"] = "I should [REDACTED] the files."
    elif change == "altered_signature":
        thinking["signature"] = "[REDACTED]"
    elif change == "dropped":
        assistant["content"] = assistant["content"][1:]
    server.enqueue(reply("done"))
    status, body = _post(server, _continuation(assistant))
    if change == "none":
        assert status == 200
    else:
        assert status == 400 and body["error"]["type"] == "invalid_request_error"
        assert server.remaining == 1  # the script is not consumed by a rejected request


def test_the_fake_rejects_a_budget_not_below_max_tokens(server):
    status, body = _post(server, {"model": "claude-sonnet-5-5", "max_tokens": 2048,
                                  "thinking": {"type": "enabled", "budget_tokens": 2048}, "messages": [user("x")]})
    assert status == 400 and "max_tokens" in body["error"]["message"]


# -- effort -------------------------------------------------------------------------------------------


def test_effort_is_lowered_to_a_level_the_model_has():
    from claw.api.effort import EFFORT_BETA, effort_for

    four_six = ("low", "medium", "high", "max")
    assert effort_for("xhigh", supported=four_six, known=True) == ("high", (EFFORT_BETA,))
    assert effort_for("max", supported=("low", "medium", "high"), known=True)[0] == "high"
    assert effort_for("medium", supported=four_six, known=True)[0] == "medium"
    assert effort_for("high", supported=(), known=True) == (None, ())  # a model without effort
    assert effort_for("xhigh", supported=(), known=False)[0] == "xhigh"  # unknown: the server judges
    assert effort_for(None, supported=four_six, known=True) == (None, ())


def test_effort_on_the_wire(server, provider_for):
    server.enqueue(reply("a"), reply("b"), reply("c"))
    run(collect(provider_for("claude-opus-4-7"), request(effort="xhigh")))
    run(collect(provider_for("claude-sonnet-4-6"), request(effort="xhigh")))
    run(collect(provider_for("claude-sonnet-4-5"), request(effort="low")))
    first, second, third = (r.json for r in server.requests)
    assert first["output_config"] == {"effort": "xhigh"}
    assert "effort-2025-11-24" in server.requests[0].header("anthropic-beta")
    assert second["output_config"] == {"effort": "high"}
    assert "output_config" not in third and server.requests[2].header("anthropic-beta") is None
