"""Remote sessions: the session context, the upstream-proxy relay with subprocess environment shaping,
and the stream-json transport over a WebSocket (``--sdk-url``). docs/REMOTE.md describes them.

``context`` and ``endpoints`` read the environment; ``env_shaping`` is what children get;
``ca_bundle`` fetches and writes the session CA; ``relay_framing`` is the wire format to the session's
upstream proxy, ``relay`` the local CONNECT listener; ``bootstrap`` starts it for a run and fails open;
``sdk_url`` is the WebSocket transport. Importing the package imports nothing else.
"""
