"""Random identifiers: UUID version 4 strings, made without importing ``uuid``.

Every run needs a few (session, messages, control requests), and ``import uuid`` costs about 3 ms of
start-up on Python 3.9-3.11, most of it the ``platform`` module it imports there. The format is
RFC 4122's: 122 random bits from ``os.urandom``, version 4, variant 10xx, lower-case hex in 8-4-4-4-12.
Name-based UUIDs (``uuid5``) are rare enough to import ``uuid`` for where they are needed.
"""

from __future__ import annotations

import os


def uuid4() -> str:
    """A new random UUID, as ``str(uuid.uuid4())`` gives it."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # variant: RFC 4122
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
