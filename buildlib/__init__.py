"""Helpers of build_zipapp.py that are not about the archive's format (vendoring the pinned wheels,
slimming claw's sources). Build time only: nothing here is in claw.pyz or needed by it."""

from __future__ import annotations


class BuildError(Exception):
    """A build that cannot go on: the message says what and what to do."""
