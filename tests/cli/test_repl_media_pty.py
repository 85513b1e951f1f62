"""The REPL on a pty: an image read shows a one-line note (never base64) and a notebook edit applies."""

from __future__ import annotations

import base64
import json

from tests.cli.test_repl_pty import PROMPT, SGR, finish, rig, tool_results  # noqa: F401 (rig is a fixture)
from tests.fakes.model_server import reply, tool_use

PNG = b"\x89PNG\r\n\x1a\n" + b"\x07" * 300


def test_an_image_read_and_a_notebook_edit_in_the_repl(rig):
    (rig.workspace / "shot.png").write_bytes(PNG)
    (rig.workspace / "n.ipynb").write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": "c1", "metadata": {}, "source": "1", "outputs": [], "execution_count": 1}]}))
    rig.serve(reply(tool_uses=[tool_use("read_file", {"path": "shot.png"}, id="r1")]),
              reply(tool_uses=[tool_use("notebook_edit", {"notebook_path": "n.ipynb", "cell_id": "c1",
                                                          "new_source": "print(2)"}, id="e1")]),
              reply(text="all done"))
    proc = rig.start("--permission-mode", "acceptEdits")
    proc.sendline("look and edit")
    shown = SGR.sub("", proc.expect("all done"))
    proc.expect(PROMPT)
    assert finish(proc) == 0
    assert f"[image: image/png, {len(PNG)} bytes]" in shown and base64.b64encode(PNG).decode()[:40] not in shown
    assert "Replaced cell c1" in shown
    assert json.loads((rig.workspace / "n.ipynb").read_text())["cells"][0]["source"] == ["print(2)"]
    assert tool_results(rig.requests()[1]["messages"][-1])[0]["content"][0]["type"] == "image"
