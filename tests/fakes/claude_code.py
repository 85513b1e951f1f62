"""Running the real Claude Code CLI (the one the Python Agent SDK's wheel bundles) against the fake
model server: the environment that keeps it quiet and offline besides the model requests.

Used by the differential test (tests/sdk/test_claude_code_oracle.py) and the benchmarks that take
Claude Code as their anchor (bench/cli_vs_claude_code.py, bench/cache_cost.py).
"""

from __future__ import annotations

# No telemetry, update checks, error reports or terminal titles: only model requests leave the process.
CLAUDE_QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
    "DISABLE_COST_WARNINGS": "1",
    "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
    "IS_SANDBOX": "1",  # allows bypassPermissions when run as root
}
