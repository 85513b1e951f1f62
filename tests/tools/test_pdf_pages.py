"""read_file's ``pages`` on a PDF: the pages rendered as PNG images by poppler's real ``pdftoppm``,
end to end against the fake model server; the range checks; a clear error without pdftoppm."""

from __future__ import annotations

import base64
import shutil
import struct
from pathlib import Path
from typing import List, Tuple

import pytest

from tests.tools.helpers import call, make_ctx
from tests.tools.test_media_tools import _run
from tests.fakes.model_server import reply, tool_use

needs_pdftoppm = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")


def make_pdf(sizes: List[Tuple[int, int]]) -> bytes:
    """A valid PDF with one page per (width, height), each saying its number."""
    n = len(sizes)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(n)) + b"] /Count %d >>" % n,
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i, (w, h) in enumerate(sizes):
        text = b"BT /F1 24 Tf 20 20 Td (Page %d) Tj ET" % (i + 1)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 3 0 R >> >> >>" % (w, h, 5 + 2 * i))
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text))
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


def png_size(block) -> Tuple[int, int]:
    data = base64.b64decode(block["source"]["data"])
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", data[16:24])


@needs_pdftoppm
def test_pages_of_a_pdf_reach_the_model_as_page_images(tmp_path):
    project, home = tmp_path / "p", tmp_path / "h"
    project.mkdir()
    home.mkdir()
    (project / "d.pdf").write_bytes(make_pdf([(300, 300), (400, 200), (200, 400)]))
    script = [reply(tool_uses=[tool_use("read_file", {"path": "d.pdf", "pages": "2-3"}, id="r1")]), reply(text="seen")]
    content = _run(project, home, script, "look")[-1].json["messages"][-1]["content"][0]["content"]
    assert [b["type"] for b in content] == ["text", "image", "text", "image"]
    assert [content[0]["text"], content[2]["text"]] == ["[d.pdf, page 2]", "[d.pdf, page 3]"]
    assert png_size(content[1]) == (1568, 784) and png_size(content[3]) == (784, 1568)  # pages 2 and 3, in order


@needs_pdftoppm
def test_one_page_and_pages_past_the_end(tmp_path):
    ctx = make_ctx(tmp_path)
    (tmp_path / "d.pdf").write_bytes(make_pdf([(300, 300), (400, 200)]))
    r = call("read_file", {"path": "d.pdf", "pages": " 2 "}, ctx)
    assert len(r.content) == 2 and png_size(r.content[1]) == (1568, 784)
    assert r.metadata["type"] == "parts" and r.metadata["firstPage"] == 2 and r.metadata["file"]["count"] == 1
    r = call("read_file", {"path": "d.pdf", "pages": "5-6"}, ctx)
    assert r.is_error and r.content.startswith("No page 5-6 in d.pdf")


@pytest.mark.parametrize("pages", ["0", "3-2", "1-21", "two", "1,3"])
def test_bad_page_ranges_are_refused(tmp_path, pages):
    ctx = make_ctx(tmp_path)
    (tmp_path / "d.pdf").write_bytes(make_pdf([(300, 300)]))
    r = call("read_file", {"path": "d.pdf", "pages": pages}, ctx)
    assert r.is_error and "at most 20 pages" in r.content


def test_pages_on_other_files_and_without_pdftoppm(tmp_path, monkeypatch):
    ctx = make_ctx(tmp_path)
    (tmp_path / "a.txt").write_text("text\n")
    r = call("read_file", {"path": "a.txt", "pages": "1"}, ctx)
    assert r.is_error and "PDF files only" in r.content
    (tmp_path / "d.pdf").write_bytes(make_pdf([(300, 300)]))
    monkeypatch.setenv("PATH", str(Path(tmp_path)))  # no pdftoppm there
    r = call("read_file", {"path": "d.pdf", "pages": "1"}, ctx)
    assert r.is_error and "needs pdftoppm" in r.content and "poppler-utils" in r.content
