"""Where a plugin to load comes from: the one record the plugin store (installed, enabled plugins)
hands to the plugin loader (what a plugin contributes to a run).

It only names a directory and how it was chosen; it reads nothing and validates nothing (the
manifest reader does that when the plugin is loaded).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PluginSource:
    """One plugin directory to load into a run.

    ``origin`` is ``"plugin-dir"`` (``--plugin-dir``, or the SDK's ``plugins`` option) or
    ``"installed"`` (a copy in the plugin store enabled by ``enabledPlugins``); ``key`` is
    ``name@marketplace`` for installed plugins and empty otherwise; ``scope`` is the settings layer
    that enabled it (``user``, ``project``, ``local``, ``cli``).
    """

    path: Path
    origin: str
    key: str = ""
    scope: str = "cli"
