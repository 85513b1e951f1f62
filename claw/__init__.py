"""claw: a coding-agent CLI that ships as one file.

This module stays tiny and importable by any Python 3: the version gate in
``__main__`` imports it before it can know the interpreter is new enough.
"""
__version__ = "0.1.0"

# The Claude Code stream-json protocol level claw implements (see docs/EMBEDDING.md).
CLAUDE_CODE_PROTOCOL_VERSION = "2.0.0"
