"""Helpers of build_zipapp.py that are not about the archive itself (today: vendoring the pinned
wheels). Build time only: nothing here is in claw.pyz or needed by it."""

from __future__ import annotations


class BuildError(Exception):
    """A build that cannot go on: the message says what and what to do."""
