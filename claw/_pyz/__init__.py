"""How claw runs from its .pyz: the bytecode pack format, the import hook, and the start-up tables.

``pack`` is the format of the per-Python files ``claw/_pyz/cpXY.boot`` and ``cpXY.pack``, of the
sources index and of the one stream, and their reader (run time); ``pack_writer`` writes them (build
time); ``importer`` serves claw's modules and files from them; ``tables`` records
(at build time) and serves (at run time) the precompiled dataclass methods and regular expressions;
``cpython`` holds every use of CPython internals, each behind a version check. See docs/BUILD.md.

Nothing here is used when claw runs from a source checkout. This package must stay importable on any
Python 3.9+ without the rest of claw: the generated ``__main__.py`` runs it before anything else.
"""

from __future__ import annotations
