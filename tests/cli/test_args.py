"""claw.cli.args: the run flags, parsed by hand (Claude Code's names, argparse's conventions)."""

from __future__ import annotations

import pytest

from claw.cli.args import RunArgs, parse_run_args, read_run_args
from claw.errors import UsageError


def test_no_flags_gives_the_defaults():
    assert parse_run_args([]) == RunArgs()


def test_every_kind_of_flag():
    args = parse_run_args([
        "-p", "explain", "this", "--model", "opus", "--output-format=json", "--max-turns", "3",
        "--allowedTools", "Read", "--allowed-tools=Bash(git status:*)", "--disallowedTools", "Write",
        "--mcp-config", "a.json", "--mcp-config", "b.json", "--add-dir", "/x", "--verbose",
        "--thinking", "adaptive", "--max-thinking-tokens=2048", "--fork-session", "-r", "abc",
    ])
    assert args.print_mode and args.verbose and args.fork_session
    assert args.prompt == "explain this"
    assert (args.model, args.output_format, args.max_turns, args.resume) == ("opus", "json", 3, "abc")
    assert args.allowed_tools == ["Read", "Bash(git status:*)"]
    assert args.disallowed_tools == ["Write"]
    assert args.mcp_config == ["a.json", "b.json"] and args.add_dir == ["/x"]
    assert (args.thinking, args.max_thinking_tokens) == ("adaptive", 2048)


def test_prompt_words_may_come_anywhere_and_after_double_dash_anything_is_prompt():
    assert parse_run_args(["hello", "--model", "m", "world"]).prompt == "hello world"
    args = parse_run_args(["-p", "--", "--model", "-x"])
    assert args.prompt == "--model -x" and args.model is None
    assert parse_run_args(["-p", "-", "-1"]).prompt == "- -1"  # a lone dash and numbers are words


def test_short_flags_combine_and_take_attached_values():
    args = parse_run_args(["-pc"])
    assert args.print_mode and args.continue_
    assert parse_run_args(["-rabc"]).resume == "abc"
    args = parse_run_args(["-pr", "abc"])
    assert args.print_mode and args.resume == "abc"


def test_the_last_value_of_a_single_value_flag_wins():
    assert parse_run_args(["--model", "a", "--model", "b"]).model == "b"


def test_sdk_compatibility_flags_are_accepted_and_recorded():
    args = parse_run_args(["--setting-sources", "user,project", "--include-hook-events", "--debug",
                           "--betas=x", "-p", "hi"])
    assert args.ignored == ["debug"]
    assert args.include_hook_events  # acted on now: hook lifecycle messages in stream-json
    assert args.betas == ["x"]  # sent as anthropic-beta values
    assert args.setting_sources == ["user", "project"]  # acted on now (folder trust)
    assert args.prompt == "hi"


def test_sdk_url_implies_stream_json_both_ways():
    args = parse_run_args(["--sdk-url", "wss://host/x"])
    assert (args.input_format, args.output_format) == ("stream-json", "stream-json")


@pytest.mark.parametrize("argv, message", [
    (["--no-such-flag"], "unknown flag --no-such-flag"),
    (["--modle", "x"], "unknown flag --modle"),
    (["-x"], "unknown flag -x"),
    (["--model"], "--model needs a value"),
    (["--model", "--verbose"], "--model needs a value"),
    (["--verbose=yes"], "--verbose takes no value"),
    (["--output-format", "xml"], "--output-format: invalid choice 'xml' (choose from text, json, stream-json)"),
    (["--thinking", "max"], "invalid choice 'max'"),
    (["--max-turns", "0"], "--max-turns: must be at least 1, got 0"),
    (["--max-turns", "-2"], "must be at least 1, got -2"),
    (["--max-turns", "many"], "--max-turns: expected a whole number, got 'many'"),
    (["-r", "x", "-c"], "--resume and --continue cannot be used together"),
    (["--include-partial-messages"], "--include-partial-messages needs --output-format stream-json"),
    (["--input-format", "stream-json"], "--input-format stream-json needs --output-format stream-json"),
])
def test_usage_errors_say_what_is_wrong_and_hint(argv, message):
    with pytest.raises(UsageError) as info:
        parse_run_args(argv)
    assert message in info.value.message
    assert info.value.exit_code == 2


def test_a_misspelled_flag_gets_a_did_you_mean():
    with pytest.raises(UsageError) as info:
        parse_run_args(["--modle", "x"])
    assert "did you mean --model?" in info.value.hint
    with pytest.raises(UsageError) as info:
        parse_run_args(["--verison"])  # main answers --version, but a typo of it reaches the run parser
    assert "did you mean --version?" in info.value.hint
    with pytest.raises(UsageError) as info:
        parse_run_args(["--zzzzzz"])
    assert "claw --help" in info.value.hint


def requested_format(argv):
    return read_run_args(argv)[0].requested_output_format


def test_the_output_format_is_read_past_a_usage_error():
    args, error = read_run_args(["--bogus", "--output-format", "json"])
    assert "unknown flag --bogus" in error.message
    assert requested_format(["--bogus", "--output-format", "json"]) == "json"
    assert requested_format(["--output-format=stream-json"]) == "stream-json"
    assert requested_format(["--output-format", "xml"]) == "text"
    assert requested_format([]) == "text"
    assert requested_format(["--sdk-url", "wss://host/x"]) == "text"  # the run itself speaks stream-json


@pytest.mark.parametrize("argv,headless", [
    (["-p", "hi"], True), (["-pc"], True), (["--print"], True), (["--output-format", "json"], True),
    (["--output-format=stream-json", "--input-format=stream-json"], True), (["--sdk-url", "wss://h/x"], True),
    (["--output-format", "text"], False), (["hello", "world"], False), (["--", "-p"], False),
])
def test_headless_is_read_from_the_parsed_flags(argv, headless):
    assert read_run_args(argv)[0].headless is headless
