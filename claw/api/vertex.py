"""Claude on Google Vertex AI: ``POST …/publishers/anthropic/models/{model}:streamRawPredict``.

Chosen with ``CLAUDE_CODE_USE_VERTEX=1`` (Claude models then go to Vertex; claw.api.client) or a
``vertex/`` model prefix. Where requests go (``vertex_target``):
  - project: ``ANTHROPIC_VERTEX_PROJECT_ID``, else ``GCLOUD_PROJECT`` / ``GOOGLE_CLOUD_PROJECT``, else
    the credential file's ``project_id`` / ``quota_project_id``, else gcloud's configured project;
  - region: the model's ``VERTEX_REGION_CLAUDE_…`` variable (``region_variable``), else
    ``CLOUD_ML_REGION``, else ``us-east5``;
  - base URL: ``ANTHROPIC_VERTEX_BASE_URL`` (a gateway; a URL without a path gets ``/v1``), else
    ``https://{region}-aiplatform.googleapis.com/v1`` (``https://aiplatform.googleapis.com/v1`` for
    the ``global`` region).
The body is the Anthropic Messages body without ``model`` (it is in the URL) and with
``anthropic_version: vertex-2023-10-16`` (instead of the header); the answer is the Anthropic SSE
stream, handled by the shared engine. The resend without streaming uses ``:rawPredict``.

Errors: Google's shape ``{"error": {"code", "message", "status", "details"}}`` is classified here
(``classify_vertex_error``): 429 / RESOURCE_EXHAUSTED and 503 / UNAVAILABLE are ``provider_overloaded``
(retried, then the fallback model), 401 / 403 are ``provider_auth`` with a hint naming the credential
source, 404 is "model not found" (which also triggers the fallback); the request id comes from the
``request-id``/``x-request-id`` header or the error's ``google.rpc.RequestInfo`` detail. Anthropic-shaped
errors (the model's own, passed through by Vertex) keep the Anthropic classification.

Credentials are claw.auth.gcp_auth's; nothing here reads files other than through it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import quote

from claw.api.anthropic import AnthropicProvider
from claw.api.failures import (
    _one_line,
    classify_http_error,
    context_window_error,
    is_context_window_message,
)
from claw.api.provider import request_id_of
from claw.api.registry import anthropic_model_id
from claw.api.types import ModelRequest
from claw.errors import ClawError, ConfigError, ProviderError

VERTEX_VERSION = "vertex-2023-10-16"
DEFAULT_REGION = "us-east5"
USE_VARIABLE = "CLAUDE_CODE_USE_VERTEX"
PROJECT_VARIABLES = ("ANTHROPIC_VERTEX_PROJECT_ID", "GCLOUD_PROJECT", "GOOGLE_CLOUD_PROJECT")
LABEL = "Vertex AI"

_REGION = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_LEGACY = re.compile(r"^claude-(\d+)-(\d+)-(opus|sonnet|haiku)$")
_MODERN = re.compile(r"^claude-(opus|sonnet|haiku)-(\d+)(?:-(\d+))?$")


def region_variable(model: str) -> Optional[str]:
    """The per-model region variable Claude Code reads for ``model`` (Vertex or Anthropic id):
    ``VERTEX_REGION_CLAUDE_3_5_HAIKU``, ``…_4_0_OPUS`` (Claude Opus 4), ``…_4_5_SONNET``,
    ``…_HAIKU_4_5``, ``…_5_OPUS``; None for a name that is not a Claude model's."""
    name = anthropic_model_id(model)
    base, _, date = name.rpartition("-")
    if base and len(date) == 8 and date.isdigit():
        name = base
    legacy = _LEGACY.match(name)
    if legacy:
        major, minor, family = legacy.groups()
        return f"VERTEX_REGION_CLAUDE_{major}_{minor}_{family.upper()}"
    modern = _MODERN.match(name)
    if not modern:
        return None
    family, major, minor = modern.groups()
    if family == "haiku" and (major, minor) == ("4", "5"):
        return "VERTEX_REGION_CLAUDE_HAIKU_4_5"
    version = f"{major}_{minor}" if minor is not None else ("4_0" if major == "4" else major)
    return f"VERTEX_REGION_CLAUDE_{version}_{family.upper()}"


@dataclass(frozen=True)
class VertexTarget:
    """Where Vertex requests for one model go, and where each part came from."""

    project: str
    project_source: str
    region: str
    region_source: str
    base_url: str
    base_source: str

    def endpoint(self, model: str, *, streaming: bool = True) -> str:
        method = "streamRawPredict" if streaming else "rawPredict"
        return (f"{self.base_url}/projects/{quote(self.project, safe=':.')}/locations/{quote(self.region)}"
                f"/publishers/anthropic/models/{quote(model, safe='@')}:{method}")


def vertex_region(env: Mapping[str, str], model: str) -> Tuple[str, str]:
    """``(region, source)``; ConfigError for a value that is not a region name."""
    variable = region_variable(model)
    for name in ((variable,) if variable else ()) + ("CLOUD_ML_REGION",):
        value = (env.get(name) or "").strip()
        if value:
            if not _REGION.match(value):
                raise ConfigError(f"{name}={value!r} is not a Google Cloud region",
                                  hint=f"set {name} to e.g. us-east5, europe-west1 or global")
            return value, name
    return DEFAULT_REGION, "default (CLOUD_ML_REGION unset)"


def vertex_base_url(env: Mapping[str, str], region: str) -> Tuple[str, str]:
    """``(base URL, source)``: ANTHROPIC_VERTEX_BASE_URL or the region's aiplatform host, with ``/v1``."""
    raw = (env.get("ANTHROPIC_VERTEX_BASE_URL") or "").strip()
    if not raw:
        host = "aiplatform.googleapis.com" if region == "global" else f"{region}-aiplatform.googleapis.com"
        return f"https://{host}/v1", f"region {region}"
    from claw.net.url import parse_url

    url = raw.rstrip("/")
    hint = "set ANTHROPIC_VERTEX_BASE_URL to e.g. https://gateway.example/vertex/v1"
    try:
        parsed = parse_url(url)
    except ValueError as exc:
        raise ConfigError(f"ANTHROPIC_VERTEX_BASE_URL is not a usable URL: {exc}", hint=hint) from None
    if parsed.scheme not in ("http", "https"):
        raise ConfigError(f"ANTHROPIC_VERTEX_BASE_URL must be an http:// or https:// URL, not {parsed.scheme}://",
                          hint=hint)
    if url.count("/") == 2:  # scheme://host[:port] only: the API's path is /v1
        url += "/v1"
    return url, "ANTHROPIC_VERTEX_BASE_URL"


def vertex_project(env: Mapping[str, str], auth: Any = None) -> Tuple[str, str]:
    """``(project, source)``; ConfigError when no source names one."""
    for name in PROJECT_VARIABLES:
        value = (env.get(name) or "").strip()
        if value:
            return value, name
    file = getattr(auth, "file", None)
    if file is not None:
        for value, what in ((file.project_id, "project_id"), (file.quota_project_id, "quota_project_id")):
            if value:
                return value, f"{what} in {file.path}"
    from claw.auth.gcp_adc import gcloud_project

    value = gcloud_project(env)
    if value:
        return value, "gcloud config (core/project)"
    raise ConfigError("Vertex AI needs a Google Cloud project and none is set",
                      hint="set ANTHROPIC_VERTEX_PROJECT_ID to the project whose Vertex AI serves Claude")


def vertex_target(env: Mapping[str, str], model: str, auth: Any = None) -> VertexTarget:
    project, project_source = vertex_project(env, auth)
    region, region_source = vertex_region(env, model)
    base, base_source = vertex_base_url(env, region)
    return VertexTarget(project, project_source, region, region_source, base, base_source)


class VertexProvider(AnthropicProvider):
    """The Anthropic wire format, addressed and authenticated the Vertex way."""

    name = "vertex"
    label = LABEL

    def __init__(self, *, target: VertexTarget, **kwargs: Any) -> None:
        super().__init__(base_url=target.base_url, **kwargs)
        self.target = target

    def endpoint(self, streaming: bool = True) -> str:  # type: ignore[override]
        return self.target.endpoint(self.model.id, streaming=streaming)

    def build_body(self, request: ModelRequest, *, max_tokens: int, stream: bool) -> Dict[str, Any]:
        body = super().build_body(request, max_tokens=max_tokens, stream=stream)
        body.pop("model", None)
        return {"anthropic_version": VERTEX_VERSION, **body}

    async def build_headers(self, request: ModelRequest, streaming: bool) -> List[Tuple[str, str]]:
        headers = await super().build_headers(request, streaming)
        return [(k, v) for k, v in headers if k.lower() != "anthropic-version"]

    def request_url(self, streaming: bool) -> str:
        return self.endpoint(streaming)

    def http_error(self, status: int, body: bytes, headers: Any, request_id: Optional[str]) -> ClawError:
        return classify_vertex_error(status, body, headers=headers, auth=self.auth, target=self.target,
                                     model=self.model.id)


_GOOGLE_STATUS = {
    # google.rpc status -> (kind, failure_class)
    "RESOURCE_EXHAUSTED": ("overloaded", "provider_overloaded"),
    "UNAVAILABLE": ("overloaded", "provider_overloaded"),
    "UNAUTHENTICATED": ("authentication_error", "provider_auth"),
    "PERMISSION_DENIED": ("permission_error", "provider_auth"),
    "NOT_FOUND": ("not_found", "provider_error"),
    "INVALID_ARGUMENT": ("invalid_request", "provider_error"),
    "FAILED_PRECONDITION": ("invalid_request", "provider_error"),
    "OUT_OF_RANGE": ("invalid_request", "provider_error"),
    "DEADLINE_EXCEEDED": ("timeout", "provider_transport"),
    "INTERNAL": ("api_error", "provider_internal"),
}
_BY_CODE = {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
            404: "NOT_FOUND", 400: "INVALID_ARGUMENT", 504: "DEADLINE_EXCEEDED", 500: "INTERNAL"}


def google_error(body: bytes) -> Optional[Tuple[str, str, Optional[str]]]:
    """``(status, message, request id)`` of a Google API error body, or None for any other shape."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if isinstance(data, list) and data and isinstance(data[0], dict):  # some endpoints wrap it in a list
        data = data[0]
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict) or data.get("type") == "error" or "type" in err:
        return None
    status = err.get("status")
    code = err.get("code")
    if not isinstance(status, str) and not isinstance(code, int):
        return None
    if not isinstance(status, str):
        status = _BY_CODE.get(code, "") if isinstance(code, int) else ""
    message = err.get("message") if isinstance(err.get("message"), str) else ""
    request_id = None
    for detail in err.get("details") or ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RequestInfo"):
            rid = detail.get("requestId")
            request_id = rid if isinstance(rid, str) and rid else None
    return status, _one_line(message), request_id


def classify_vertex_error(status: int, body: bytes, *, headers: Any = (), auth: Any = None,
                          target: Optional[VertexTarget] = None, model: str = "") -> ProviderError:
    """The ProviderError for an HTTP error from Vertex AI (Google's shape or Anthropic's)."""
    request_id = request_id_of(list(headers))
    parsed = google_error(body)
    if parsed is None:
        error = classify_http_error(status, body, headers=headers, request_id=request_id, provider=LABEL)
    else:
        gstatus, message, body_request_id = parsed
        request_id = request_id or body_request_id
        if status in (400, 413) and is_context_window_message(message):
            return context_window_error(f"{LABEL} says the prompt is too long ({status}): {message}",
                                        request_id=request_id, status=status)
        kind, failure_class = _GOOGLE_STATUS.get(gstatus) or _GOOGLE_STATUS.get(_BY_CODE.get(status, ""), (
            ("api_error", "provider_internal") if status >= 500 else ("http_error", "provider_error")))
        reason = {"provider_overloaded": "overloaded", "provider_auth": "credentials refused"}.get(failure_class)
        if kind == "not_found":
            reason = "model not found"
        label = f"{status} {gstatus}".strip()
        text = f"{LABEL} returned {label}" + (f" ({reason})" if reason else "") + f": {message or 'no message'}"
        from claw.api.failures import HINTS

        error = ProviderError(text, hint=HINTS.get(failure_class), kind=kind, failure_class=failure_class,
                              request_id=request_id, status=status,
                              retryable=failure_class in ("provider_overloaded", "provider_internal",
                                                          "provider_transport"))
    source = getattr(auth, "source", None) or (auth.describe() if auth is not None else "none")
    if error.failure_class == "provider_auth" and status in (401, 403):
        where = f" on project {target.project}" if target is not None else ""
        error.hint = (f"the credentials in use are {source}: " + (
            "the token was rejected; check that they are current (gcloud auth application-default login) "
            "or point GOOGLE_APPLICATION_CREDENTIALS at a valid key" if status == 401 else
            f"the account lacks access{where}; it needs the Vertex AI User role (roles/aiplatform.user) "
            "and the Claude model enabled in Model Garden"))
    elif status == 404 and error.kind == "not_found":
        if "model" not in error.message.lower():
            error.message += f" (model {model})"
        where = f" in region {target.region} ({target.region_source}) of project {target.project}" if target else ""
        error.hint = (f"Vertex AI does not serve {model or 'this model'}{where}: check the model id (Vertex ids "
                      "look like claude-sonnet-4-5@20250929), that it is enabled in Model Garden, and the region "
                      "(CLOUD_ML_REGION or the model's VERTEX_REGION_CLAUDE_… variable)")
    return error


def create_vertex_provider(env: Mapping[str, str], settings: Any, *, auth: Any = None, model: Any,
                           net_config: Any = None, http: Any = None, **common: Any) -> VertexProvider:
    """The provider for a resolved Vertex model (claw.api.client.create_provider's ``vertex`` branch):
    Google credentials (claw.auth.gcp_auth) unless ``auth`` is given, the target, prompt caching and
    the Anthropic extra headers and betas (Vertex passes ``anthropic-beta`` on)."""
    if auth is None:
        from claw.auth.gcp_auth import google_auth

        auth = google_auth(env, net_config=net_config, http=http)
    target = vertex_target(env, model.id, auth)
    provider = VertexProvider(target=target, auth=auth, model=model, net_config=net_config, http=http, **common)
    provider.prompt_caching = settings.prompt_caching
    provider.extra_headers, provider.extra_betas = settings.anthropic_headers, settings.betas
    return provider
