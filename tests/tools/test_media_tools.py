"""read_file on images, PDFs and notebooks; notebook_edit; end to end against the fake model server
(Anthropic and OpenAI-compatible); MCP image results from a real FastMCP server."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import sys
from pathlib import Path

import pytest

from claw.runtime.run import RunOptions
from claw.runtime.run_open import open_run
from claw.tools import media
from tests.fakes.model_server import ModelServer, reply, tool_use
from tests.tools.helpers import call, make_ctx

PNG = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + b"\x01" * 40
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n3 0 obj << /Type /Page >> endobj\n%%EOF\n"


def _nb(minor: int = 5) -> dict:
    return {"nbformat": 4, "nbformat_minor": minor, "metadata": {"language_info": {"name": "python"}}, "cells": [
        {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": ["# Title\n", "text"]},
        {"cell_type": "code", "id": "calc", "metadata": {}, "execution_count": 3, "source": "1 + 1",
         "outputs": [{"output_type": "execute_result", "execution_count": 3, "metadata": {},
                      "data": {"text/plain": ["2"]}},
                     {"output_type": "display_data", "metadata": {},
                      "data": {"image/png": base64.b64encode(PNG).decode(), "text/plain": "<Figure>"}},
                     {"output_type": "error", "ename": "ValueError", "evalue": "bad",
                      "traceback": ["\x1b[31mValueError\x1b[0m: bad"]}]}]}


@pytest.fixture
def ctx(tmp_path):
    return make_ctx(tmp_path)


@pytest.mark.parametrize("name,data,mime", [
    ("p.png", PNG, "image/png"), ("renamed.txt", b"\xff\xd8\xff\xe0" + b"j" * 30, "image/jpeg"),
    ("g.gif", b"GIF89a" + b"g" * 30, "image/gif"), ("w.webp", b"RIFF\0\0\0\0WEBPVP8 " + b"w" * 20, "image/webp"),
])
def test_read_returns_images_as_image_blocks(tmp_path, ctx, name, data, mime):
    (tmp_path / name).write_bytes(data)
    r = call("read_file", {"path": name}, ctx)
    assert not r.is_error
    assert r.content == [{"type": "image", "source": {"type": "base64", "media_type": mime,
                                                      "data": base64.b64encode(data).decode()}}]
    assert r.metadata["type"] == "image" and r.metadata["file"]["originalSize"] == len(data)


def test_read_returns_a_pdf_as_a_document_block(tmp_path, ctx):
    (tmp_path / "d.pdf").write_bytes(PDF)
    r = call("read_file", {"path": "d.pdf"}, ctx)
    assert r.content[0]["type"] == "document"
    assert base64.b64decode(r.content[0]["source"]["data"]) == PDF
    assert r.content[0]["source"]["media_type"] == "application/pdf"


def test_images_and_pdfs_over_the_caps_are_refused_with_a_hint(tmp_path, ctx, monkeypatch):
    (tmp_path / "big.png").write_bytes(PNG + b"\0" * media.MAX_IMAGE_BYTES)
    r = call("read_file", {"path": "big.png"}, ctx)
    assert r.is_error and "over the 3,932,160-byte limit" in r.content and "resize" in r.content
    monkeypatch.setattr(media, "MAX_PDF_PAGES", 2)
    (tmp_path / "long.pdf").write_bytes(PDF.replace(b"%%EOF", b"<< /Type /Page >> /Type /Pages " * 3))
    r = call("read_file", {"path": "long.pdf"}, ctx)
    assert r.is_error and "about 4 pages" in r.content and "pdftotext" in r.content


@pytest.mark.parametrize("name,data,word", [
    ("old.bmp", b"BM" + b"\0" * 20, "cannot be shown"), ("scan.tiff", b"II*\0" + b"\0" * 9, "cannot be shown"),
    ("fake.pdf", b"not a pdf at all", "no %PDF- header"), ("blob.bin", b"abc\0def", "binary file"),
])
def test_other_binaries_are_still_refused(tmp_path, ctx, name, data, word):
    (tmp_path / name).write_bytes(data)
    r = call("read_file", {"path": name}, ctx)
    assert r.is_error and word in r.content


def test_read_a_notebook_shows_cells_ids_and_outputs(tmp_path, ctx):
    (tmp_path / "n.ipynb").write_text(json.dumps(_nb()))
    r = call("read_file", {"path": "n.ipynb"}, ctx)
    assert not r.is_error and [b["type"] for b in r.content] == ["text", "image", "text"]
    text = r.content[0]["text"] + r.content[2]["text"]
    assert '<cell id="intro" number="0" type="markdown">\n# Title\ntext\n</cell>' in text
    assert '<cell id="calc" number="1" type="code" execution_count="3">\n1 + 1' in text
    assert '<output cell="calc">\n2\n</output>' in text and "ValueError: bad" in text and "\x1b" not in text
    assert base64.b64decode(r.content[1]["source"]["data"]) == PNG
    assert r.metadata["file"]["cells"][1]["cell_id"] == "calc"
    raw = call("read_file", {"path": "n.ipynb", "offset": 1, "limit": 3}, ctx)  # as text when narrowed
    assert raw.content.startswith("     1\t{")
    (tmp_path / "bad.ipynb").write_text("{not json")
    assert "not a readable notebook" in call("read_file", {"path": "bad.ipynb"}, ctx).content


# --- notebook_edit ------------------------------------------------------------------------------------

def _edit(tmp_path, ctx, **args):
    return call("notebook_edit", {"notebook_path": str(tmp_path / "n.ipynb"), "new_source": "", **args}, ctx)


def test_notebook_edit_replace_insert_delete(tmp_path, ctx):
    nb_path = tmp_path / "n.ipynb"
    nb_path.write_text(json.dumps(_nb()))
    r = _edit(tmp_path, ctx, cell_id="calc", new_source="x = 2\nx")
    assert not r.is_error, r.content
    nb = json.loads(nb_path.read_text())
    assert nb["cells"][1]["source"] == ["x = 2\n", "x"] and nb["cells"][1]["outputs"] == []
    assert nb["cells"][1]["execution_count"] is None and nb["nbformat_minor"] == 5
    assert r.metadata["notebook"]["old_source"] == "1 + 1"
    r = _edit(tmp_path, ctx, cell_id="intro", new_source="## New", cell_type="markdown", edit_mode="insert")
    cells = json.loads(nb_path.read_text())["cells"]
    assert [c["cell_type"] for c in cells] == ["markdown", "markdown", "code"] and cells[1]["source"] == ["## New"]
    assert len(cells[1]["id"]) == 8 and "outputs" not in cells[1]
    _edit(tmp_path, ctx, new_source="import os", cell_type="code", edit_mode="insert")  # no id: at the start
    cells = json.loads(nb_path.read_text())["cells"]
    assert cells[0]["source"] == ["import os"] and cells[0]["outputs"] == []
    r = _edit(tmp_path, ctx, cell_id="cell-1", edit_mode="delete")
    assert not r.is_error and [c.get("id") for c in json.loads(nb_path.read_text())["cells"]][1:] == [cells[2]["id"], "calc"]
    r = _edit(tmp_path, ctx, cell_number=2, new_source="# md", cell_type="markdown")
    last = json.loads(nb_path.read_text())["cells"][2]
    assert last["cell_type"] == "markdown" and "outputs" not in last and "execution_count" not in last


def test_notebook_edit_errors(tmp_path, ctx):
    nb_path = tmp_path / "n.ipynb"
    nb_path.write_text(json.dumps(_nb()))
    before = nb_path.read_bytes()
    r = _edit(tmp_path, ctx, cell_id="nope", new_source="x")
    assert r.is_error and "No cell 'nope'" in r.content and "intro, calc" in r.content
    r = _edit(tmp_path, ctx, cell_id="calc", new_source="x", edit_mode="insert")
    assert r.is_error and "cell_type" in r.content
    assert _edit(tmp_path, ctx, new_source="x").is_error  # replace needs a cell
    assert nb_path.read_bytes() == before
    (tmp_path / "n.ipynb").write_text("[1, 2]")
    assert "not a valid notebook" in _edit(tmp_path, ctx, cell_id="a").content


# --- end to end -------------------------------------------------------------------------------------

def _env(srv, home: Path) -> dict:
    env = dict(os.environ)
    env.update(srv.env())
    env.update({"HOME": str(home), "CLAW_CONFIG_HOME": str(home / ".claw")})
    return env


def _run(project: Path, home: Path, script, prompt: str, events=None, **options):
    with ModelServer(script) as srv:
        async def go():
            opts = RunOptions(cwd=project, base_env=_env(srv, home), permission_mode="danger-full-access", **options)
            async with await open_run(opts, sink=(events if events is not None else []).append) as run:
                outcome = await run.turn(prompt)
                assert outcome.subtype == "success", outcome
        asyncio.run(go())
        return srv.requests


def test_an_image_and_a_pdf_reach_the_model_and_sessions_show_names_them(tmp_path):
    project, home = tmp_path / "p", tmp_path / "h"
    project.mkdir()
    home.mkdir()
    (project / "shot.png").write_bytes(PNG)
    (project / "doc.pdf").write_bytes(PDF)
    script = [reply(tool_uses=[tool_use("read_file", {"path": "shot.png"}, id="r1"),
                               tool_use("read_file", {"path": "doc.pdf"}, id="r2")]), reply(text="seen")]
    events: list = []
    requests = _run(project, home, script, "look", events)
    results = requests[-1].json["messages"][-1]["content"]
    from claw.runtime.events import ToolFinished

    shown = [e.output for e in events if isinstance(e, ToolFinished)]  # what terminals print (reads run concurrently)
    assert sorted(shown) == [f"[document: application/pdf, {len(PDF):,} bytes]", f"[image: image/png, {len(PNG):,} bytes]"]
    assert results[0]["content"] == [{"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()}}]
    assert results[1]["content"][0]["type"] == "document"
    stored = "".join(f.read_text() for f in (project / ".claw").rglob("*.jsonl"))
    assert base64.b64encode(PNG).decode() in stored  # kept for a resume
    from claw.cli.sessions_cmd import run as sessions

    session_id = next((project / ".claw").rglob("*.jsonl")).stem
    for argv in (["show", session_id], ["export", session_id, "--format", "md"]):  # named, not "[image]"
        out = io.StringIO()
        assert sessions(argv + ["--cwd", str(project)], stdout=out, stderr=io.StringIO()) == 0
        assert f"[image: image/png, {len(PNG):,} bytes]" in out.getvalue()
        assert f"[document: application/pdf, {len(PDF):,} bytes]" in out.getvalue()
        assert base64.b64encode(PNG).decode() not in out.getvalue()


def test_an_openai_compatible_run_gets_the_image_in_a_user_message(tmp_path):
    project, home = tmp_path / "p", tmp_path / "h"
    project.mkdir()
    home.mkdir()
    (project / "shot.png").write_bytes(PNG)
    script = [reply(tool_uses=[tool_use("read_file", {"path": "shot.png"}, id="r1")]), reply(text="seen")]
    requests = _run(project, home, script, "look", model="openai/gpt-4o")
    messages = requests[-1].json["messages"]
    tool_msg, user_msg = messages[-2], messages[-1]
    assert tool_msg["role"] == "tool" and tool_msg["content"] == "[image: shown below]"
    assert user_msg == {"role": "user", "content": [{"type": "image_url", "image_url": {
        "url": "data:image/png;base64," + base64.b64encode(PNG).decode()}}]}


FASTMCP = '''
import base64
from typing import List
from mcp.server.mcpserver import MCPServer
from mcp_types import AudioContent, BlobResourceContents, EmbeddedResource, ImageContent, TextContent
server = MCPServer("pics")
PNG = %r
PDF = %r
@server.tool(description="A picture, a sound, a text blob and a PDF blob")
def snap() -> List:
    blob = BlobResourceContents(uri="file:///n.txt", mime_type="text/plain", blob=base64.b64encode(b"plain words").decode())
    pdf = BlobResourceContents(uri="file:///d.pdf", mime_type="application/pdf", blob=base64.b64encode(PDF).decode())
    return [TextContent(type="text", text="caption"),
            ImageContent(type="image", data=base64.b64encode(PNG).decode(), mime_type="image/png"),
            AudioContent(type="audio", data=base64.b64encode(b"RIFF").decode(), mime_type="audio/wav"),
            EmbeddedResource(type="resource", resource=blob), EmbeddedResource(type="resource", resource=pdf)]
server.run("stdio")
'''


def test_mcp_image_and_pdf_results_reach_the_model_as_image_and_document_blocks(tmp_path):
    pytest.importorskip("mcp.server.mcpserver")
    project, home = tmp_path / "p", tmp_path / "h"
    project.mkdir()
    home.mkdir()
    (project / "srv.py").write_text(FASTMCP % (PNG, PDF))
    (project / ".mcp.json").write_text(json.dumps({"mcpServers": {"pics": {
        "command": sys.executable, "args": [str(project / "srv.py")]}}}))
    script = [reply(tool_uses=[tool_use("mcp__pics__snap", {}, id="m1")]), reply(text="seen")]
    requests = _run(project, home, script, "snap", mcp_config=(str(project / ".mcp.json"),), strict_mcp_config=True)
    content = requests[-1].json["messages"][-1]["content"][0]["content"]
    assert [b["type"] for b in content] == ["text", "image", "text", "document"], content
    assert content[1]["source"] == {"type": "base64", "media_type": "image/png",
                                    "data": base64.b64encode(PNG).decode()}
    assert "[audio: audio/wav, 4 bytes]" in content[2]["text"] and "plain words" in content[2]["text"]
    assert content[3]["source"] == {"type": "base64", "media_type": "application/pdf",
                                    "data": base64.b64encode(PDF).decode()}


def test_notebook_edit_is_a_protected_edit_and_follows_edit_rules(tmp_path):
    from claw.runtime.permissions import PermissionPolicy
    from claw.tools.registry import get_tool

    spec = get_tool("notebook_edit").spec
    policy = PermissionPolicy(mode="acceptEdits", cwd=tmp_path, workspace_roots=[tmp_path])
    target = tmp_path / ".claude" / "n.ipynb"
    decision = policy.decide("notebook_edit", spec, {"notebook_path": str(target)}, [target])
    assert decision.outcome == "ask" and decision.protected
    assert policy.decide("notebook_edit", spec, {"notebook_path": "a.ipynb"}, [tmp_path / "a.ipynb"]).outcome == "allow"
    denying = PermissionPolicy(mode="acceptEdits", cwd=tmp_path, workspace_roots=[tmp_path], deny_rules=["Edit(*.ipynb)"])
    assert denying.decide("notebook_edit", spec, {"notebook_path": "a.ipynb"}, [tmp_path / "a.ipynb"]).outcome == "deny"


def test_a_notebook_edit_is_checkpointed_and_hooks_see_notes_not_base64(tmp_path):
    project, home = tmp_path / "p", tmp_path / "h"
    project.mkdir()
    home.mkdir()
    (project / "n.ipynb").write_text(json.dumps(_nb()))
    (project / "shot.png").write_bytes(PNG)
    log = project / "hook.log"
    (project / ".claude").mkdir()
    (project / ".claude" / "settings.json").write_text(json.dumps({"hooks": {"PostToolUse": [{"matcher": "Read", "hooks": [
        {"type": "command", "command": f"cat >> {log}; echo '{{\"hookSpecificOutput\": {{\"hookEventName\": "
         f"\"PostToolUse\", \"additionalContext\": \"a hook note\"}}}}'"}]}]}}))
    original = (project / "n.ipynb").read_bytes()
    script = [reply(tool_uses=[tool_use("notebook_edit", {"notebook_path": "n.ipynb", "cell_id": "calc",
                                                          "new_source": "3"}, id="e1"),
                               tool_use("read_file", {"path": "shot.png"}, id="r1")]), reply(text="done")]
    with ModelServer(script) as srv:
        async def go():
            opts = RunOptions(cwd=project, base_env=_env(srv, home), permission_mode="danger-full-access")
            async with await open_run(opts, sink=lambda e: None) as run:
                assert (await run.turn("edit")).subtype == "success"
                uuid = [u for u, _ in run.user_turns()][0]
                return run.rewind_files(uuid)
        asyncio.run(go())
        content = srv.requests[-1].json["messages"][-1]["content"][1]["content"]
    assert (project / "n.ipynb").read_bytes() == original  # the rewind restored the notebook
    seen = log.read_text()
    assert f"[image: image/png, {len(PNG)} bytes]" in seen and base64.b64encode(PNG).decode() not in seen
    assert content[0]["type"] == "image" and content[1] == {"type": "text", "text": "a hook note"}


def test_binary_blocks_count_as_a_fixed_cost_and_large_ones_are_not_stored():
    from claw.api.preflight import BINARY_BLOCK_TOKENS, estimate_tokens
    from claw.runtime.session_records import BINARY_STORE_LIMIT, cap_for_storage

    big = media.binary_block("document", "application/pdf", "A" * (BINARY_STORE_LIMIT + 4))
    small = media.binary_block("image", "image/png", "B" * 1000)
    message = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [small, big]}]}
    assert estimate_tokens({"messages": [message]}) < 2 * BINARY_BLOCK_TOKENS + 100
    stored, changed = cap_for_storage(message)
    blocks = stored["content"][0]["content"]
    assert changed and blocks[0] is small and blocks[1]["type"] == "text" and "not stored" in blocks[1]["text"]
    assert message["content"][0]["content"][1] is big  # the input is not modified
