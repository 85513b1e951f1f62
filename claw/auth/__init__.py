"""Anthropic account sign-in and the choice of credentials for Anthropic requests.

Modules: headers (AuthSource: credentials -> request headers, for every provider), defaults (Anthropic's endpoints and client id: the one place), pkce (verifier, challenge,
state), oauth (sans-IO: config resolution, URLs, token request bodies, response and redirect parsing),
exchange (the token POST through claw.net), credentials (credentials.json: 0600, atomic, locked),
refresh (the saved login as a token source that refreshes), login (the sign-in flow with a loopback
listener and/or a pasted code), api_key_helper (the settings apiKeyHelper command, cached), sources
(precedence: API key -> auth token -> saved login, and a description for whoami).

Nothing here prints; claw.cli.login_cmd is the terminal side. Importing this package imports nothing.
"""
