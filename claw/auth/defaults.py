"""Anthropic's OAuth endpoints, client id and scopes: the one place claw keeps them.

These are the public values the Claude Code CLI signs in with (its OAuth client is a public PKCE
client: there is no client secret). They are not documented by Anthropic as an API; they were taken
from public write-ups of Claude Code's login flow (for example the constants collected in the
``notforyou23/evobrew`` repository, ``anthropic-oauth-flow.md``, and several independent clients that
agree on them). Anthropic may change them: every value here is overridable by the settings ``oauth``
block (``clientId``, ``authorizeUrl``, ``tokenUrl``, ``scopes``, ``callbackPort``) and by the
environment variables ``CLAW_OAUTH_AUTHORIZE_URL``, ``CLAW_OAUTH_TOKEN_URL``, ``CLAW_OAUTH_CLIENT_ID``,
which win over the settings.

Nothing here does anything; other modules import the constants.
"""

from __future__ import annotations

# The Claude Code CLI's public OAuth client id.
CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"

# Sign-in page for Claude accounts (Pro/Max/Team plans).
AUTHORIZE_URL = "https://claude.ai/oauth/authorize"

# Token endpoint: authorization_code and refresh_token grants. It takes JSON bodies (as Claude Code
# sends them), not the RFC 6749 form encoding; see ``claw.auth.oauth.token_body_format``.
TOKEN_URL = "https://console.anthropic.com/v1/oauth/token"

SCOPES = ("org:create_api_key", "user:profile", "user:inference")

# Anthropic's hosted page that shows the code (as ``code#state``) for the user to paste back: the
# redirect used by ``claw login --no-browser`` with the default endpoints (over SSH there is no
# browser on this machine to reach a loopback listener).
MANUAL_REDIRECT_URL = "https://console.anthropic.com/oauth/code/callback"

# Loopback redirect: ``http://localhost:<port>/callback`` (the form Claude Code registers).
REDIRECT_HOST = "localhost"
REDIRECT_PATH = "/callback"
CALLBACK_PORT = 0  # 0: any free port

# Hosts whose token endpoint speaks JSON bodies (the hosted Anthropic endpoints).
ANTHROPIC_HOST_SUFFIXES = ("anthropic.com", "claude.ai", "claude.com")

# Environment variables that override the settings (contract).
ENV_AUTHORIZE_URL = "CLAW_OAUTH_AUTHORIZE_URL"
ENV_TOKEN_URL = "CLAW_OAUTH_TOKEN_URL"
ENV_CLIENT_ID = "CLAW_OAUTH_CLIENT_ID"

# A token is refreshed when it has less than this left (milliseconds).
REFRESH_MARGIN_MS = 5 * 60 * 1000

# credentials.json, under $CLAW_CONFIG_HOME.
CREDENTIALS_FILE = "credentials.json"
OAUTH_KEY = "oauth"
