"""MCP results as the text a model reads: tool results, resource contents, prompt messages.

- ``text`` blocks are kept as they are; in a tool result an ``image`` (PNG, JPEG, GIF, WebP, up to
  the API's 5 MB) becomes an image content block (``tool_result_content``), other images and ``audio``
  a note (``[audio: audio/wav, 1234 bytes]``: the Messages API takes no audio);
- an embedded ``resource`` is inlined when it has ``text`` or a ``text/*`` blob (decoded), an image
  blob is an image block like an image, a PDF blob (up to 20 MB) a document block, other blobs are
  noted; a ``resource_link`` is noted with its URI;
- ``structuredContent`` is shown (as compact JSON) when the result has no text block;
- output longer than ``MAX_MCP_OUTPUT_TOKENS`` (Claude Code's variable; about 4 characters a
  token, default 25000 tokens) is cut, with a note saying how much was left out.

Pure functions; ``json`` is imported on use.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

DEFAULT_MAX_OUTPUT_TOKENS = 25000
CHARS_PER_TOKEN = 4


def base64_size(data: Any) -> int:
    """Decoded size of a base64 string, without decoding it."""
    if not isinstance(data, str):
        return 0
    text = "".join(data.split())
    padding = len(text) - len(text.rstrip("="))
    return max(0, len(text) * 3 // 4 - padding)


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def resource_text(resource: Mapping[str, Any]) -> str:
    """One ``TextResourceContents`` / ``BlobResourceContents``."""
    if isinstance(resource.get("text"), str):
        return resource["text"]
    mime = str(resource.get("mimeType") or "")
    if mime.startswith("text/") and isinstance(resource.get("blob"), str):
        import base64

        try:
            return base64.b64decode(resource["blob"]).decode("utf-8", "replace")
        except ValueError:
            pass
    uri = resource.get("uri", "")
    mime = resource.get("mimeType") or "application/octet-stream"
    return f"[resource {uri}: {mime}, {base64_size(resource.get('blob'))} bytes]"


def block_text(block: Any) -> Tuple[str, bool]:
    """(text, is_text_block) for one content block."""
    if not isinstance(block, dict):
        return _dumps(block), False
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", "")), True
    if kind in ("image", "audio"):
        mime = block.get("mimeType") or "unknown type"
        return f"[{kind}: {mime}, {base64_size(block.get('data'))} bytes]", False
    if kind == "resource":
        resource = block.get("resource") if isinstance(block.get("resource"), dict) else {}
        return resource_text(resource), isinstance(resource.get("text"), str) or \
            str(resource.get("mimeType") or "").startswith("text/")
    if kind == "resource_link":
        name = block.get("name")
        label = f" ({name})" if isinstance(name, str) and name else ""
        return f"[resource link: {block.get('uri', '')}{label}]", False
    return _dumps(block), False


def image_block(block: Any) -> Optional[Dict[str, Any]]:
    """An MCP image block, or an embedded image or PDF blob, as an image/document content block, when
    the API takes it."""
    if not isinstance(block, dict):
        return None
    src = block.get("resource") if block.get("type") == "resource" else block
    if block.get("type") not in ("image", "resource") or not isinstance(src, dict):
        return None
    data, mime = src.get("data" if src is block else "blob"), src.get("mimeType")
    from claw.api.types import IMAGE_TYPES, MAX_IMAGE_BYTES, MAX_PDF_BYTES, binary_block

    size = base64_size(data)
    if mime in IMAGE_TYPES and 0 < size <= MAX_IMAGE_BYTES:
        return binary_block("image", mime, "".join(data.split()))
    if mime == "application/pdf" and src is not block and 0 < size <= MAX_PDF_BYTES:
        return binary_block("document", mime, "".join(data.split()))
    return None


def tool_result_content(result: Mapping[str, Any], env: Optional[Mapping[str, str]] = None) -> Tuple[Any, bool]:
    """(content for the model: text, or a list of text, image and document blocks when there are any;
    is_error) for a ``CallToolResult``."""
    content = result.get("content")
    images = [image_block(b) for b in content] if isinstance(content, list) else []
    if not any(images):
        return tool_result_text(result, env)
    blocks: List[Dict[str, Any]] = []
    for block, image in zip(content, images):
        if image is None:
            text = block_text(block)[0]
            if blocks and blocks[-1]["type"] == "text":
                blocks[-1]["text"] += "\n" + text
            else:
                blocks.append({"type": "text", "text": text})
        else:
            blocks.append(image)
    for b in blocks:
        if b["type"] == "text":
            b["text"] = limit_output(b["text"], env)
    return blocks, result.get("isError") is True


def tool_result_text(result: Mapping[str, Any], env: Optional[Mapping[str, str]] = None) -> Tuple[str, bool]:
    """(text for the model, is_error) for a ``CallToolResult``."""
    parts: List[str] = []
    has_text = False
    content = result.get("content")
    for block in content if isinstance(content, list) else []:
        text, is_text = block_text(block)
        has_text = has_text or is_text
        parts.append(text)
    structured = result.get("structuredContent")
    if not has_text and structured is not None:
        parts.append(_dumps(structured))
    is_error = result.get("isError") is True
    text = "\n".join(parts)
    if not text.strip():
        text = "The tool reported an error without details." if is_error else "(no output)"
    return limit_output(text, env), is_error


def limit_output(text: str, env: Optional[Mapping[str, str]] = None) -> str:
    limit = max_output_chars(env)
    if len(text) <= limit:
        return text
    return (text[:limit] + f"\n\n[output truncated: {len(text) - limit} more characters; "
            "raise MAX_MCP_OUTPUT_TOKENS to see more]")


def max_output_chars(env: Optional[Mapping[str, str]] = None) -> int:
    raw = (env or {}).get("MAX_MCP_OUTPUT_TOKENS", "")
    try:
        tokens = int(raw) if raw.strip() else DEFAULT_MAX_OUTPUT_TOKENS
    except ValueError:
        tokens = DEFAULT_MAX_OUTPUT_TOKENS
    return max(1, tokens) * CHARS_PER_TOKEN


def prompt_text(result: Mapping[str, Any]) -> str:
    """A ``GetPromptResult`` as one user message: each message's content, in order (assistant
    messages marked, since a slash command submits the whole as the user's turn)."""
    parts: List[str] = []
    messages = result.get("messages")
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        blocks = content if isinstance(content, list) else [content]
        text = "\n".join(block_text(b)[0] for b in blocks if b is not None)
        if message.get("role") == "assistant":
            text = f"[assistant]\n{text}"
        parts.append(text)
    return "\n\n".join(parts)


def tool_annotations(definition: Mapping[str, Any]) -> Dict[str, bool]:
    """The annotations of a tool definition, as Claude Code's status shows them."""
    annotations = definition.get("annotations") if isinstance(definition.get("annotations"), dict) else {}
    out: Dict[str, bool] = {}
    for key, name in (("readOnlyHint", "readOnly"), ("destructiveHint", "destructive"),
                      ("openWorldHint", "openWorld")):
        if isinstance(annotations.get(key), bool):
            out[name] = annotations[key]
    return out
