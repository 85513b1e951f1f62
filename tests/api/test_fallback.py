"""The fallback model (``Provider.fallback``, the 'fall back' action of claw.api.attempts) end to end
against the fake server: when it is tried, what the caller sees, and when it is not."""

from __future__ import annotations

import pytest

from claw.api.types import MessageDone, ModelFallback, RetryScheduled
from claw.errors import ProviderError
from tests.api.helpers import collect, request, run
from tests.fakes.model_server import error, reply


def _with_fallback(provider_for, main="sonnet", fallback="haiku", max_retries=2):
    p = provider_for(main, max_retries=max_retries)
    p.fallback = provider_for(fallback, max_retries=max_retries)
    return p


def test_overloaded_after_its_retries_the_same_request_goes_to_the_fallback(server, provider_for):
    server.enqueue(*[error(529, "overloaded_error", "Overloaded")] * 3, reply("from haiku"))
    evts = run(collect(_with_fallback(provider_for), request(system="sys")))
    assert [type(e).__name__ for e in evts if isinstance(e, (RetryScheduled, ModelFallback))] == [
        "RetryScheduled", "RetryScheduled", "ModelFallback"]
    fell = next(e for e in evts if isinstance(e, ModelFallback))
    assert (fell.original_model, fell.fallback_model, fell.trigger) == (
        "claude-sonnet-5-5", "claude-haiku-5-5", "overloaded")
    assert isinstance(evts[-1], MessageDone) and evts[-1].response.text == "from haiku"
    models = [r.json["model"] for r in server.requests]
    assert models == ["claude-sonnet-5-5"] * 3 + ["claude-haiku-5-5"]
    assert server.requests[-1].json["messages"] == server.requests[0].json["messages"]
    assert server.requests[-1].json["system"] == server.requests[0].json["system"]


def test_a_model_not_found_falls_back_at_once(server, provider_for):
    server.enqueue(error(404, "not_found_error", "model: claude-sonnet-5-5"), reply("here"))
    evts = run(collect(_with_fallback(provider_for), request()))
    fell = [e for e in evts if isinstance(e, ModelFallback)]
    assert len(fell) == 1 and fell[0].trigger == "model_not_found" and fell[0].reason == "404 model not found"
    assert len(server.requests) == 2 and evts[-1].response.text == "here"


def test_the_fallback_is_tried_once_then_its_own_failure_is_raised(server, provider_for):
    server.enqueue(error(404, "not_found_error", "model: a"), error(404, "not_found_error", "model: b"))
    with pytest.raises(ProviderError) as info:
        run(collect(_with_fallback(provider_for), request()))
    assert info.value.status == 404 and len(server.requests) == 2


def test_other_failures_do_not_fall_back(server, provider_for):
    server.enqueue(error(400, "invalid_request_error", "bad"))
    with pytest.raises(ProviderError):
        run(collect(_with_fallback(provider_for), request()))
    assert len(server.requests) == 1


def test_a_request_naming_the_fallback_goes_straight_to_it(server, provider_for):
    server.enqueue(reply("ok"))
    evts = run(collect(_with_fallback(provider_for), request(model="claude-haiku-5-5")))
    assert not [e for e in evts if isinstance(e, ModelFallback)]
    assert [r.json["model"] for r in server.requests] == ["claude-haiku-5-5"]


def test_without_a_fallback_overloaded_gives_up_as_before(server, provider_for):
    server.enqueue(*[error(529, "overloaded_error", "Overloaded")] * 3)
    with pytest.raises(ProviderError) as info:
        run(collect(provider_for("sonnet", max_retries=2), request()))
    assert info.value.kind == "retries_exhausted" and len(server.requests) == 3
