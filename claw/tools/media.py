"""What ``read_file`` returns for files that are not text: images and PDFs as base64 content blocks,
Jupyter notebooks as their cells with outputs (image outputs as image blocks).

Caps, not conversions: the standard library has no image codec and no robust PDF splitter, so an image
over ``MAX_IMAGE_BYTES`` (5 MB once base64-encoded, the Messages API limit) or a PDF over
``MAX_PDF_BYTES`` / ``MAX_PDF_PAGES`` is refused with a hint. A page range of a PDF (``pages``) is
rendered to PNG images by poppler's ``pdftoppm`` when it is installed (the PDF given on its stdin, the
images in a private temporary directory removed afterwards), as Claude Code does; without it, a clear
error. Notebook JSON is parsed, never executed.
"""

from __future__ import annotations

import base64
import re
from typing import Any, Dict, List, Optional, Tuple

from claw.api.types import IMAGE_TYPES, MAX_IMAGE_BYTES, MAX_PDF_BYTES, binary_block  # noqa: F401 (used and re-exported)

MAX_PDF_PAGES = 100
MAX_NOTEBOOK_IMAGES = 20
MAX_PAGES_PER_READ = 20
MAX_OUTPUT_TEXT = 10_000  # characters of one cell output
_ANSI = r"\x1b\[[0-9;]*[A-Za-z]"  # terminal colours in tracebacks


def sniff(head: bytes) -> Optional[str]:
    """The media type of a supported image or a PDF from its first bytes; None otherwise."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def image(data: bytes, media_type: str, shown: str, size: int) -> Tuple[Optional[List[Dict[str, Any]]], str]:
    """([image block], "") or (None, refusal)."""
    if len(data) > MAX_IMAGE_BYTES:
        return None, (f"{shown} is a {size:,}-byte image, over the {MAX_IMAGE_BYTES:,}-byte limit (5 MB "
                      "once base64-encoded). Make a smaller copy first (e.g. bash `convert in.png -resize 50% "
                      "out.png` or `sips -Z 1600`) and read that.")
    return [binary_block("image", media_type, base64.b64encode(data).decode("ascii"))], ""


def pdf(data: bytes, shown: str, size: int) -> Tuple[Optional[List[Dict[str, Any]]], str]:
    """([document block], "") or (None, refusal): over the size or page cap."""
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))
    if len(data) > MAX_PDF_BYTES or pages > MAX_PDF_PAGES:
        return None, (f"{shown} is a PDF of {size:,} bytes and about {pages} pages, over the limit "
                      f"({MAX_PDF_BYTES:,} bytes, {MAX_PDF_PAGES} pages). Read it a few pages at a time with 'pages' "
                      "(\"1-20\"), or extract its text with bash (`pdftotext -f 1 -l 20 file.pdf -`).")
    return [binary_block("document", "application/pdf", base64.b64encode(data).decode("ascii"))], ""


def pdf_pages(data: bytes, pages: str, shown: str) -> Tuple[Optional[List[Dict[str, Any]]], str, int]:
    """([a label and a PNG image block per page], "", first page) or (None, refusal, 0) for ``pages``
    ("3", "2-5") of the PDF ``data``."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", pages)
    first, last = (int(m.group(1)), int(m.group(2) or m.group(1))) if m else (0, 0)
    if not 1 <= first <= last or last - first >= MAX_PAGES_PER_READ:
        return None, (f"'pages' is one page or a range of at most {MAX_PAGES_PER_READ} pages, like \"3\" or "
                      f"\"1-5\" (got {pages!r})."), 0
    import os
    import shutil
    import subprocess
    import tempfile

    tool = shutil.which("pdftoppm")
    if tool is None:
        return None, ("Reading pages of a PDF needs pdftoppm (poppler: `apt install poppler-utils`, `brew install "
                      f"poppler`), which is not installed. Without 'pages', a PDF of up to {MAX_PDF_PAGES} pages "
                      "is read whole; or extract its text with bash."), 0
    with tempfile.TemporaryDirectory(prefix="claw-pdf-") as out:
        try:
            proc = subprocess.run([tool, "-f", str(first), "-l", str(last), "-png", "-scale-to", "1568", "-",
                                   os.path.join(out, "p")], input=data, capture_output=True, timeout=120)
        except subprocess.TimeoutExpired:
            return None, f"pdftoppm took over 120 s on {shown}; ask for fewer pages.", 0
        blocks: List[Dict[str, Any]] = []
        for number, name in enumerate(sorted(os.listdir(out)), first):
            with open(os.path.join(out, name), "rb") as fh:
                png = fh.read()
            shown_png, why = image(png, "image/png", f"Page {number}", len(png))
            blocks += [{"type": "text", "text": f"[{shown}, page {number}]"}] + (shown_png or [{"type": "text", "text": why}])
    if not blocks:
        why = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return None, f"No page {pages} in {shown}" + (f" (pdftoppm: {why[-1]})" if why else "") + ".", 0
    return blocks, "", first


def source_text(value: Any) -> str:
    """A notebook's multiline string (a str or a list of lines)."""
    return "".join(value) if isinstance(value, list) else str(value or "")


def cell_label(index: int, cell: Dict[str, Any]) -> str:
    cid = cell.get("id")
    return f"cell-{index}" if not isinstance(cid, str) or not cid else cid


def notebook(nb: Any, shown: str) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """(content blocks for the model, cells for ``tool_use_result``). Raises ValueError when ``nb`` is
    not a notebook."""
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("not a Jupyter notebook (no cells list)")
    lang = ((nb.get("metadata") or {}).get("language_info") or {}).get("name") or "python"
    blocks: List[Dict[str, Any]] = []
    text: List[str] = [f"Notebook {shown}: {len(nb['cells'])} cells, language {lang}"]
    cells: List[Dict[str, Any]] = []
    images = 0
    for i, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict):
            continue
        kind = str(cell.get("cell_type") or "code")
        src = source_text(cell.get("source"))
        label = cell_label(i, cell)
        count = cell.get("execution_count")
        head = f'<cell id="{label}" number="{i}" type="{kind}"' + (f' execution_count="{count}"' if count else "")
        text.append(f"{head}>\n{src}\n</cell>")
        cells.append({"cellType": kind, "source": src, "cell_id": label, "language": lang})
        for out in cell.get("outputs") or [] if kind == "code" else []:
            if not isinstance(out, dict):
                continue
            data = out.get("data") if isinstance(out.get("data"), dict) else {}
            picture = next((m for m in IMAGE_TYPES if isinstance(data.get(m), (str, list))), None)
            if picture and images < MAX_NOTEBOOK_IMAGES:
                raw = source_text(data[picture]).replace("\n", "")
                if len(raw) <= MAX_IMAGE_BYTES * 4 // 3:
                    images += 1
                    blocks.append({"type": "text", "text": "\n".join(text) + f"\n<output cell=\"{label}\" type=\"{picture}\"/>"})
                    blocks.append(binary_block("image", picture, raw))
                    text = []
                    continue
                text.append(f"[{picture} output of {len(raw) * 3 // 4:,} bytes not shown: over the image limit]")
                continue
            if picture:
                text.append(f"[{picture} output not shown: more than {MAX_NOTEBOOK_IMAGES} images]")
                continue
            body = _output_text(out, data)
            if body:
                if len(body) > MAX_OUTPUT_TEXT:
                    body = body[:MAX_OUTPUT_TEXT] + f"\n[... {len(body) - MAX_OUTPUT_TEXT} more characters]"
                text.append(f'<output cell="{label}">\n{body}\n</output>')
    if text:
        blocks.append({"type": "text", "text": "\n".join(text)})
    return blocks, cells


def _output_text(out: Dict[str, Any], data: Dict[str, Any]) -> str:
    kind = out.get("output_type")
    if kind == "stream":
        return source_text(out.get("text"))
    if kind == "error":
        trace = "\n".join(out.get("traceback") or []) if isinstance(out.get("traceback"), list) else ""
        return re.sub(_ANSI, "", trace or f"{out.get('ename', 'Error')}: {out.get('evalue', '')}")
    for mime in ("text/plain", "text/markdown", "application/json"):
        if mime in data:
            value = data[mime]
            return source_text(value) if isinstance(value, (str, list)) else repr(value)
    return ""
