"""The installed plugin store: copies of plugins under ``$CLAW_CONFIG_HOME/plugins/``, their records,
and which of them a run loads.

Layout (Claude Code's, under claw's config home)::

    plugins/installed_plugins.json    {"version": 1, "plugins": {"name@marketplace": {version, source,
                                       installPath, installedAt}}}
    plugins/known_marketplaces.json   (claw.runtime.plugin_marketplace)
    plugins/cache/<marketplace>/<name>/<version>/   the installed copy

``install`` copies a marketplace's plugin directory beside its final place and renames it into place,
so a failure leaves no half plugin; the plugin is validated first (``plugin_manifest.validate_plugin``)
and a symlink that is absolute or leads outside the plugin refuses the install (relative links inside it
are copied as links). Record files are written atomically (``claw.fsutil``); every read-modify-write
of one holds ``record_lock`` (an exclusive ``flock`` on ``<record>.lock`` beside it), so two claw
processes installing at once both keep their record (an install holds it across the copy too: the
cache directory is changed by one install at a time).

``enabled_plugin_sources`` is what a run asks: every ``name@marketplace`` the merged settings'
``enabledPlugins`` turns on, mapped to its installed copy. Enabling and disabling (editing settings) is
the CLI's business (``claw.cli.plugin_cmd``); reading a plugin's components is the loader's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from claw.errors import ClawError, ConfigError
from claw.runtime.plugin_source import PluginSource

INSTALLED_FILE = "installed_plugins.json"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*\Z")  # plugin, marketplace and version names are path parts
PROJECT_SCOPES = ("project-root", "project", "local")
UNTRUSTED = "this folder is not trusted (run 'claw trust' in the folder)"


def plugins_home(config_home: Any) -> Path:
    return Path(config_home) / "plugins"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def split_key(key: str) -> Tuple[str, str]:
    """``"name@marketplace"`` -> ``("name", "marketplace")``; ``("name", "")`` without ``@``."""
    name, _, market = key.rpartition("@") if "@" in key else (key, "", "")
    return name, market


def read_record(path: Path, what: str) -> Dict[str, Any]:
    """A record file's object ({} when it does not exist). ConfigError when it cannot be read."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        data = exc
    if not isinstance(data, dict):
        why = data if isinstance(data, Exception) else "expected a JSON object"
        raise ConfigError(f"{path}: the {what} record is not valid: {why}", hint="fix or delete the file")
    return data


def write_record(path: Path, data: Dict[str, Any]) -> None:
    from claw.fsutil import atomic_write

    try:
        atomic_write(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
                     new_file_mode=0o600, make_dirs=0o700)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def record_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the record ``path`` (``flock`` on ``path.lock``; waits for another
    holder). Unlocked where ``flock`` is missing (Windows, some network file systems)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        except (ImportError, OSError):
            pass
        yield
    finally:
        os.close(fd)  # releases the lock


@dataclass(frozen=True)
class InstalledPlugin:
    """One installed copy: ``key`` is ``name@marketplace``; ``source`` the directory it was copied from."""

    key: str
    version: str
    source: str
    path: Path
    installed_at: str = ""


def _installed_raw(config_home: Any) -> Dict[str, Any]:
    data = read_record(plugins_home(config_home) / INSTALLED_FILE, "installed plugins")
    plugins = data.get("plugins")
    return plugins if isinstance(plugins, dict) else {}


def installed_plugins(config_home: Any) -> Dict[str, InstalledPlugin]:
    """The installed plugins by ``name@marketplace``. ConfigError when the record is not valid."""
    out = {}
    for key, entry in _installed_raw(config_home).items():
        if isinstance(entry, dict) and isinstance(entry.get("installPath"), str):
            out[key] = InstalledPlugin(key, str(entry.get("version", "")), str(entry.get("source", "")),
                                       Path(entry["installPath"]), str(entry.get("installedAt", "")))
    return out


def _save_installed(config_home: Any, plugins: Dict[str, Any]) -> None:
    write_record(plugins_home(config_home) / INSTALLED_FILE, {"version": 1, "plugins": plugins})


def enabled_plugin_sources(settings: Any, *, config_home: Any, trusted: bool,
                           problems: Optional[List[str]] = None) -> List[PluginSource]:
    """The installed plugins a run loads: every ``name@marketplace`` that ``enabledPlugins`` in the merged
    ``settings`` (a ``LoadedSettings``) sets to true, mapped to its installed copy, with the scope of the
    settings file that enabled it. Never raises for a plugin: a project or local enablement in a folder
    that is not ``trusted`` (the loader drops those from an untrusted folder's files: ``settings.ignored``
    says so, and so do the problems), an enabled plugin that is not installed (or whose copy is gone) and a record
    that cannot be read are skipped and described in ``problems`` (when given)."""
    notes: List[str] = [] if problems is None else problems
    installed: Optional[Dict[str, InstalledPlugin]] = None
    out: List[PluginSource] = []
    for name, keys in settings.ignored:  # the loader already dropped an untrusted folder's enablements
        if "enabledPlugins" in keys:
            notes.append(f"enabledPlugins in {name} ignored: {UNTRUSTED}")
    for key, on in settings.settings.enabled_plugins.items():
        if not on:
            continue
        origin = settings.origin(("enabledPlugins", key))
        scope = origin.scope if origin is not None else "user"
        if scope in PROJECT_SCOPES and not trusted:
            notes.append(f"plugin {key}: enabled in {origin.name}, ignored: {UNTRUSTED}")
            continue
        if installed is None:
            try:
                installed = installed_plugins(config_home)
            except ConfigError as exc:
                notes.append(f"plugins: {exc.message}")
                installed = {}
        record = installed.get(key)
        if record is None or not record.path.is_dir():
            what = "is not installed" if record is None else f"has no installed copy at {record.path}"
            notes.append(f"plugin {key} is enabled but {what} (run 'claw plugin install {key}')")
            continue
        out.append(PluginSource(record.path, "installed", key, scope))
    return out


def copy_problems(root: Path) -> List[str]:
    """What in the plugin directory ``root`` cannot be copied safely: a symlink that is absolute or leads
    outside the plugin (the copy would reach files the plugin does not hold), anything but files,
    directories and links (a FIFO would hang the copy)."""
    import stat

    real = os.path.realpath(root)
    problems = []
    for dirpath, dirs, files in os.walk(root):
        for entry in dirs + files:
            path = os.path.join(dirpath, entry)
            mode = os.lstat(path).st_mode
            rel = os.path.relpath(path, root)
            if stat.S_ISLNK(mode):
                target = os.readlink(path)
                inside = os.path.realpath(path)
                if os.path.isabs(target) or os.path.commonpath([inside, real]) != real:
                    problems.append(f"{rel}: a symlink to {target}, outside the plugin (copy the file in instead)")
            elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                problems.append(f"{rel}: not a regular file or directory")
    return problems


def install(spec: str, config_home: Any) -> InstalledPlugin:
    """Install ``NAME@MARKETPLACE`` (or ``NAME``) from a known marketplace: validate, copy beside the
    final place, rename into place, record (all under ``record_lock``). Replaces an installed copy of
    the same plugin. Raises ClawError (nothing changed) for an unknown or invalid plugin."""
    with record_lock(plugins_home(config_home) / INSTALLED_FILE):
        return _install(spec, config_home)


def _install(spec: str, config_home: Any) -> InstalledPlugin:
    import tempfile

    from claw.runtime.plugin_manifest import read_plugin, validate_plugin
    from claw.runtime.plugin_marketplace import find_plugin

    market, entry = find_plugin(spec, config_home)
    key = f"{entry.name}@{market.name}"
    problems = list(entry.problems) or validate_plugin(entry.path) + copy_problems(entry.path)
    if problems:
        raise ClawError(f"cannot install {key}; nothing installed:\n  " + "\n  ".join(problems),
                        hint=f"fix the plugin (claw plugin validate {market.root}), then install again")
    version = read_plugin(entry.path).version or entry.version or "unknown"
    if not NAME.match(version):
        raise ClawError(f"cannot install {key}: version {version!r} is not like \"1.2.0\"")
    home = plugins_home(config_home)
    dest = home / "cache" / market.name / entry.name / version
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".install-"))
    try:
        shutil.copytree(entry.path, work / "copy", symlinks=True)
        if dest.exists():
            os.rename(dest, work / "old")
        os.rename(work / "copy", dest)
    except OSError as exc:
        raise ClawError(f"cannot install {key}: {exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for other in dest.parent.iterdir():  # an older version this one replaces
        if other != dest and not other.name.startswith("."):
            shutil.rmtree(other, ignore_errors=True)
    record = {"version": version, "source": str(entry.path), "installPath": str(dest), "installedAt": now()}
    plugins = _installed_raw(config_home)
    plugins[key] = record
    _save_installed(config_home, plugins)
    return InstalledPlugin(key, version, record["source"], dest, record["installedAt"])


def resolve_installed(spec: str, config_home: Any) -> str:
    """The installed ``name@marketplace`` that ``spec`` (``NAME@MARKETPLACE`` or a unique ``NAME``) means.
    Raises ClawError when it is not installed."""
    installed = installed_plugins(config_home)
    matches = [k for k in installed if k == spec or "@" not in spec and split_key(k)[0] == spec]
    if len(matches) == 1:
        return matches[0]
    raise ClawError(f"plugin {spec!r} is {'ambiguous' if matches else 'not installed'}",
                    hint="'claw plugin list' shows the installed plugins as NAME@MARKETPLACE")


def uninstall(key: str, config_home: Any) -> None:
    """Forget the installed ``name@marketplace`` and delete its copy (the record first: a run never sees
    a half-deleted plugin)."""
    with record_lock(plugins_home(config_home) / INSTALLED_FILE):
        plugins = _installed_raw(config_home)
        plugins.pop(key, None)
        _save_installed(config_home, plugins)
        name, market = split_key(key)
        if NAME.match(name) and NAME.match(market):
            shutil.rmtree(plugins_home(config_home) / "cache" / market / name, ignore_errors=True)
