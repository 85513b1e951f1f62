"""``claw help [TOPIC]``: the overview, or one page of the documentation, for someone who has only the .pyz.

The pages are docs/*.md. The build copies them into the archive as ``claw/_docs/NAME.md`` (in its
stream: read through the archive's importer, ``pkgutil.get_data``); from a
source checkout they are read from ``docs/`` beside the package. A topic is a page's name in any case
(``claw help tools``, ``claw help CLI``), or one of a few aliases (``config`` for CONFIGURATION).
The page is printed as it is written (Markdown is plain enough to read on a terminal).

It does not page, colour or reformat anything, and it reads nothing but those pages.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

ALIASES = {"config": "CONFIGURATION", "settings": "CONFIGURATION", "proxy": "PROXIES", "proxies": "PROXIES",
           "permissions": "TOOLS", "security": "TOOLS", "hooks": "HOOKS", "sdk": "EMBEDDING",
           "flags": "CLI", "exit-codes": "CLI", "env": "CLI", "login": "AUTH", "sessions": "SESSIONS",
           "commands": "EXTENSIONS", "skills": "EXTENSIONS"}


def _source_docs_dir() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "docs")


def _bundled(name: str) -> Optional[bytes]:
    import pkgutil

    try:
        return pkgutil.get_data("claw", f"_docs/{name}.md")
    except OSError:
        return None


def topics() -> List[str]:
    """The page names available, lower case, sorted."""
    import zipfile

    names: set = set()
    loader = getattr(sys.modules["claw"], "__loader__", None)
    archive = getattr(loader, "archive", None)
    if archive:
        listed: List[str] = []
        try:
            with zipfile.ZipFile(archive) as zf:
                listed += zf.namelist()
        except (OSError, zipfile.BadZipFile):
            pass
        pyz = sys.modules.get("claw._pyz.importer")  # the pages are in the archive's stream
        if pyz is not None:
            listed += pyz.stream_names()
        names.update(n[len("claw/_docs/"):-3] for n in listed if n.startswith("claw/_docs/") and n.endswith(".md"))
    docs = _source_docs_dir()
    if not names and os.path.isdir(docs):
        names.update(n[:-3] for n in os.listdir(docs) if n.endswith(".md"))
    return sorted(n.lower() for n in names)


def page(topic: str) -> Optional[str]:
    """The text of the page ``topic`` names, or None."""
    name = ALIASES.get(topic.lower(), topic).upper()
    if not name.replace("-", "").replace("_", "").isalnum():
        return None
    data = _bundled(name)
    if data is None:
        try:
            with open(os.path.join(_source_docs_dir(), f"{name}.md"), "rb") as fh:
                data = fh.read()
        except OSError:
            return None
    return data.decode("utf-8", "replace")


def run(args: List[str], overview: str) -> int:
    """``claw help``: ``overview``; ``claw help topics``: the page names; ``claw help TOPIC``: that
    page; an unknown topic exits 2."""
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(overview)
        return 0
    if args[0] == "topics":
        sys.stdout.write("".join(f"{name}\n" for name in topics()))
        return 0
    text = page(args[0])
    if text is None:
        available = ", ".join(topics()) or "none (docs/ is not next to this copy of claw)"
        sys.stderr.write(f"claw: no help topic {args[0]!r}\nhint: topics: {available}\n")
        return 2
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0

