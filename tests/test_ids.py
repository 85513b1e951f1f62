"""claw.ids: UUID4 strings without the uuid module."""

from __future__ import annotations

import uuid

from claw.ids import uuid4


def test_uuid4_is_a_random_rfc4122_version_4_uuid_in_canonical_form():
    seen = set()
    for _ in range(2000):
        text = uuid4()
        parsed = uuid.UUID(text)
        assert str(parsed) == text  # canonical: lower-case hex, 8-4-4-4-12
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        seen.add(text)
    assert len(seen) == 2000
