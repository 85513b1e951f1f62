"""Claude on Vertex AI (claw.api.vertex): model ids, regions, endpoints, the request shape, Google's
error shape, and whole streamed requests against a fake Vertex endpoint over HTTPS (a trustme CA) that
checks the bearer token issued by the fake Google token endpoint."""

from __future__ import annotations

import pytest

pytest.importorskip("cryptography")
trustme = pytest.importorskip("trustme")

from claw.api.client import ApiSettings, create_provider, resolve_model  # noqa: E402
from claw.api.registry import lookup, vertex_model_id  # noqa: E402
from claw.api.retry import RetryPolicy  # noqa: E402
from claw.api.types import MessageDone, RetryScheduled, ToolUseStarted  # noqa: E402
from claw.api.vertex import classify_vertex_error, region_variable, vertex_target  # noqa: E402
from claw.errors import ConfigError, ProviderError  # noqa: E402
from claw.net.config import NetConfig  # noqa: E402
from tests.api.helpers import SleepRecorder, collect, request, run  # noqa: E402
from tests.fakes.google_server import GoogleServer, google_error, vertex_check  # noqa: E402
from tests.fakes.model_server import ModelServer, empty, reply, tool_use  # noqa: E402

PROJECT = "proj-123"


# -- names, regions, endpoints ----------------------------------------------------------------------


@pytest.mark.parametrize("name, vertex", [
    ("claude-sonnet-4-5", "claude-sonnet-4-5@20250929"),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5@20250929"),
    ("claude-opus-4-20250514", "claude-opus-4@20250514"),
    ("claude-opus-4-1", "claude-opus-4-1@20250805"),
    ("claude-haiku-4-5", "claude-haiku-4-5@20251001"),
    ("claude-3-5-haiku-20241022", "claude-3-5-haiku@20241022"),
    ("claude-opus-4-6", "claude-opus-4-6"),
    ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5@20250929"),
])
def test_vertex_model_ids(name, vertex):
    assert vertex_model_id(name) == vertex


def test_use_vertex_routes_claude_models_and_aliases_only():
    env = {"CLAUDE_CODE_USE_VERTEX": "1"}
    assert resolve_model("claude-sonnet-4-5", env).qualified == "vertex/claude-sonnet-4-5@20250929"
    sonnet = resolve_model("sonnet", env)
    assert sonnet.provider == "vertex" and sonnet.info.provider == "vertex"
    assert sonnet.info.pricing == lookup(sonnet.model, "anthropic").pricing  # same limits and prices
    assert resolve_model("sonnet", dict(env, ANTHROPIC_DEFAULT_SONNET_MODEL="claude-sonnet-4@20250514")).model \
        == "claude-sonnet-4@20250514"
    assert resolve_model("anthropic/claude-sonnet-4-5", env).provider == "anthropic"
    assert resolve_model("gpt-5", env).provider == "openai"
    assert resolve_model("claude-sonnet-4-5", {}).provider == "anthropic"
    assert resolve_model("vertex/claude-opus-4-1", {}).qualified == "vertex/claude-opus-4-1@20250805"


@pytest.mark.parametrize("model, variable", [
    ("claude-3-5-haiku@20241022", "VERTEX_REGION_CLAUDE_3_5_HAIKU"),
    ("claude-3-7-sonnet@20250219", "VERTEX_REGION_CLAUDE_3_7_SONNET"),
    ("claude-opus-4@20250514", "VERTEX_REGION_CLAUDE_4_0_OPUS"),
    ("claude-sonnet-4@20250514", "VERTEX_REGION_CLAUDE_4_0_SONNET"),
    ("claude-opus-4-1@20250805", "VERTEX_REGION_CLAUDE_4_1_OPUS"),
    ("claude-sonnet-4-5@20250929", "VERTEX_REGION_CLAUDE_4_5_SONNET"),
    ("claude-sonnet-4-6", "VERTEX_REGION_CLAUDE_4_6_SONNET"),
    ("claude-haiku-4-5@20251001", "VERTEX_REGION_CLAUDE_HAIKU_4_5"),
    ("claude-opus-5", "VERTEX_REGION_CLAUDE_5_OPUS"),
    ("my-tuned-model", None),
])
def test_per_model_region_variables(model, variable):
    assert region_variable(model) == variable


def test_targets_regions_and_base_urls():
    env = {"ANTHROPIC_VERTEX_PROJECT_ID": "p1"}
    t = vertex_target(env, "claude-sonnet-4-5@20250929")
    assert (t.region, t.region_source) == ("us-east5", "default (CLOUD_ML_REGION unset)")
    assert t.endpoint("claude-sonnet-4-5@20250929") == (
        "https://us-east5-aiplatform.googleapis.com/v1/projects/p1/locations/us-east5/publishers/anthropic/"
        "models/claude-sonnet-4-5@20250929:streamRawPredict")
    g = vertex_target(dict(env, CLOUD_ML_REGION="global"), "claude-sonnet-4-5@20250929")
    assert g.base_url == "https://aiplatform.googleapis.com/v1" and g.region == "global"
    o = vertex_target(dict(env, CLOUD_ML_REGION="global", VERTEX_REGION_CLAUDE_HAIKU_4_5="europe-west1"),
                      "claude-haiku-4-5@20251001")
    assert (o.region, o.region_source) == ("europe-west1", "VERTEX_REGION_CLAUDE_HAIKU_4_5")
    assert o.base_url == "https://europe-west1-aiplatform.googleapis.com/v1"
    gw = vertex_target(dict(env, ANTHROPIC_VERTEX_BASE_URL="https://gw.example:8443/"), "m")
    assert gw.base_url == "https://gw.example:8443/v1"
    gw2 = vertex_target(dict(env, ANTHROPIC_VERTEX_BASE_URL="https://gw.example/vertex_ai/v1"), "m")
    assert gw2.base_url == "https://gw.example/vertex_ai/v1" and gw2.base_source == "ANTHROPIC_VERTEX_BASE_URL"
    with pytest.raises(ConfigError, match="not a Google Cloud region"):
        vertex_target(dict(env, CLOUD_ML_REGION="evil.example/x"), "m")
    with pytest.raises(ConfigError, match="needs a Google Cloud project") as caught:
        vertex_target({"HOME": "/nonexistent"}, "m")
    assert "ANTHROPIC_VERTEX_PROJECT_ID" in caught.value.hint


def test_project_precedence(tmp_path):
    config = tmp_path / "gcloud"
    (config / "configurations").mkdir(parents=True)
    (config / "active_config").write_text("work\n")
    (config / "configurations" / "config_work").write_text("[core]\nproject = from-gcloud\n")
    env = {"CLOUDSDK_CONFIG": str(config)}
    assert vertex_target(env, "m").project_source == "gcloud config (core/project)"
    assert vertex_target(dict(env, GOOGLE_CLOUD_PROJECT="g"), "m").project == "g"
    assert vertex_target(dict(env, GOOGLE_CLOUD_PROJECT="g", ANTHROPIC_VERTEX_PROJECT_ID="a"), "m").project == "a"


# -- errors ----------------------------------------------------------------------------------------


def _google(status, code, message, request_id="goog-req-1"):
    import json

    return json.dumps({"error": {"code": status, "message": message, "status": code, "details": [
        {"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": request_id}]}}).encode()


class _Auth:
    source = "service account a@b.iam.gserviceaccount.com from GOOGLE_APPLICATION_CREDENTIALS (/k.json)"


def test_google_error_shapes_map_to_failure_classes():
    target = vertex_target({"ANTHROPIC_VERTEX_PROJECT_ID": "p1"}, "m")
    quota = classify_vertex_error(429, _google(429, "RESOURCE_EXHAUSTED", "Quota exceeded for aiplatform"),
                                  target=target)
    assert (quota.failure_class, quota.kind, quota.retryable, quota.request_id) == \
        ("provider_overloaded", "overloaded", True, "goog-req-1")
    denied = classify_vertex_error(403, _google(403, "PERMISSION_DENIED", "Permission denied on resource"),
                                   headers=[("x-request-id", "hdr-1")], auth=_Auth(), target=target)
    assert denied.failure_class == "provider_auth" and denied.request_id == "hdr-1"
    assert "a@b.iam.gserviceaccount.com" in denied.hint and "p1" in denied.hint and "aiplatform.user" in denied.hint
    expired = classify_vertex_error(401, _google(401, "UNAUTHENTICATED", "invalid credentials"), auth=_Auth())
    assert expired.failure_class == "provider_auth" and "GOOGLE_APPLICATION_CREDENTIALS" in expired.hint
    missing = classify_vertex_error(404, _google(404, "NOT_FOUND", "Publisher Model x not found"), target=target,
                                    model="claude-x@1")
    assert missing.kind == "not_found" and "model not found" in missing.message and "us-east5" in missing.hint
    long = classify_vertex_error(400, _google(400, "INVALID_ARGUMENT", "prompt is too long: 300000 tokens > 200000 maximum"))
    assert long.failure_class == "context_window"
    anthropic = classify_vertex_error(529, b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}')
    assert anthropic.failure_class == "provider_overloaded" and "Vertex AI" in anthropic.message


# -- against the fakes -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, ca.issue_cert("localhost", "127.0.0.1"), str(path)


@pytest.fixture
def google():
    with GoogleServer() as srv:
        yield srv


@pytest.fixture
def vertex(tls, google):
    with ModelServer(tls=tls[1], handler=vertex_check(google, PROJECT, "us-east5")) as srv:
        yield srv


@pytest.fixture
def make(tls, google, vertex, tmp_path):
    sa, _ = google.service_account_file(tmp_path / "sa.json", project=PROJECT)
    sleeps = SleepRecorder()

    def build(model="claude-sonnet-4-5", **extra):
        env = {"CLAUDE_CODE_USE_VERTEX": "1", "GOOGLE_APPLICATION_CREDENTIALS": str(sa),
               "ANTHROPIC_VERTEX_BASE_URL": f"https://localhost:{vertex.port}", "HOME": str(tmp_path)}
        env.update(extra)
        net = NetConfig.from_env(env, ca_files=[tls[2]], connect_timeout=5, read_timeout=10)
        retry = RetryPolicy(max_retries=3, sleep=sleeps, rng=lambda: 0.0)
        return create_provider(model, env=env, net_config=net, retry=retry,
                               settings=ApiSettings(api_timeout=10.0, max_retries=3))

    build.sleeps = sleeps
    return build


def test_streamed_tool_use_through_the_fake_vertex(make, vertex, google):
    vertex.enqueue(reply("Reading it.", tool_uses=[tool_use("read_file", {"path": "a.txt"}, id="toolu_1")]))
    p = make()
    evts = run(collect(p, request(system="be brief")))
    response = evts[-1].response
    assert isinstance(evts[-1], MessageDone) and response.stop_reason == "tool_use"
    assert any(isinstance(e, ToolUseStarted) for e in evts)
    (rec,) = vertex.requests
    assert rec.path == (f"/v1/projects/{PROJECT}/locations/us-east5/publishers/anthropic/models/"
                        "claude-sonnet-4-5@20250929:streamRawPredict")
    assert google.valid(rec.header("authorization")[7:])
    assert rec.header("anthropic-version") is None
    assert rec.json["anthropic_version"] == "vertex-2023-10-16" and "model" not in rec.json
    assert rec.json["stream"] is True and rec.json["system"]


def test_resource_exhausted_is_retried_as_overloaded(make, vertex):
    vertex.enqueue(google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded"), reply("ok"))
    p = make()
    evts = run(collect(p, request()))
    retries = [e for e in evts if isinstance(e, RetryScheduled)]
    assert len(retries) == 1 and retries[0].failure_class == "provider_overloaded" and retries[0].status == 429
    assert evts[-1].response.text == "ok"


def test_a_rejected_token_is_refreshed_once(make, vertex, google):
    vertex.enqueue(reply("first"), reply("second"))
    p = make()

    async def two():
        out = []
        for _ in range(2):
            async for ev in p.stream(request()):
                if isinstance(ev, MessageDone):
                    out.append(ev.response.text)
            google.revoke_all()  # the token is rejected from now on
        await p.aclose()
        return out

    assert run(two()) == ["first", "second"]
    assert len(google.grants()) == 2
    assert [r.header("authorization") == vertex.requests[0].header("authorization") for r in vertex.requests] \
        == [True, True, False]  # the 401, then the resend with the new token


def test_permission_denied_names_the_credential_source(make, vertex):
    vertex.enqueue(dict(google_error(403, "PERMISSION_DENIED", "Permission 'aiplatform.endpoints.predict' denied"),
                        request_id="req-vertex-403"))
    with pytest.raises(ProviderError) as caught:
        run(collect(make(), request()))
    err = caught.value
    assert err.failure_class == "provider_auth" and err.status == 403
    assert err.request_id == "req-vertex-403"  # the header; the body's RequestInfo when there is none
    assert "claw-test@proj-123.iam.gserviceaccount.com" in err.hint and "sa.json" in err.hint


def test_unknown_model_is_model_not_found(tls, google, tmp_path):
    with ModelServer(tls=tls[1], handler=vertex_check(google, PROJECT, "us-east5", models=["claude-sonnet-4-5@20250929"])) as srv:
        sa, _ = google.service_account_file(tmp_path / "sa.json", project=PROJECT)
        env = {"GOOGLE_APPLICATION_CREDENTIALS": str(sa), "ANTHROPIC_VERTEX_BASE_URL": srv.url}
        net = NetConfig.from_env(env, ca_files=[tls[2]])
        p = create_provider("vertex/claude-opus-4-1", env=env, net_config=net,
                            retry=RetryPolicy(max_retries=0))
        with pytest.raises(ProviderError) as caught:
            run(collect(p, request()))
    err = caught.value
    assert err.status == 404 and "model not found" in err.message and "claude-opus-4-1@20250805" in err.hint


def test_resend_without_streaming_uses_raw_predict(make, vertex):
    vertex.enqueue(empty(), reply("whole"))
    evts = run(collect(make(), request()))
    assert evts[-1].response.text == "whole"
    assert vertex.requests[1].path.endswith(":rawPredict") and "stream" not in vertex.requests[1].json


def test_skip_auth_sends_no_authorization(tls, vertex, tmp_path):
    vertex.handler = vertex_check(None, PROJECT, "europe-west1")
    vertex.enqueue(reply("via gateway"))
    env = {"CLAUDE_CODE_USE_VERTEX": "1", "CLAUDE_CODE_SKIP_VERTEX_AUTH": "1", "CLOUD_ML_REGION": "europe-west1",
           "ANTHROPIC_VERTEX_PROJECT_ID": PROJECT, "ANTHROPIC_VERTEX_BASE_URL": vertex.url, "HOME": str(tmp_path)}
    p = create_provider("sonnet", env=env, net_config=NetConfig.from_env(env, ca_files=[tls[2]]))
    assert run(collect(p, request()))[-1].response.text == "via gateway"
    assert vertex.requests[0].header("authorization") is None
