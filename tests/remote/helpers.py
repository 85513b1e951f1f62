"""Constants shared by the remote tests (the fixtures are in conftest.py)."""

from __future__ import annotations

SESSION_ID = "sess-remote-1"
TOKEN = "ccr-session-token-0123456789"
TARGET_HOST = "tunnel-target.test"  # resolvable by the fake upstream only (its host_map)
HELLO = b"hello through the relay\n"
