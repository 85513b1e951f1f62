"""The flag table of docs/EMBEDDING.md against the flags the installed Agent SDKs really emit.

The TypeScript SDK's flags are read from the part of its bundled ``sdk.mjs`` that builds the command
line (between its fixed ``--output-format stream-json --verbose --input-format stream-json`` start and
the environment set-up after it); the Python SDK's from the string literals of its
``subprocess_cli.py`` (docstrings and comments left out). An SDK upgrade that adds, or stops sending, a
flag fails here until the table says what claw does with it; every row's status must also be what
claw's parser does (honoured: acted on; no-op: accepted and ignored; refused: a usage error naming it).
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path
from typing import Dict, Set, Tuple

import pytest

from claw.cli import args as run_args
from claw.cli.args import known_flags, parse_run_args
from claw.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
TS_SDK = ROOT / "tests" / "sdk_ts" / "node_modules" / "@anthropic-ai" / "claude-agent-sdk" / "sdk.mjs"
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
TS_START = '"--output-format","stream-json","--verbose","--input-format","stream-json"]'
TS_END = "CLAUDE_CODE_ENTRYPOINT"
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-zA-Z-]*)")
STATUSES = ("honoured", "no-op", "refused")


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is not installed (scripts/test installs it)")
    pytest.skip(f"{what} is not installed")


def ts_flags() -> Set[str]:
    if not TS_SDK.is_file():
        _missing("the TypeScript Agent SDK")
    text = TS_SDK.read_text(encoding="utf-8")
    start = text.find(TS_START)
    end = text.find(TS_END, start)
    assert start >= 0 and end > start, "the TS SDK's command-line builder moved: update TS_START/TS_END"
    part = text[start:end]
    flags = set(re.findall(r'"(--[a-z][a-zA-Z-]*)', part))
    if ".settings=this.options.settings" in part:  # settings (and sandbox) go out as `--${key}` of an object
        flags.add("--settings")
    return flags


def py_flags() -> Set[str]:
    try:
        import claude_agent_sdk
    except ImportError:
        _missing("the Python Agent SDK")
    source = Path(claude_agent_sdk.__file__).parent / "_internal" / "transport" / "subprocess_cli.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    flags: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            flags.update(FLAG.findall(node.value))
    return flags


def table() -> Dict[str, Tuple[str, str]]:
    """flag -> (sent by, status), from docs/EMBEDDING.md's flag table."""
    text = (ROOT / "docs" / "EMBEDDING.md").read_text(encoding="utf-8")
    section = text.split("## Every flag the Agent SDKs pass", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\|\s*`(--[\w-]+)`\s*\|([^|]*)\|([^|]*)\|", line)
        if match:
            flag, sent_by, status = match.group(1), match.group(2).strip(), match.group(3).strip()
            assert flag not in rows, f"{flag} is listed twice"
            assert status in STATUSES, f"{flag}: status {status!r} is not one of {STATUSES}"
            rows[flag] = (sent_by, status)
    assert rows, "no flag table found"
    return rows


def _parser_status(flag: str) -> str:
    if flag in run_args._REFUSED:
        return "refused"
    if flag in run_args._IGNORED_SWITCHES or flag in run_args._IGNORED_VALUES:
        return "no-op"
    assert flag in run_args._SWITCHES or flag in run_args._VALUES or flag in run_args._LISTS, flag
    return "honoured"


@pytest.mark.parametrize("sdk, extract", [("TS", ts_flags), ("Py", py_flags)])
def test_every_flag_the_sdk_emits_is_in_the_table_and_known_to_claw(sdk: str, extract) -> None:
    emitted = extract()
    assert len(emitted) > 20, sorted(emitted)  # the extraction itself still works
    rows = table()
    assert sorted(emitted - set(rows)) == [], "flags the SDK emits that docs/EMBEDDING.md does not list"
    assert sorted(emitted - set(known_flags())) == [], "flags the SDK emits that claw's parser does not know"
    claimed = {flag for flag, (sent_by, _) in rows.items() if sdk in sent_by.replace(" ", "").split(",")}
    assert sorted(emitted ^ claimed) == [], f"the table's 'sent by {sdk}' differs from what the SDK emits"


def test_every_row_states_what_the_parser_does() -> None:
    for flag, (_, status) in table().items():
        assert _parser_status(flag) == status, flag


@pytest.mark.parametrize("flag", sorted(run_args._REFUSED))
def test_a_refused_flag_is_a_usage_error_naming_it(flag: str) -> None:
    argv = [flag] if not run_args._REFUSED[flag][0] else [flag, "x"]
    with pytest.raises(UsageError) as caught:
        parse_run_args(argv + ["-p", "hi"])
    assert f"{flag} is not supported by this claw version yet" in caught.value.message
    assert caught.value.exit_code == 2
