"""Fixtures for the settings tests: a throw-away config home and project directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from claw.config.loader import load_settings


class Layout:
    """A config home and a project dir under tmp_path, with helpers to write each settings file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home" / ".claw"
        self.project = root / "project"
        self.project.mkdir(parents=True)
        self.env = {"CLAW_CONFIG_HOME": str(self.home), "HOME": str(root / "home")}

    def path(self, scope: str, fmt: str = "json") -> Path:
        return {
            "user": self.home / f"settings.{fmt}",
            "project-root": self.project / ".claw.json",
            "project": self.project / ".claw" / f"settings.{fmt}",
            "local": self.project / ".claw" / f"settings.local.{fmt}",
        }[scope]

    def write(self, scope: str, content, fmt: str = "json") -> Path:
        path = self.path(scope, fmt)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = content if isinstance(content, str) else json.dumps(content, indent=2)
        path.write_text(text, encoding="utf-8")
        return path

    def load(self, settings_arg=None, **kwargs):
        return load_settings(str(self.project), self.env, settings_arg, **kwargs)


@pytest.fixture
def layout(tmp_path, monkeypatch) -> Layout:
    # Loading must depend on the cwd argument, never on the process's working directory.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for name in list(os.environ):
        if name.startswith("CLAW_"):
            monkeypatch.delenv(name)
    return Layout(tmp_path)
