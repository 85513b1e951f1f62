"""Plugin marketplaces: reading ``.claude-plugin/marketplace.json`` (Claude Code's format) and the list of
known marketplaces (``$CLAW_CONFIG_HOME/plugins/known_marketplaces.json``).

A marketplace is a directory whose ``.claude-plugin/marketplace.json`` holds ``name``, ``owner``
(``{name, email?}``) and ``plugins``: entries ``{name, source, version?, description?, ...}`` where
``source`` is a path relative to the marketplace directory (``./plugins/x``; a bare name is taken under
``metadata.pluginRoot``). ``marketplace add`` takes a directory (used in place) or a local git
repository (a ``file://`` URL, or a path to a bare repository), which is cloned into
``plugins/marketplaces/<name>/`` with git limited to the ``file`` protocol.

Deliberately not here: the network. ``http(s)://``, ``ssh://``, ``git@host:`` sources and the entry
sources that fetch (``{"source": "github", ...}``, ``url``, ``npm``...) are refused with a message saying
that plugins install from a directory or a local checkout. Plugin directories themselves are checked by
``claw.runtime.plugin_manifest``; copying them is ``claw.runtime.plugin_store``'s job.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from claw.errors import ClawError, UsageError
from claw.runtime.plugin_store import (NAME, copy_problems, now, plugins_home, read_record, record_lock, split_key,
                                      write_record)

MARKETPLACE_JSON = Path(".claude-plugin") / "marketplace.json"
KNOWN_FILE = "known_marketplaces.json"
OFFLINE_HINT = ("claw installs plugins without the network: clone or copy the marketplace onto this machine "
                "and add its directory (or a file:// URL of a local git repository)")
LIST_HINT = "'claw plugin marketplace list' shows the known marketplaces and their plugins"
_NETWORK = re.compile(r"(?i)[a-z][a-z0-9+.-]*://|[^/\s]+@[^/\s]+:")


@dataclass(frozen=True)
class MarketplaceEntry:
    """One plugin a marketplace lists; ``path`` is its directory (None when it cannot be installed,
    ``problems`` say why)."""

    name: str
    path: Optional[Path]
    version: str = ""
    description: str = ""
    problems: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Marketplace:
    """A marketplace directory and the plugins its ``marketplace.json`` lists."""

    name: str
    root: Path
    plugins: Tuple[MarketplaceEntry, ...]
    problems: Tuple[str, ...] = ()  # about the file itself (owner missing...); entries carry their own


def _entry(item: Any, i: int, root: Path, plugin_root: str) -> MarketplaceEntry:
    item = item if isinstance(item, dict) else {}
    name, source = item.get("name"), item.get("source")
    where = f"plugin {name}"
    problem = path = None
    real = os.path.realpath(root)
    if not isinstance(name, str) or not NAME.match(name):
        name, problem = f"#{i}", f"plugins[{i}]: \"name\" must be letters, digits, '.', '_', '-' (got {name!r})"
    elif isinstance(source, dict):
        problem = (f"{where}: a source of type {source.get('source')!r} needs the network; claw installs from "
                   "a path inside the marketplace (\"./plugins/x\")")
    elif not isinstance(source, str) or not source.strip():
        problem = f"{where}: \"source\" is missing (a path inside the marketplace, like \"./{name}\")"
    else:
        candidate = os.path.realpath((root if source.startswith("./") or source == "." else root / plugin_root) / source)
        if ".." in Path(source).parts or os.path.isabs(source) or os.path.commonpath([candidate, real]) != real:
            problem = f"{where}: source {source!r} leaves the marketplace directory"
        elif not os.path.isdir(candidate):
            problem = f"{where}: source {source!r}: no such directory in {root}"
        else:
            path = Path(candidate)
    version, description = item.get("version"), item.get("description")
    return MarketplaceEntry(name, path, version if isinstance(version, str) else "",
                            description if isinstance(description, str) else "", (problem,) if problem else ())


def read_marketplace(root: Any) -> Marketplace:
    """The marketplace in directory ``root``. Raises ClawError when its file is missing, is not JSON, or
    has no usable ``name`` or ``plugins``; a broken entry is kept with its problems (the others install)."""
    root = Path(root)
    file = root / MARKETPLACE_JSON
    from claw.runtime.plugin_manifest import _json  # the file, and the line of a syntax error

    errors: List[str] = []
    data = _json(file, errors) if file.is_file() else errors.append(f"{file}: not found")
    error = errors[0] if errors else None
    data = data if isinstance(data, dict) else {}
    name, plugins, meta, owner = (data.get(k) for k in ("name", "plugins", "metadata", "owner"))
    if error is None and (not isinstance(name, str) or not NAME.match(name)):
        error = f"{file}: \"name\" must be letters, digits, '.', '_', '-' (got {name!r})"
    if error is None and not isinstance(plugins, list):
        error = f"{file}: \"plugins\" must be a list"
    if error is not None:
        raise ClawError(error, hint='a marketplace is a directory with .claude-plugin/marketplace.json: {"name": ..., '
                        '"owner": {"name": ...}, "plugins": [{"name": ..., "source": "./..."}]}')
    plugin_root = meta.get("pluginRoot") if isinstance(meta, dict) else None
    entries = tuple(_entry(item, i, root, plugin_root if isinstance(plugin_root, str) else ".")
                    for i, item in enumerate(plugins))
    ok = isinstance(owner, dict) and isinstance(owner.get("name"), str)
    return Marketplace(name, root, entries, () if ok else (f"{file}: \"owner\" must be an object with a \"name\"",))


# -- known marketplaces ------------------------------------------------------------------------------

def known_marketplaces(config_home: Any) -> Dict[str, Dict[str, Any]]:
    """``{name: {"source": {...}, "installLocation": dir, "addedAt": time}}``. ConfigError when corrupt."""
    data = read_record(plugins_home(config_home) / KNOWN_FILE, "known marketplaces")
    return {k: v for k, v in data.items() if isinstance(v, dict) and isinstance(v.get("installLocation"), str)}


def find_plugin(spec: str, config_home: Any) -> Tuple[Marketplace, MarketplaceEntry]:
    """The marketplace entry ``NAME@MARKETPLACE`` (or ``NAME``, when exactly one known marketplace lists
    it) names. Raises ClawError when there is none, or several."""
    name, market = split_key(spec)
    known = known_marketplaces(config_home)
    if market and market not in known:
        raise ClawError(f"no marketplace named {market!r}", hint=LIST_HINT)
    found = []
    for market_name in [market] if market else sorted(known):
        market_obj = read_marketplace(known[market_name]["installLocation"])
        found += [(market_obj, e) for e in market_obj.plugins if e.name == name]
    if len(found) == 1:
        return found[0]
    if not found:
        where = f"marketplace {market!r}" if market else "any known marketplace"
        raise ClawError(f"no plugin {name!r} in {where}", hint=LIST_HINT)
    raise ClawError(f"plugin {name!r} is in several marketplaces: {', '.join(m.name for m, _ in found)}",
                    hint=f"say which: claw plugin install {name}@MARKETPLACE")


def _clone(url: str, into: Path, env: Mapping[str, str]) -> None:
    import subprocess

    try:  # local transports only (no insteadOf rewrite reaches the network), no prompt, no submodules
        done = subprocess.run(["git", "clone", "--quiet", "--no-recurse-submodules", url, str(into)],
                              env=dict(env, GIT_ALLOW_PROTOCOL="file", GIT_TERMINAL_PROMPT="0"),
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ClawError(f"cannot clone {url}: {exc}", hint="git must be installed to add a git marketplace") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ClawError(f"git clone of {url} failed: {detail[-1] if detail else done.returncode}", hint=OFFLINE_HINT)


def _is_git_repo(path: Path) -> bool:
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def add_marketplace(spec: str, config_home: Any, *, cwd: str, env: Mapping[str, str]) -> Marketplace:
    """Add (or refresh) a marketplace from a directory or a local git repository; returns it."""
    import tempfile

    if spec.startswith("file://"):
        url, local = spec, Path(spec[7:])
    elif _NETWORK.match(spec):
        raise UsageError(f"{spec}: not a local marketplace; claw never fetches plugins from the network",
                        hint=OFFLINE_HINT)
    else:
        url, local = None, Path(cwd) / os.path.expanduser(spec)
    if not local.is_dir():
        raise ClawError(f"{spec}: no such directory", hint=OFFLINE_HINT)
    home = plugins_home(config_home)
    if (url is None or not _is_git_repo(local)) and (local / MARKETPLACE_JSON).is_file():
        market = read_marketplace(local.resolve())
        source: Dict[str, str] = {"source": "directory", "path": str(market.root)}
    elif _is_git_repo(local):
        url = url or str(local.resolve())
        clones = home / "marketplaces"
        clones.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=clones, prefix=".add-"))
        try:
            _clone(url, work / "repo", env)
            market = read_marketplace(work / "repo")
            final = clones / market.name
            if final.exists():
                os.rename(final, work / "old")
            os.rename(work / "repo", final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        market = read_marketplace(final)
        source = {"source": "git", "url": url}
    else:
        raise ClawError(f"{spec}: no {MARKETPLACE_JSON} there, and not a git repository", hint=OFFLINE_HINT)
    with record_lock(home / KNOWN_FILE):
        known = read_record(home / KNOWN_FILE, "known marketplaces")
        known[market.name] = {"source": source, "installLocation": str(market.root), "addedAt": now()}
        write_record(home / KNOWN_FILE, known)
    return market


def remove_marketplace(name: str, config_home: Any) -> None:
    """Forget a marketplace (and delete claw's clone of it). Installed plugins stay installed."""
    home = plugins_home(config_home)
    with record_lock(home / KNOWN_FILE):
        known = read_record(home / KNOWN_FILE, "known marketplaces")
        if name not in known:
            raise ClawError(f"no marketplace named {name!r}", hint=LIST_HINT)
        record = known.pop(name)
        write_record(home / KNOWN_FILE, known)
    location = Path(str(record.get("installLocation"))) if isinstance(record, dict) else None
    if location and location.parent == home / "marketplaces":  # claw's clone, not the user's directory
        shutil.rmtree(location, ignore_errors=True)


def check_marketplace(root: Any) -> List[str]:
    """Every problem of the marketplace in ``root`` and of each plugin it lists (for ``validate``)."""
    try:
        market = read_marketplace(root)
    except ClawError as exc:
        return [exc.message]
    from claw.runtime.plugin_manifest import validate_plugin
    problems = list(market.problems)
    for entry in market.plugins:
        problems += entry.problems
        if entry.path is not None:
            problems += [f"plugin {entry.name}: {p}" for p in validate_plugin(entry.path) + copy_problems(entry.path)]
    return problems
