"""``claw plugin``: marketplaces, installing, enabling and checking plugins.

    claw plugin list                                 installed plugins: version, enabled state, source, problems
    claw plugin install NAME[@MARKETPLACE] [--scope S]   copy it into the store and enable it (default: user)
    claw plugin uninstall NAME[@MARKETPLACE] [--scope S] delete the copy and the record; disable it
    claw plugin enable|disable NAME[@MARKETPLACE] [--scope S]
    claw plugin validate PATH                        every problem of a plugin or marketplace directory
    claw plugin marketplace add PATH|file://URL      a directory, or a local git repository (cloned)
    claw plugin marketplace list
    claw plugin marketplace remove NAME

The store is ``claw.runtime.plugin_store`` and ``claw.runtime.plugin_marketplace``; enabling writes
``enabledPlugins`` in one scope's settings file the way ``claw config set`` does (``claw.cli.config_cmd``).
Exit codes: 0 ok, 1 a plugin or marketplace that is unknown, invalid or refused, 2 usage and
configuration errors (a network URL included).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from claw.cli.config_cmd import Output, _Parser, run_actions
from claw.errors import ClawError

SCOPES = ("user", "project", "local")

DESCRIPTION = """\
Install plugins from local marketplaces (a directory or a local git repository; never the network)
and turn them on or off (settings "enabledPlugins"). See docs/PLUGINS.md.
"""
PLUGIN = "NAME[@MARKETPLACE]"
# action -> (help, positional argument, takes --scope); "marketplace ..." are its subcommands
ACTION_HELP = {
    "list": ("installed plugins: version, enabled (scope), source, load problems", "", False),
    "install": ("validate, copy into $CLAW_CONFIG_HOME/plugins/, enable",
                PLUGIN, True),
    "uninstall": ("delete the installed copy; remove it from enabledPlugins", PLUGIN, True),
    "enable": ("set enabledPlugins.NAME@MARKETPLACE to true", PLUGIN, True),
    "disable": ("set enabledPlugins.NAME@MARKETPLACE to false", PLUGIN, True),
    "validate": ("print every problem of a plugin or marketplace directory", "PATH", False),
    "marketplace add": ("a directory, or a local git repository (file:// or bare; cloned); "
                        "never a network URL", "PATH|file://URL", False),
    "marketplace list": ("the known marketplaces and their plugins", "", False),
    "marketplace remove": ("forget a marketplace (its installed plugins stay)", "NAME", False),
}


def _build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--cwd", metavar="DIR", help="project directory (default: the current directory)")
    parser = _Parser(prog="claw plugin", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    market = sub.add_parser("marketplace", help="add, list or remove marketplaces").add_subparsers(
        dest="market_action", metavar="ACTION", parser_class=_Parser)
    for name, (text, positional, scoped) in ACTION_HELP.items():
        group, _, action = name.rpartition(" ")
        p = (market if group else sub).add_parser(action, parents=[common], help=text, description=text)
        if positional:
            p.add_argument("arg", metavar=positional)
        if scoped:
            p.add_argument("-s", "--scope", choices=SCOPES, default="user",
                           help="the settings file to change (default: user)")
    return parser


def _home(args: Any, env: Dict[str, str]) -> Path:
    from claw.config.sources import config_home

    return Path(config_home(env, args.cwd))


def _loaded(args: Any, env: Dict[str, str]) -> Any:
    from claw.config.loader import load_settings

    return load_settings(args.cwd, env, None, strict=False)


def _set_enabled(args: Any, env: Dict[str, str], out: Output, key: str, value: Optional[bool]) -> None:
    """Write ``enabledPlugins.<key>`` (None: remove it) in the scope's file, as ``claw config set`` does."""
    from claw.cli.config_cmd import _after_write, _write
    from claw.config.writer import set_value, unset_value

    path = ("enabledPlugins", key)
    ns = argparse.Namespace(cwd=args.cwd, settings=None, scope=args.scope)
    written = _write(ns, env, path, lambda source, data: unset_value(data, path)[0] if value is None
                     else set_value(data, path, value))
    if value is not None:
        out.line(f"{'enabled' if value else 'disabled'} {key} in {written} ({args.scope})")
    _after_write(ns, env, out, path, written, removed=value is None)


def _list(args: Any, env: Dict[str, str], out: Output) -> int:
    from claw.runtime.plugin_loader import load_errors
    from claw.runtime.plugin_store import enabled_plugin_sources, installed_plugins

    home = _home(args, env)
    loaded = _loaded(args, env)
    problems: List[str] = []
    sources = enabled_plugin_sources(loaded, config_home=home, problems=problems, trusted=loaded.project_trusted)
    scopes = {s.key: s.scope for s in sources}
    problems += [error.text() for error in load_errors(sources)]  # what a run here would report
    installed = installed_plugins(home)
    if not installed and not problems:
        out.line("no plugins installed (see claw plugin --help)")
    for key, record in sorted(installed.items()):
        state = f"enabled ({scopes[key]})" if key in scopes else "disabled"
        out.line(f"{key}  {record.version}  {state}")
        out.line(f"  installed from {record.source} into {record.path}")
    for problem in problems:
        out.line(f"problem: {problem}")
    return 0


def _install(args: Any, env: Dict[str, str], out: Output) -> int:
    from claw.runtime.plugin_store import install

    record = install(args.arg, _home(args, env))
    out.line(f"installed {record.key} {record.version} into {record.path}")
    _set_enabled(args, env, out, record.key, True)
    return 0


def _uninstall(args: Any, env: Dict[str, str], out: Output) -> int:
    from claw.runtime.plugin_store import resolve_installed, uninstall

    home = _home(args, env)
    key = resolve_installed(args.arg, home)
    _set_enabled(args, env, out, key, None)
    uninstall(key, home)
    out.line(f"uninstalled {key}")
    return 0


def _toggle(value: bool):
    def action(args: Any, env: Dict[str, str], out: Output) -> int:
        from claw.runtime.plugin_store import resolve_installed

        key = args.arg
        if value or "@" not in key:  # enabling needs an installed copy; disabling may name any NAME@MARKETPLACE
            key = resolve_installed(key, _home(args, env))
        _set_enabled(args, env, out, key, value)
        return 0

    return action


def _validate(args: Any, env: Dict[str, str], out: Output) -> int:
    from claw.runtime.plugin_manifest import MANIFEST, validate_plugin
    from claw.runtime.plugin_marketplace import MARKETPLACE_JSON, check_marketplace

    root = Path(args.cwd) / os.path.expanduser(args.arg)
    is_market = (root / MARKETPLACE_JSON).is_file()
    is_plugin = (root / MANIFEST).is_file() or (root / "plugin.json").is_file()
    problems: List[str] = []
    if is_market:
        problems += check_marketplace(root)
    if is_plugin:
        from claw.runtime.plugin_store import copy_problems

        problems += validate_plugin(root) + copy_problems(root)
    if not (is_market or is_plugin):
        problems.append(f"{root}: no {MARKETPLACE_JSON} or {MANIFEST} (not a marketplace or plugin directory)")
    for problem in problems:
        out.line(problem)
    if problems:
        out.err.write(f"claw: {len(problems)} problem{'s' if len(problems) > 1 else ''} in {root}\n")
        return 1
    out.line(f"ok: {root} is a valid {'marketplace' if is_market else 'plugin'}")
    return 0


def _marketplace(args: Any, env: Dict[str, str], out: Output) -> int:
    from claw.runtime import plugin_marketplace as pm

    home = _home(args, env)
    if args.market_action == "add":
        market = pm.add_marketplace(args.arg, home, cwd=args.cwd, env=env)
        out.line(f"added marketplace {market.name} ({len(market.plugins)} plugins) at {market.root}")
        for problem in market.problems + tuple(p for e in market.plugins for p in e.problems):
            out.warn(problem)
    elif args.market_action == "remove":
        pm.remove_marketplace(args.arg, home)
        out.line(f"removed marketplace {args.arg}")
    else:
        known = pm.known_marketplaces(home)
        if not known:
            out.line("no marketplaces (claw plugin marketplace add PATH)")
        for name, record in sorted(known.items()):
            out.line(f"{name}  {record['installLocation']}")
            try:
                market = pm.read_marketplace(record["installLocation"])
            except ClawError as exc:
                out.line(f"  problem: {exc.message}")
                continue
            for entry in market.plugins:
                out.line(f"  {entry.name}@{name}  {entry.version}  {entry.description}".rstrip())
    return 0


ACTIONS = {
    "list": _list,
    "install": _install,
    "uninstall": _uninstall,
    "enable": _toggle(True),
    "disable": _toggle(False),
    "validate": _validate,
    "marketplace": _marketplace,
}


def run(argv: List[str], env: Optional[Dict[str, str]] = None) -> int:
    """Entry point of ``claw plugin``: ``run(argv_after_plugin) -> exit code``."""

    def prepare(args: argparse.Namespace) -> None:
        if args.action == "marketplace" and args.market_action is None:
            args.market_action = "list"

    return run_actions(_build_parser(), argv, ACTIONS, dict(os.environ if env is None else env), prepare)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1:]))
