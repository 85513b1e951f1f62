"""The AWS shared files, ``~/.aws/credentials`` and ``~/.aws/config``, read as the AWS CLI reads them.

``load_profile(env)`` returns the ``AwsProfile`` named by ``AWS_PROFILE`` (else ``default``) merged from
both files (the credentials file wins for keys both give): static keys (``aws_access_key_id``,
``aws_secret_access_key``, ``aws_session_token``), ``credential_process``, ``region`` and the names
of settings claw does not act on (``role_arn``, ``sso_session``/``sso_start_url``, ``web_identity_token_file``),
so the caller can say so instead of silently skipping the profile. File locations:
``AWS_SHARED_CREDENTIALS_FILE`` / ``AWS_CONFIG_FILE``, else ``~/.aws/credentials`` / ``~/.aws/config``
(``~`` from ``HOME`` in the given environment). In the config file a profile is ``[profile NAME]``
(``[default]`` or ``[profile default]`` for the default); in the credentials file it is ``[NAME]``.

Deliberately not here: running ``credential_process`` or any network call (claw.auth.aws), writing
the files, SSO token caches, role assumption.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Tuple

from claw.errors import ConfigError

UNSUPPORTED_KEYS = ("role_arn", "sso_session", "sso_start_url", "sso_account_id", "web_identity_token_file",
                    "source_profile", "login_session")


@dataclass(frozen=True)
class AwsProfile:
    """One profile of the shared files. ``repr`` hides the secret parts."""

    name: str
    explicit: bool  # named by AWS_PROFILE (a missing profile is then an error)
    found: bool
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)
    session_token: str = field(default="", repr=False)
    credential_process: str = ""
    region: str = ""
    unsupported: Tuple[str, ...] = ()  # settings present that claw does not act on
    files: Tuple[str, ...] = ()  # the files the profile was read from

    @property
    def has_keys(self) -> bool:
        return bool(self.access_key_id and self.secret_access_key)


def paths(env: Mapping[str, str]) -> Tuple[str, str]:
    """(credentials file, config file)."""
    home = (env.get("HOME") or "").strip() or os.path.expanduser("~")
    creds = (env.get("AWS_SHARED_CREDENTIALS_FILE") or "").strip() or os.path.join(home, ".aws", "credentials")
    config = (env.get("AWS_CONFIG_FILE") or "").strip() or os.path.join(home, ".aws", "config")
    return _expand(creds, home), _expand(config, home)


def profile_name(env: Mapping[str, str]) -> Tuple[str, bool]:
    """(the profile to use, whether the environment named it)."""
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        value = (env.get(var) or "").strip()
        if value:
            return value, True
    return "default", False


def load_profile(env: Mapping[str, str], name: Optional[str] = None) -> AwsProfile:
    """The profile (``name`` or the environment's); raises ConfigError for a file that does not parse."""
    explicit = name is not None
    if name is None:
        name, explicit = profile_name(env)
    creds_path, config_path = paths(env)
    from_creds = _section(creds_path, name, config_file=False)
    from_config = _section(config_path, name, config_file=True)
    merged: Dict[str, str] = dict(from_config or {})
    merged.update(from_creds or {})
    files = tuple(p for p, s in ((creds_path, from_creds), (config_path, from_config)) if s is not None)
    return AwsProfile(
        name=name, explicit=explicit, found=bool(files),
        access_key_id=merged.get("aws_access_key_id", "").strip(),
        secret_access_key=merged.get("aws_secret_access_key", "").strip(),
        session_token=(merged.get("aws_session_token") or merged.get("aws_security_token") or "").strip(),
        credential_process=merged.get("credential_process", "").strip(),
        region=merged.get("region", "").strip(),
        unsupported=tuple(k for k in UNSUPPORTED_KEYS if merged.get(k, "").strip()),
        files=files,
    )


def _section(path: str, name: str, *, config_file: bool) -> Optional[Dict[str, str]]:
    if not os.path.isfile(path):
        return None
    parser = configparser.RawConfigParser(default_section="\x00none", strict=False, interpolation=None)
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"cannot read the AWS file {path}: {first}",
                          hint="fix the file (INI format: [profile-name] sections of key = value lines)") from None
    candidates = [name]
    if config_file:
        candidates = [f"profile {name}"] + ([name] if name == "default" else [])
    for section in candidates:
        if parser.has_section(section):
            return {k.lower(): v for k, v in parser.items(section)}
    return None


def _expand(path: str, home: str) -> str:
    if path == "~" or path.startswith("~/"):
        return home + path[1:]
    return path
