"""The MCP client: claw's connections to Model Context Protocol servers, and ``claw mcp serve``.

Modules, lowest first:

- ``expand``: ``${VAR}`` / ``${VAR:-default}`` expansion in server entries.
- ``config``: which servers a run has (settings ``mcpServers``, ``./.mcp.json``, ``--mcp-config``,
  ``--strict-mcp-config``), as typed ``ServerEntry`` values.
- ``transport`` (the interface), ``stdio``, ``streamable_http``, ``legacy_sse``, ``websocket``: moving
  JSON-RPC messages to and from one server.
- ``rpc``: request/response matching, timeouts, cancellation, progress, server-sent requests.
- ``client``: one server's lifecycle (handshake with version negotiation, tools/resources/prompts,
  ``list_changed``, status, shutdown).
- ``results`` and ``tools``: MCP tools and the two resource tools as claw tools.
- ``manager``: every server of a run, connected in parallel with a bounded wait; ``prompts``: their
  prompts as slash commands.
- ``startup``: the run's MCP start-up in two steps (launch before the run is prepared, then finish).
- ``serve``: claw's own tools offered as an MCP server over stdio.

Nothing here prints; the CLI (``claw.cli.mcp_cmd`` and the run setup) decides what users see.
This package imports nothing at import time.
"""

from __future__ import annotations
