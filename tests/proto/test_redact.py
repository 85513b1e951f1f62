"""Tests for claw.redact: one test per rule, the object walk, the environment rules, and that
ordinary text passes through unchanged."""

from __future__ import annotations

import pytest

import claw.redact as redact_module
from claw.redact import MARK, Redactor, is_secret_env_name, is_secret_key

KEY = "sk-ant-api03-Zx9_yW8-vU7tS6rQ5pO4nM3lK2jI1hG0fE"


def test_registered_exact_secrets_are_removed_everywhere():
    r = Redactor()
    r.add_secret("p4ss-w0rd-value")
    assert r.redact_text("a p4ss-w0rd-value b p4ss-w0rd-value") == f"a {MARK} b {MARK}"
    assert r.redact_text("nothing here") == "nothing here"


def test_longer_secret_first_and_short_values_ignored():
    r = Redactor(["abcd1234", "abcd1234efgh5678"])
    assert r.redact_text("x abcd1234efgh5678 y abcd1234") == f"x {MARK} y {MARK}"
    r.add_secret("abc")  # too short to redact safely
    r.add_secret("")
    r.add_secret(None)
    assert r.redact_text("abc") == "abc"
    assert r.secrets_count == 2


def test_anthropic_and_other_api_keys():
    r = Redactor()
    assert r.redact_text(f"key={KEY}.") == f"key={MARK}."
    assert KEY not in r.redact_text(f"using {KEY} now")
    assert r.redact_text("sk-proj-" + "a" * 40) == MARK
    assert r.redact_text("xai-" + "B" * 30) == MARK
    assert r.redact_text("a task-list and sk-short") == "a task-list and sk-short"


def test_bearer_tokens():
    r = Redactor()
    assert r.redact_text("Bearer eyJhbGciOi.J9eyJzdWIi.Ok-_x=") == f"Bearer {MARK}"
    assert r.redact_text("got BEARER abc/def+ghi== ok") == f"got BEARER {MARK} ok"
    assert r.redact_text("the bearer of bad news") == f"the bearer {MARK} bad news"  # over-eager, safe


@pytest.mark.parametrize(
    "text, expected",
    [
        ("x-api-key: abc123", f"x-api-key: {MARK}"),
        ("X-Api-Key: abc123\r\nHost: h", f"X-Api-Key: {MARK}\r\nHost: h"),
        ("Authorization: Basic dXNlcjpwYXNz", f"Authorization: {MARK}"),
        ("Proxy-Authorization: Basic Ym9iOnNlY3JldA==", f"Proxy-Authorization: {MARK}"),
        ("Cookie: session=abc; other=def\nnext", f"Cookie: {MARK}\nnext"),
        ("set-cookie: sid=1; HttpOnly", f"set-cookie: {MARK}"),
        ('{"x-api-key": "abc", "other": 1}', f'{{"x-api-key": "{MARK}", "other": 1}}'),
        ("{'authorization': 'Bearer t'}", f"{{'authorization': '{MARK}'}}"),
        ("x_api_key=abc&y=2", f"x_api_key={MARK}&y=2"),
    ],
)
def test_secret_headers_in_text(text, expected):
    assert Redactor().redact_text(text) == expected


def test_url_credentials():
    r = Redactor()
    assert r.redact_text("proxy http://bob:s3cret@proxy.corp:3128/") == f"proxy http://{MARK}@proxy.corp:3128/"
    assert r.redact_text("https://ghp_tok@github.com/o/r.git") == f"https://{MARK}@github.com/o/r.git"
    assert r.redact_text("https://user:@host") == f"https://{MARK}@host"
    assert r.redact_text("https://example.com/a@b and me@example.com") == (
        "https://example.com/a@b and me@example.com"
    )


def test_env_assignments_in_text():
    r = Redactor()
    assert r.redact_text("export GH_TOKEN=ghp_abc123") == f"export GH_TOKEN={MARK}"
    assert r.redact_text('ANTHROPIC_API_KEY="x y"') == f"ANTHROPIC_API_KEY={MARK}"
    assert r.redact_text("DB_PASSWORD = hunter2") == f"DB_PASSWORD = {MARK}"
    assert r.redact_text("MY_CLIENT_SECRET=s") == f"MY_CLIENT_SECRET={MARK}"
    assert r.redact_text("MAX_TOKENS=5 and NOTATOKEN") == "MAX_TOKENS=5 and NOTATOKEN"


def test_env_names():
    for name in ["ANTHROPIC_API_KEY", "API_KEY", "anthropic_auth_token", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY",
                 "PGPASSWORD", "SMTP_PASSWD", "client_secret"]:
        assert is_secret_env_name(name), name
    for name in ["PATH", "HOME", "MAX_TOKENS", "ANTHROPIC_BASE_URL", "TOKENIZER"]:
        assert not is_secret_env_name(name), name


def test_from_env_registers_secret_values_and_proxy_credentials():
    env = {
        "ANTHROPIC_API_KEY": "key-value-123456",
        "MY_SERVICE_TOKEN": "tok-value-123456",
        "SHORT_TOKEN": "abc",  # too short to be redacted everywhere
        "HTTPS_PROXY": "http://alice:pa%24%24word9@proxy:8080",
        "PATH": "/usr/local/bin:/usr/bin",
    }
    r = Redactor.from_env(env)
    out = r.redact_text("key-value-123456 tok-value-123456 pa$$word9 pa%24%24word9 alice /usr/bin abc")
    assert out == f"{MARK} {MARK} {MARK} {MARK} {MARK} /usr/bin abc"


def test_secret_keys():
    for key in ["x-api-key", "Authorization", "apiKey", "api_key", "access_token", "refreshToken",
                "client_secret", "password", "token", "ANTHROPIC_API_KEY", "Cookie"]:
        assert is_secret_key(key), key
    for key in ["input_tokens", "output_tokens", "max_tokens", "type", "content", "author"]:
        assert not is_secret_key(key), key


def test_redact_obj_deep_copies_and_redacts():
    r = Redactor([KEY])
    record = {
        "type": "request",
        "headers": {"x-api-key": "anything", "content-type": "application/json", "authorization": "Bearer x"},
        "usage": {"input_tokens": 12, "output_tokens": 3},
        "oauth": {"accessToken": "at-1", "refreshToken": "rt-1", "expiresAt": 123},
        "env": {"GITHUB_TOKEN": "ghp_1", "HOME": "/root"},
        "messages": [{"role": "user", "content": f"my key is {KEY}"}, ("tuple", "Bearer abc")],
        "n": None,
        "flag": True,
        "token": 5,
    }
    out = r.redact_obj(record)
    assert out["headers"] == {"x-api-key": MARK, "content-type": "application/json", "authorization": MARK}
    assert out["usage"] == {"input_tokens": 12, "output_tokens": 3}
    assert out["oauth"] == {"accessToken": MARK, "refreshToken": MARK, "expiresAt": 123}
    assert out["env"] == {"GITHUB_TOKEN": MARK, "HOME": "/root"}
    assert out["messages"] == [{"role": "user", "content": f"my key is {MARK}"}, ["tuple", f"Bearer {MARK}"]]
    assert out["n"] is None and out["flag"] is True and out["token"] == 5
    # The input is untouched and shares no containers with the output.
    assert record["headers"]["x-api-key"] == "anything"
    assert out["messages"][0] is not record["messages"][0]


def test_ordinary_text_is_unchanged():
    r = Redactor(["registered-secret"])
    text = (
        "def f(x):\n    return {'a': 1, 'b': x}  # see https://docs.python.org/3/ and email me@x.org\n"
        "Tokens used: 1234; the author wrote: keys are cached.\n"
    )
    assert r.redact_text(text) == text
    assert r.redact_obj({"content": text}) == {"content": text}


def test_module_level_functions_use_the_environment(monkeypatch):
    monkeypatch.setattr(redact_module, "_default", None)
    monkeypatch.setenv("CLAW_TEST_API_KEY", "env-secret-value-42")
    try:
        assert redact_module.redact_text("x env-secret-value-42") == f"x {MARK}"
        assert redact_module.redact_obj(["env-secret-value-42"]) == [MARK]
    finally:
        redact_module._default = None


@pytest.mark.parametrize("text,shown", [
    ("proxy http://jdoe:hunter2@proxy.corp:3128 (from HTTPS_PROXY)", "proxy http://jdoe:***@proxy.corp:3128 (from HTTPS_PROXY)"),
    ("http://user:@proxy:3128", "http://user:***@proxy:3128"),
    ("http://:secret@proxy", "http://:***@proxy"),
    ("http://user@proxy:3128", "http://user@proxy:3128"),
    ("no url here", "no url here"),
])
def test_display_form_of_url_credentials_keeps_the_user_name(text, shown):
    assert redact_module.hide_url_password(text) == shown
