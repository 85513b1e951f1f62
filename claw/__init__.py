"""claw: a coding-agent CLI that ships as one file.

This module stays tiny and importable by any Python 3: the version gate in
``__main__`` imports it before it can know the interpreter is new enough.
"""
__version__ = "0.1.0"

# The Claude Code stream-json protocol level claw implements (see docs/EMBEDDING.md, "Versions"): the
# Claude Code release whose wire protocol claw was checked against (the CLI bundled with
# claude-agent-sdk 0.2.187). SDKs compare it with their minimums (2.0.0; 2.1.248 for verbatim prompts).
CLAUDE_CODE_PROTOCOL_VERSION = "2.1.330"
