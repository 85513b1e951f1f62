"""``claw config``: show and edit settings.

    claw config list  [--scope S] [--json]          merged settings, each key with the scope(s) it came from
    claw config get   KEY [--scope S] [--json]      one value (objects and lists as JSON)
    claw config set   KEY VALUE [--scope S]         VALUE is parsed as JSON when it parses, else a string
    claw config unset KEY [--scope S]
    claw config add   KEY VALUE... [--scope S]      append to a list (duplicates skipped)
    claw config remove KEY VALUE... [--scope S]     remove from a list
    claw config path  [--scope S]                   the settings files, and which exist

Writable scopes: ``user`` ($CLAW_CONFIG_HOME/settings.json), ``project`` (./.claw/settings.json),
``local`` (./.claw/settings.local.json, the default for writes: personal, and the highest-precedence
file). Reads default to the merged view of every file (plus ``--settings``). Values under ``env`` and
``headers`` that look secret, and passwords in URLs, are shown redacted.

All file handling lives in claw.config; this module parses argv, calls it, and prints. Exit codes:
0 ok, 1 ``get`` of a key that is not set or ``remove`` of a value that is not there, 2 usage or
configuration errors (with a hint).
"""

from __future__ import annotations

import argparse
import os
import sys

from claw.errors import ClawError, ConfigError, UsageError

WRITABLE = ("user", "project", "local")
READABLE = ("user", "project-root", "project", "local", "flag")
DEFAULT_WRITE_SCOPE = "local"

DESCRIPTION = """\
Show and edit claw settings.

Files, lowest precedence first (later wins):
  user          $CLAW_CONFIG_HOME/settings.toml, then settings.json   (default ~/.claw)
  project-root  ./.claw.json
  project       ./.claw/settings.toml, then settings.json
  local         ./.claw/settings.local.toml, then settings.local.json
  flag          --settings FILE|JSON
Writes go to the JSON file of --scope user|project|local (default: local).
See docs/CONFIGURATION.md for every key.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own exit would print usage and exit 2 without a hint
        raise UsageError(f"{self.prog[len('claw '):]}: {message}", hint=f"run '{self.prog} --help'")


def _build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--cwd", metavar="DIR", help="project directory (default: the current directory)")
    common.add_argument("--settings", metavar="FILE|JSON", help="extra settings file or inline JSON (highest precedence)")

    def read_scope(p):
        p.add_argument("--scope", choices=READABLE, help="read only this scope's files instead of the merged view")

    def write_scope(p):
        p.add_argument(
            "--scope", choices=WRITABLE, default=DEFAULT_WRITE_SCOPE, help="which file to change (default: local)"
        )

    parser = _Parser(
        prog="claw config", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)

    p = sub.add_parser("list", parents=[common], help="show the merged settings and where each key comes from",
                       description="Show every key of the merged settings with the scope(s) that set it.")
    read_scope(p)
    p.add_argument("--json", action="store_true", help="print the merged settings as one JSON object")

    p = sub.add_parser("get", parents=[common], help="print one value",
                       description="Print the value of KEY (a dotted path such as permissions.allow).")
    p.add_argument("key", metavar="KEY")
    read_scope(p)
    p.add_argument("--json", action="store_true", help="print strings as JSON too")

    p = sub.add_parser("set", parents=[common], help="set a value in one scope's file",
                       description="Set KEY to VALUE; VALUE is parsed as JSON when it parses (42, true, "
                       "[\"a\"], {\"k\": \"v\"}), else taken as a string.")
    p.add_argument("key", metavar="KEY")
    p.add_argument("value", metavar="VALUE")
    write_scope(p)

    p = sub.add_parser("unset", parents=[common], help="remove a key from one scope's file",
                       description="Remove KEY from the scope's file.")
    p.add_argument("key", metavar="KEY")
    write_scope(p)

    p = sub.add_parser("add", parents=[common], help="append values to a list",
                       description="Append each VALUE (parsed like set) to the list at KEY, skipping ones already there.")
    p.add_argument("key", metavar="KEY")
    p.add_argument("values", metavar="VALUE", nargs="+")
    write_scope(p)

    p = sub.add_parser("remove", parents=[common], help="remove values from a list",
                       description="Remove each VALUE (parsed like set) from the list at KEY.")
    p.add_argument("key", metavar="KEY")
    p.add_argument("values", metavar="VALUE", nargs="+")
    write_scope(p)

    p = sub.add_parser("path", parents=[common], help="list the settings files and which exist",
                       description="Print each settings file claw reads, in precedence order, and whether it exists.")
    read_scope(p)
    return parser


# -- helpers ---------------------------------------------------------------------------------------


class Output:
    """stdout for results, stderr for warnings and notes (claw config, claw mcp)."""

    def __init__(self) -> None:
        self.out = sys.stdout
        self.err = sys.stderr

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def warn(self, text: str) -> None:
        self.err.write(f"claw: warning: {text}\n")

    def note(self, text: str) -> None:
        self.err.write(f"claw: note: {text}\n")


def _parse_value(text: str):
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


def _json(value, indent=None) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, indent=indent, default=str)


def _key(text: str):
    from claw.config.keypath import parse_key_path

    try:
        return parse_key_path(text)
    except ValueError as exc:
        raise UsageError(f"{exc}", hint='keys are dotted paths, e.g. permissions.allow or env.HTTPS_PROXY') from None


def _check_known(path) -> None:
    """A usage error, with a did-you-mean, for a key path the schema does not know (checked up to
    the first list index)."""
    from claw.config.schema import KNOWN_KEYS, clean_settings
    from claw.config.sources import SettingsSource

    names = []
    for segment in path:
        if isinstance(segment, int):
            break
        names.append(segment)
    probe: dict = {}
    node = probe
    for name in names[:-1]:
        node = node.setdefault(name, {})
    node[names[-1]] = "x"
    source = SettingsSource("probe", None, "json", os.sep)
    _, problems = clean_settings(probe, source)
    for problem in problems:
        kp = problem.key_path
        if problem.level == "warning" and kp and tuple(names[: len(kp)]) == kp:
            text = problem.message[len(source.name) + 2 :].replace("; ignored", "")
            hint = problem.hint if kp[:-1] else f"known keys: {', '.join(KNOWN_KEYS)}"
            raise UsageError(text, hint=hint)


def _print_problems(out: Output, loaded) -> None:
    for problem in loaded.problems:
        if problem.level != "error":
            out.warn(problem.message)


def _load(args, env, strict=True, scopes=None):
    from claw.config.loader import load_settings

    loaded = load_settings(args.cwd, env, args.settings, strict=strict, only_scopes=scopes)
    args.redactor = _redactor_for(env, loaded)
    return loaded


def _redactor_for(env, loaded):
    """A redactor that knows the secret values of the environment and of the settings ``env``, so that
    one copied elsewhere (``"apiKeyHelper": "printf %s <the key>"``) is not printed either."""
    from claw.redact import Redactor, is_secret_env_name

    settings_env = loaded.raw.get("env") if isinstance(loaded.raw, dict) else None
    merged = dict(env or {})
    if isinstance(settings_env, dict):
        merged.update((k, v) for k, v in settings_env.items() if isinstance(k, str) and isinstance(v, str))
    # Only the secret-named values: proxy URLs keep their user name on display (``user:***@``).
    return Redactor.from_env({k: v for k, v in merged.items() if is_secret_env_name(k)})


def _scope_names(sources) -> str:
    return ", ".join(dict.fromkeys(s.label for s in sources))


# -- actions ---------------------------------------------------------------------------------------


def _list(args, env, out: Output) -> int:
    from claw.config.keypath import format_key_path
    from claw.config.redact import redact

    loaded = _load(args, env, scopes=[args.scope] if args.scope else None)
    _print_problems(out, loaded)
    if args.json:
        out.line(_json(redact((), dict(loaded.raw), args.redactor), indent=2))
        return 0
    if not loaded.sources:
        out.line("# no settings files found; 'claw config path' lists where claw looks")
        return 0
    out.line("# sources, lowest precedence first (later wins):")
    width = max(len(s.label) for s in loaded.sources)
    for source in loaded.sources:
        out.line(f"#   {source.label.ljust(width)}  {source.name}")
    for path, value, sources in loaded.leaves():
        out.line(f"{format_key_path(path)} = {_json(redact(path, value, args.redactor))}  # {_scope_names(sources)}")
    return 0


def _get(args, env, out: Output) -> int:
    from claw.config.keypath import format_key_path
    from claw.config.loader import get_path
    from claw.config.redact import REDACTED, redact

    path = _key(args.key)
    loaded = _load(args, env, scopes=[args.scope] if args.scope else None)
    _print_problems(out, loaded)
    missing = object()
    value = get_path(loaded.raw, path, missing)
    if value is missing:
        _check_known(path)
        where = f" in scope {args.scope}" if args.scope else ""
        out.err.write(f"claw: {format_key_path(path)} is not set{where}\n")
        return 1
    shown = redact(path, value, args.redactor)
    if shown == REDACTED:
        origin = loaded.origin(path)
        out.note(f"{format_key_path(path)} looks secret and is not printed; it is set in {origin.name if origin else '?'}")
    if isinstance(shown, str) and not args.json:
        out.line(shown)
    else:
        out.line(_json(shown, indent=2 if isinstance(shown, (dict, list)) else None))
    return 0


def _scope_source(args, env):
    from claw.config.sources import SettingsSource, scope_file

    path = scope_file(args.scope, args.cwd, env)
    base = os.path.dirname(os.path.dirname(path)) if args.scope != "user" else os.path.dirname(path)
    return SettingsSource(args.scope, path, "json", base)


def _validate_edit(source, new_data, path) -> None:
    """Refuse an edit that makes the key at ``path`` invalid or unknown (before writing)."""
    from claw.config.schema import clean_settings

    _, problems = clean_settings(new_data, source)
    for problem in problems:
        kp = problem.key_path
        if kp is None:
            continue
        n = min(len(kp), len(path))
        if kp[:n] != path[:n]:
            continue
        text = problem.message
        prefix = f"{source.name}: "
        if text.startswith(prefix):
            text = text[len(prefix):]
        if problem.level == "warning":
            text = text.replace("; ignored", "")
        raise ConfigError(f"{text}; nothing written", hint=problem.hint)


def _after_write(args, env, out: Output, path, written: str, removed: bool = False) -> None:
    """Tell the user when the change is not the value in effect."""
    from claw.config.keypath import format_key_path

    try:
        loaded = _load(args, env, strict=False)
    except ClawError:
        return
    from claw.config.merge import concatenates

    contributors = loaded.contributors(path)
    if not contributors:
        return
    origin = contributors[-1]
    key = format_key_path(path)
    if removed:
        out.note(f"{key} is still set by {origin.describe()}")
        return
    written_real = os.path.realpath(written)
    ours = [s for s in contributors if s.path is not None and os.path.realpath(s.path) == written_real]
    if ours and (ours[-1] is origin or concatenates(path)):
        return  # in effect (or, for a concatenating list, part of it)
    out.note(f"{key} is overridden by {origin.describe()}, which wins over {args.scope}")


def _write(args, env, path, change) -> str:
    """Read the scope's file, apply ``change``, check the edited key, write; returns the path."""
    from claw.config.writer import read_object, write_object

    source = _scope_source(args, env)
    data = read_object(source)
    new_data = change(source, data)
    _validate_edit(source, new_data, path)
    if new_data == data and source.path and os.path.exists(source.path):
        return os.path.realpath(source.path)  # nothing changed: leave the file alone
    return write_object(source, new_data)


def _set(args, env, out: Output) -> int:
    from claw.config.keypath import format_key_path
    from claw.config.redact import redact
    from claw.config.writer import set_value

    path = _key(args.key)
    _check_known(path)
    value = _parse_value(args.value)
    written = _write(args, env, path, lambda source, data: set_value(data, path, value))
    out.line(f"set {format_key_path(path)} = {_json(redact(path, value))} in {written} ({args.scope})")
    _after_write(args, env, out, path, written)
    return 0


def _unset(args, env, out: Output) -> int:
    from claw.config.keypath import format_key_path
    from claw.config.sources import scope_file
    from claw.config.writer import read_object, unset_value, write_object

    path = _key(args.key)
    key = format_key_path(path)

    source = _scope_source(args, env)
    new_data, found = unset_value(read_object(source), path)
    toml_path = scope_file(args.scope, args.cwd, env, fmt="toml")
    in_toml = _toml_has(toml_path, path)
    if not found:
        if in_toml:
            raise ConfigError(
                f"{key} is set in {toml_path}, and claw does not rewrite TOML files",
                hint="edit that file by hand (claw would lose its comments)",
            )
        out.err.write(f"claw: {key} is not set in {source.name}; nothing to do\n")
        return 0
    written = write_object(source, new_data)
    out.line(f"unset {key} in {written} ({args.scope})")
    if in_toml:
        out.warn(f"{key} is still set in {toml_path}, which claw does not rewrite; edit it by hand")
    else:
        _after_write(args, env, out, path, written, removed=True)
    return 0


def _toml_has(toml_path: str, path) -> bool:
    from claw.config.loader import get_path
    from claw.config.parsing import read_source
    from claw.config.sources import SettingsSource

    if not os.path.exists(toml_path):
        return False
    data, _ = read_source(SettingsSource("scope", toml_path, "toml", os.path.dirname(toml_path)))
    missing = object()
    return data is not None and get_path(data, path, missing) is not missing


def _add_remove(args, env, out: Output, adding: bool) -> int:
    from claw.config.keypath import format_key_path
    from claw.config.loader import get_path
    from claw.config.writer import set_value

    path = _key(args.key)
    _check_known(path)
    values = [_parse_value(v) for v in args.values]
    key = format_key_path(path)
    result = {}

    def change(source, data):
        current = get_path(data, path, None)
        if current is None:
            current = []
        if not isinstance(current, list):
            raise ConfigError(
                f"{key} is not a list in {source.name}", hint=f"use 'claw config set {key} VALUE'"
            )
        items = list(current)
        if adding:
            for value in values:
                if value not in items:
                    items.append(value)
            result["changed"] = len(items) - len(current)
        else:
            items = [v for v in items if v not in values]
            result["changed"] = len(current) - len(items)
            result["missing"] = [v for v in values if v not in current]
        return set_value(data, path, items)

    written = _write(args, env, path, change)
    verb = "added" if adding else "removed"
    out.line(f"{verb} {result['changed']} value(s) {'to' if adding else 'from'} {key} in {written} ({args.scope})")
    if not adding and result.get("missing"):
        out.err.write(f"claw: not in {key}: {', '.join(_json(v) for v in result['missing'])}\n")
        return 1
    return 0


def _path(args, env, out: Output) -> int:
    from claw.config.sources import candidate_sources

    for source in candidate_sources(args.cwd, env, args.settings):
        if args.scope and source.scope != args.scope:
            continue
        if source.path is None:
            out.line(f"{source.scope}\t(inline JSON)\tgiven")
            continue
        state = "exists" if os.path.isfile(source.path) else "missing"
        out.line(f"{source.scope}\t{source.path}\t{state}")
    return 0


ACTIONS = {
    "list": _list,
    "get": _get,
    "set": _set,
    "unset": _unset,
    "add": lambda a, e, o: _add_remove(a, e, o, True),
    "remove": lambda a, e, o: _add_remove(a, e, o, False),
    "path": _path,
}


def run_actions(parser: argparse.ArgumentParser, argv: list, actions: dict, env, prepare=None) -> int:
    """Parse ``argv`` and run ``actions[args.action](args, env, out)`` (``args.cwd`` made absolute, and
    ``prepare(args)`` first when given): the help when no action is named, argparse's own exit codes,
    and a ``ClawError`` as ``claw: message`` / ``hint: ...`` with its exit code. Shared by ``claw
    config``, ``claw mcp`` and ``claw plugin``."""
    out = Output()
    try:
        args = parser.parse_args(list(argv))
        if args.action is None:
            parser.print_help(out.out)
            return 0
        args.cwd = os.path.abspath(getattr(args, "cwd", None) or os.getcwd())
        if prepare is not None:
            prepare(args)
        return int(actions[args.action](args, env, out) or 0)
    except SystemExit as exc:  # argparse after --help
        return exc.code if isinstance(exc.code, int) else 0
    except ClawError as exc:
        from claw.cli.errors import render_short

        out.err.write(render_short(exc) + "\n")
        return exc.exit_code


def run(argv: list, env=None) -> int:
    """Entry point of ``claw config``: ``run(argv_after_config) -> exit code``."""
    return run_actions(_build_parser(), argv, ACTIONS, os.environ if env is None else env)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1:]))
