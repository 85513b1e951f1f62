"""Settings for model requests: ``promptCaching`` (a boolean) and ``customHeaders`` (an object of
strings, shown redacted where the name looks like a credential, ignored in an untrusted folder)."""

from __future__ import annotations

from claw.config.models import Settings
from claw.config.redact import REDACTED, redact
from claw.config.schema import clean_settings
from claw.config.sources import SCOPE_FLAG, SettingsSource
from claw.config.trust_gate import gate


def clean(data):
    return clean_settings(data, SettingsSource(SCOPE_FLAG, None, "json", "/tmp"))


def test_prompt_caching_is_a_boolean():
    cleaned, problems = clean({"promptCaching": False})
    assert not problems and Settings.from_clean(cleaned).prompt_caching is False
    cleaned, problems = clean({"promptCaching": "off"})
    assert "promptCaching" not in cleaned and problems and "true or false" in problems[0].message
    assert Settings.from_clean({}).prompt_caching is None  # unset: on


def test_custom_headers_are_strings_and_credential_values_are_shown_redacted():
    cleaned, problems = clean({"customHeaders": {"X-Team": "infra", "X-Api-Token": "tok-123", "X-Port": 8080}})
    assert not problems
    assert Settings.from_clean(cleaned).custom_headers == {"X-Team": "infra", "X-Api-Token": "tok-123",
                                                           "X-Port": "8080"}
    shown = redact(("customHeaders",), cleaned["customHeaders"])
    assert shown == {"X-Team": "infra", "X-Api-Token": REDACTED, "X-Port": "8080"}
    _, problems = clean({"customHeaders": ["X-Team: infra"]})
    assert problems


def test_an_untrusted_project_cannot_set_custom_headers_but_may_turn_caching_off():
    kept, dropped = gate({"customHeaders": {"Authorization": "Bearer theirs"}, "promptCaching": False}, None)
    assert ("customHeaders",) in dropped and "customHeaders" not in kept
    assert kept["promptCaching"] is False
