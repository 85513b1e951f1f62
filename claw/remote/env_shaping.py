"""What the upstream-proxy relay adds to the environment of every child claw starts, as one typed value.

``EnvShaping`` is frozen; ``apply(env)`` returns a new dict and never touches ``os.environ``. Three
shapes exist:

- ``relay``: the relay is up. Children get ``HTTPS_PROXY``/``https_proxy`` = the relay's
  ``http://127.0.0.1:PORT``; ``NO_PROXY``/``no_proxy`` = loopback, link-local and private ranges, the
  provider's own hosts (``anthropic.com`` in its three spellings, plus the hosts of
  ``ANTHROPIC_BASE_URL``, ``OPENAI_BASE_URL``, ``CLAW_REMOTE_BASE_URL``), the common code hosts and
  package registries, then whatever ``NO_PROXY`` already held; and ``SSL_CERT_FILE``,
  ``NODE_EXTRA_CA_CERTS``, ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE`` = the merged CA bundle;
- ``inherited``: claw was started with ``HTTPS_PROXY`` (either case) and ``SSL_CERT_FILE`` already set —
  a nested claw under a parent whose relay is running. Nothing is added: the inherited values reach
  the children unchanged;
- ``none``: no relay. Nothing is added.

It decides nothing about whether the relay runs (claw.remote.bootstrap does) and starts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy")
NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")
CA_BUNDLE_VARIABLES = ("SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
SHAPED_VARIABLES = PROXY_VARIABLES + NO_PROXY_VARIABLES + CA_BUNDLE_VARIABLES

# Loopback, link-local (cloud metadata lives at 169.254.169.254) and private ranges.
LOCAL_NO_PROXY = (
    "localhost", "127.0.0.1", "::1", "127.0.0.0/8",
    "169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
    "fc00::/7", "fe80::/10",
)
# The provider's apex in the three spellings tools understand: "*.x" (curl, Go, Node), ".x" (Python's
# urllib suffix match) and "x" (the apex itself).
PROVIDER_NO_PROXY = ("anthropic.com", ".anthropic.com", "*.anthropic.com")
REGISTRY_NO_PROXY = (
    "github.com", "api.github.com", "*.github.com", "*.githubusercontent.com",
    "registry.npmjs.org", "registry.yarnpkg.com",
    "pypi.org", "files.pythonhosted.org",
    "index.crates.io", "static.crates.io", "crates.io",
    "proxy.golang.org", "sum.golang.org",
    "rubygems.org", "repo.maven.apache.org", "repo1.maven.org",
)
PROVIDER_URL_VARIABLES = ("ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "CLAW_REMOTE_BASE_URL")

NONE, INHERITED, RELAY = "none", "inherited", "relay"


@dataclass(frozen=True)
class EnvShaping:
    """Variables to set in every child's environment (``values``, in order) and why (``mode``)."""

    mode: str = NONE
    values: Tuple[Tuple[str, str], ...] = ()

    @property
    def active(self) -> bool:
        """True when ``apply`` changes anything."""
        return bool(self.values)

    def apply(self, env: Mapping[str, str]) -> Dict[str, str]:
        """A new dict: ``env`` with these variables set (replacing any value they had)."""
        out = dict(env)
        for name, value in self.values:
            out[name] = value
        return out

    def get(self, name: str) -> Optional[str]:
        for key, value in self.values:
            if key == name:
                return value
        return None

    def as_dict(self) -> Dict[str, str]:
        return dict(self.values)


NO_SHAPING = EnvShaping(NONE)
INHERITED_SHAPING = EnvShaping(INHERITED)


def inherited_from_parent(env: Mapping[str, str]) -> bool:
    """True when ``HTTPS_PROXY`` (either case) and ``SSL_CERT_FILE`` are both set and non-empty: a
    parent (a claw or Claude Code whose relay runs) shaped this environment already."""
    proxy = any((env.get(name) or "").strip() for name in PROXY_VARIABLES)
    return proxy and bool((env.get("SSL_CERT_FILE") or "").strip())


def _host_of(url: str) -> Optional[str]:
    text = (url or "").strip()
    if not text:
        return None
    if "://" not in text:
        text = "//" + text
    from urllib.parse import urlsplit

    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    return host or None


def _split_entries(value: str) -> List[str]:
    return [item for item in value.replace(",", " ").split() if item]


def no_proxy_list(env: Mapping[str, str], *, extra_hosts: Iterable[str] = ()) -> str:
    """The comma-separated ``NO_PROXY`` for children: local ranges, provider hosts, registries, the
    hosts of the provider URLs in ``env``, ``extra_hosts``, then the entries ``NO_PROXY``/``no_proxy``
    already held. Each entry once, first spelling kept."""
    entries: List[str] = []
    seen = set()

    def add(item: str) -> None:
        key = item.strip().lower()
        if key and key not in seen:
            seen.add(key)
            entries.append(item.strip())

    for item in LOCAL_NO_PROXY + PROVIDER_NO_PROXY:
        add(item)
    for name in PROVIDER_URL_VARIABLES:
        host = _host_of(env.get(name) or "")
        if host:
            add(host)
    for host in extra_hosts:
        add(host)
    for item in REGISTRY_NO_PROXY:
        add(item)
    for name in NO_PROXY_VARIABLES:
        for item in _split_entries(env.get(name) or ""):
            add(item)
    return ",".join(entries)


def relay_shaping(env: Mapping[str, str], proxy_url: str, ca_bundle_path: str, *,
                  extra_no_proxy: Iterable[str] = ()) -> EnvShaping:
    """The shaping for a relay listening at ``proxy_url`` with the merged bundle ``ca_bundle_path``."""
    no_proxy = no_proxy_list(env, extra_hosts=extra_no_proxy)
    values = [(name, proxy_url) for name in PROXY_VARIABLES]
    values += [(name, no_proxy) for name in NO_PROXY_VARIABLES]
    values += [(name, ca_bundle_path) for name in CA_BUNDLE_VARIABLES]
    return EnvShaping(RELAY, tuple(values))
