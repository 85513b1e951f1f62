"""Built-in tools: one module per tool (bash, read_file, ...), shared helpers, and the registry.

``claw.tools.base`` defines what a tool is (spec, validation, target paths, run); ``claw.tools.registry``
maps canonical names and Claude Code aliases to tool classes. Importing this package imports nothing
else: tool modules load when a tool is built. Permission decisions are not made here
(``claw.runtime.permissions``). See docs/TOOLS.md.
"""

from __future__ import annotations
