"""The session file format: one JSON record per line, and rebuilding a history from those lines.

A session file (schema in docs/SESSIONS.md) is a ``session`` header, ``message`` records (the Anthropic
wire-shape message dict plus uuid, parent uuid, timestamp and usage), ``compaction`` records (a summary
message and the uuids it replaces), ``rewind`` records (the history goes on from just before a
message) and small ``meta`` records (title, model, permission mode). This
module encodes a record (``encode_record``: one line, secrets already redacted by the caller through
``default_redact``, large tool results capped by ``cap_for_storage``), parses lines back
(``parse_records``, skipping damaged ones with a warning), applies compaction records
(``replaced_by_compactions``, ``apply_compaction``, ``fill_placeholders``) and repairs a history whose
turn was cut short after a ``tool_use`` (``repair_tool_pairs`` adds an error ``tool_result``).

It deliberately does no file I/O, locking or listing (claw.runtime.session_store does), and builds no
summaries (claw.runtime.compaction writes them; claw.runtime.session_summary lists sessions).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Sequence

SCHEMA_VERSION = 1
SUFFIX = ".jsonl"
TOOL_RESULT_STORE_LIMIT = 100_000  # characters of one tool_result stored on disk
BINARY_STORE_LIMIT = 6 * 1024 * 1024  # base64 characters of one stored image/document block


INTERRUPTED_TOOL_RESULT = (
    "claw stopped before this tool call finished (the session was interrupted); "
    "its result was not recorded and it may or may not have taken effect."
)


MESSAGE_PREFIX = b'{"type":"message"'
META_PREFIX = b'{"type":"meta"'
Redact = Callable[[Any], Any]


@dataclass
class SessionMeta:
    """What the header and the ``meta`` records say about a session (latest value wins)."""

    session_id: str
    created_at: str
    cwd: str
    model: Optional[str] = None
    claw_version: Optional[str] = None
    parent_session_id: Optional[str] = None
    forked_from_uuid: Optional[str] = None
    title: Optional[str] = None
    permission_mode: Optional[str] = None
    extra: dict = field(default_factory=dict)


def now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def encode_record(record: dict) -> bytes:
    # Lone surrogates (undecodable file names in tool output) become \udcxx escapes: still valid JSON.
    # U+2028/U+2029 are escaped too, so tools that split lines on them (str.splitlines) see one
    # record per line; they can only occur inside JSON strings, where the escape is equivalent.
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    if "\u2028" in text or "\u2029" in text:
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return (text + "\n").encode("utf-8", "backslashreplace")


def default_redact(obj: Any) -> Any:
    """``claw.redact.redact_obj``: the rules, and the secrets of the process environment. A run
    passes its own redactor (``Redactor.redact_obj``), which also knows its settings' secrets."""
    from claw.redact import redact_obj

    return redact_obj(obj)


def _cap_text(text: str, limit: int) -> str:
    head = int(limit * 0.8)
    tail = limit - head
    omitted = len(text) - head - tail
    return (
        f"{text[:head]}\n\n[... claw: {omitted} characters of this tool output were not stored in the "
        f"session file ({len(text)} in total) ...]\n\n{text[len(text) - tail:]}"
    )


def _block_text_size(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text")
    return 0


def _cap_tool_result(block: dict, limit: int) -> dict:
    content = block.get("content")
    out = dict(block)
    if isinstance(content, str):
        out["content"] = _cap_text(content, limit)
        return out
    texts = [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
    joined = "\n".join(t for t in texts if isinstance(t, str))
    others = [b for b in content if not (isinstance(b, dict) and b.get("type") == "text")]
    out["content"] = [{"type": "text", "text": _cap_text(joined, limit)}] + others
    return out


def _cap_binary(block: Any) -> Any:
    """An image or document block as stored: kept up to ``BINARY_STORE_LIMIT`` base64 characters (every
    image read_file accepts), else a note."""
    src = block.get("source") if isinstance(block, dict) else None
    if isinstance(src, dict) and len(str(src.get("data", ""))) > BINARY_STORE_LIMIT:
        return {"type": "text", "text": f"[claw: a {src.get('media_type')} {block.get('type')} of "
                f"{len(src['data']) * 3 // 4:,} bytes was not stored in the session file; read it again]"}
    return block


def cap_for_storage(message: dict, limit: int = TOOL_RESULT_STORE_LIMIT) -> tuple[dict, bool]:
    """The message as it is stored: tool_result blocks over ``limit`` characters truncated (head and
    tail kept, a note in between), binary blocks over ``BINARY_STORE_LIMIT`` replaced by a note. Returns ``(message, truncated)``; the input is never modified."""
    content = message.get("content")
    if not isinstance(content, list):
        return message, False
    changed = False
    blocks = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "tool_result" and _block_text_size(block.get("content")) > limit:
            block = _cap_tool_result(block, limit)
            changed = True
        if isinstance(block, dict) and block.get("type") == "tool_result" and isinstance(block.get("content"), list):
            kept = [_cap_binary(b) for b in block["content"]]
            if any(a is not b for a, b in zip(kept, block["content"])):
                block, changed = dict(block, content=kept), True
        blocks.append(block)
    if not changed:
        return message, False
    out = dict(message)
    out["content"] = blocks
    return out, True


_MESSAGE_UUID_PREFIX = '{"type":"message","v":1,"uuid":"'
_COMPACTION_PREFIX = '{"type":"compaction"'
SKIPPED = "_skipped"


def replaced_by_compactions(text: str) -> set:
    """The uuids that valid compaction records replace (those lines need not be parsed at all)."""
    replaced: set = set()
    needle = "\n" + _COMPACTION_PREFIX
    pos = text.find(needle)
    while pos >= 0:
        end = text.find("\n", pos + 1)
        try:
            record = json.loads(text[pos + 1 : end if end >= 0 else len(text)])
            if isinstance(record.get("replaces"), list) and isinstance(record.get("summary"), dict):
                replaced.update(u for u in record["replaces"] if isinstance(u, str))
        except (ValueError, AttributeError):
            pass
        pos = text.find(needle, pos + 1)
    return replaced


def parse_records(text: str, name: str, skip: set) -> tuple[list, list[str]]:
    """All records of a file's text, one JSON object per line.

    The C scanner of ``json`` is called at each line start (no per-line slicing or decoding).
    Message lines whose uuid is in ``skip`` (compacted away) are not parsed: they become
    ``{"type": "_skipped", "uuid": ..., "at": offset}`` placeholders. A line that does not hold
    exactly one JSON object - a torn write, damage - is skipped and reported.
    """
    from json.scanner import make_scanner

    scan = make_scanner(json.JSONDecoder())
    records: list = []
    warnings: list[str] = []
    append = records.append
    n = len(text)
    idx = 0
    prefix = _MESSAGE_UUID_PREFIX
    plen = len(prefix)
    while idx < n:
        if skip and text.startswith(prefix, idx):
            uid = text[idx + plen : idx + plen + 36]
            if uid in skip:
                append({"type": SKIPPED, "uuid": uid, "at": idx})
                nl = text.find("\n", idx)
                idx = n if nl < 0 else nl + 1
                continue
        try:
            record, end = scan(text, idx)
            if end == n or text[end] == "\n":
                if type(record) is dict:
                    append(record)
                    idx = end + 1
                    continue
                problem = "is not a record"
            else:
                problem = "has data after its record"
        except (StopIteration, ValueError):
            problem = "is not valid JSON"
        nl = text.find("\n", idx)
        stop = n if nl < 0 else nl
        if text[idx:stop].strip():
            line = text.count("\n", 0, idx) + 1
            if nl < 0:
                problem = "is incomplete (torn by an interrupted write)"
            warnings.append(f"session {name}: line {line} {problem}; skipped")
        idx = stop + 1
    return records, warnings


def check_message(message: Any) -> None:
    if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
        raise ValueError("a message is a dict with role 'user' or 'assistant'")
    if not isinstance(message.get("content"), (str, list)):
        raise ValueError("a message's content is a string or a list of blocks")


def apply_compaction(messages: list, uuids: list, summary_uuid: str, summary: dict, replaced: Iterable[str]) -> tuple[list, list]:
    gone = set(replaced)
    new_m: list = []
    new_u: list = []
    inserted = False
    for m, u in zip(messages, uuids):
        if u in gone:
            if not inserted:
                new_m.append(summary)
                new_u.append(summary_uuid)
                inserted = True
            continue
        new_m.append(m)
        new_u.append(u)
    if not inserted:  # nothing it names is in the history (damaged file): keep the summary first
        new_m.insert(0, summary)
        new_u.insert(0, summary_uuid)
    return new_m, new_u


_META_FIELDS = ("title", "model", "permission_mode")


def merge_meta(meta: SessionMeta, fields: dict) -> None:
    for key, value in fields.items():
        if key in ("type", "v", "timestamp"):
            continue
        if key in _META_FIELDS:
            setattr(meta, key, value)
        else:
            meta.extra[key] = value


def fill_placeholders(text: str, messages: list, uuids: list) -> tuple[list, list]:
    out_m, out_u = [], []
    for m, u in zip(messages, uuids):
        if m.get("type") == SKIPPED:
            end = text.find("\n", m["at"])
            try:
                m = json.loads(text[m["at"] : end if end >= 0 else len(text)]).get("message")
            except (ValueError, AttributeError):
                continue
            if not isinstance(m, dict):
                continue
        out_m.append(m)
        out_u.append(u)
    return out_m, out_u


def _is_tool_result_message(message: dict) -> bool:
    content = message.get("content")
    return (
        message.get("role") == "user"
        and isinstance(content, list)
        and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
    )


def _tool_use_ids(message: dict) -> list:
    content = message.get("content")
    if message.get("role") != "assistant" or not isinstance(content, list):
        return []
    return [b.get("id") for b in content if isinstance(b, dict) and b.get("type") == "tool_use"]


_REPAIR_NAMESPACE = "6f1c3a52-8d0e-4c56-9a53-3c2d1e0b7a41"  # a uuid.UUID when used


def _interrupted_results(tool_use_ids: Sequence) -> list:
    return [
        {"type": "tool_result", "tool_use_id": t, "content": INTERRUPTED_TOOL_RESULT, "is_error": True}
        for t in tool_use_ids
    ]


def repair_tool_pairs(messages: list, uuids: list) -> tuple[list, list, list[str], list[int]]:
    """Make a history sendable again after an interruption or damage: every assistant ``tool_use``
    gets a ``tool_result`` in the next message (an error result saying the run was interrupted when
    it is missing), and ``tool_result`` blocks whose ``tool_use`` is not in the previous message are
    dropped (a message left empty goes too).

    Returns ``(messages, uuids, notes, inserted)``: ``inserted`` are the indexes of synthetic
    messages (their uuids derive from the previous uuid, so every load gives the same ones). The
    input lists are returned as they are when nothing needs repair.
    """
    notes: list[str] = []
    inserted: list[int] = []
    out_m: list = []
    out_u: list = []
    changed = False
    pending: list = []  # tool_use ids of the previous assistant message

    def insert_results() -> None:
        import uuid

        prev = out_u[-1] if out_u else ""
        out_m.append({"role": "user", "content": _interrupted_results(pending)})
        out_u.append(str(uuid.uuid5(uuid.UUID(_REPAIR_NAMESPACE), prev)))
        inserted.append(len(out_m) - 1)
        notes.append(f"added interrupted results for {len(pending)} tool call(s)")

    for message, uid in zip(messages, uuids):
        if message.get("role") == "user" and (pending or _is_tool_result_message(message)):
            content = message.get("content")
            blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
            kept = []
            seen: set = set()
            for block in blocks:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    tid = block.get("tool_use_id")
                    if tid not in pending or tid in seen:
                        notes.append(f"dropped a tool_result for unknown tool call {tid}")
                        continue
                    seen.add(tid)
                kept.append(block)
            missing = [t for t in pending if t not in seen]
            if missing:
                notes.append(f"added interrupted results for {len(missing)} tool call(s)")
                kept = _interrupted_results(missing) + kept
            if missing or len(kept) != len(blocks):
                changed = True
                if not kept:
                    pending = []
                    continue
                message = dict(message, content=kept)
        elif pending:
            changed = True
            insert_results()
        pending = _tool_use_ids(message)
        out_m.append(message)
        out_u.append(uid)
    if pending:
        changed = True
        insert_results()
    if not changed:
        return messages, uuids, [], []
    return out_m, out_u, notes, inserted


@dataclass
class DecodedHistory:
    """A session file read back: its metadata, the history to send (compactions applied, cut tool
    pairs repaired), what was odd about the file, and where interrupted results were inserted."""

    meta: SessionMeta
    messages: list
    uuids: list
    warnings: list
    inserted: list  # indexes of the error tool_results repair_tool_pairs added


def decode_history(name: str, data: bytes) -> DecodedHistory:
    """The history in the bytes of session file ``name``; damaged lines and records become warnings."""
    text = data.decode("utf-8", "replace")
    records, warnings = parse_records(text, name, replaced_by_compactions(text))

    meta: Optional[SessionMeta] = None
    messages: list = []
    uuids: list = []
    seen: set = set()
    last_uuid: Optional[str] = None
    newer = False
    unknown_types: set = set()
    lost_links = 0
    out_of_order = 0
    for r in records:
        kind = r.get("type")
        if r.get("v", 1) != SCHEMA_VERSION:
            newer = True
        if r.get("isSidechain") is True:  # a subagent's transcript: not the conversation's history
            continue
        if kind == "message":
            message = r.get("message")
            uid = r.get("uuid")
            if not isinstance(message, dict) or not isinstance(uid, str):
                warnings.append(f"session {name}: a message record without message or uuid; skipped")
                continue
            parent = r.get("parent_uuid")
            if parent is not None and parent != last_uuid:
                if parent in seen:
                    out_of_order += 1  # continues an older message: two writers interleaved
                else:
                    lost_links += 1
            messages.append(message)
            uuids.append(uid)
            seen.add(uid)
            last_uuid = uid
        elif kind == SKIPPED:  # compacted away later in the file: a placeholder keeps its place
            messages.append(r)
            uuids.append(r["uuid"])
            seen.add(r["uuid"])
            last_uuid = r["uuid"]
        elif kind == "compaction":
            summary = r.get("summary")
            uid = r.get("uuid")
            replaced = r.get("replaces")
            if not isinstance(summary, dict) or not isinstance(uid, str) or not isinstance(replaced, list):
                warnings.append(f"session {name}: an invalid compaction record; skipped")
                continue
            messages, uuids = apply_compaction(messages, uuids, uid, summary, replaced)
            seen.add(uid)
            last_uuid = uid
        elif kind == "rewind":  # the history goes on from just before the message "to"
            to = r.get("to")
            if to not in uuids:
                warnings.append(f"session {name}: a rewind to a message not in the history; skipped")
                continue
            cut = uuids.index(to)
            messages, uuids = messages[:cut], uuids[:cut]
            last_uuid = uuids[-1] if uuids else None
        elif kind == "meta":
            if meta is not None:
                merge_meta(meta, r)
        elif kind == "session":
            if meta is None:
                meta = SessionMeta(
                    session_id=str(r.get("session_id") or name),
                    created_at=str(r.get("created_at") or ""),
                    cwd=str(r.get("cwd") or ""),
                    model=r.get("model"),
                    claw_version=r.get("claw_version"),
                    parent_session_id=r.get("parent_session_id"),
                    forked_from_uuid=r.get("forked_from_uuid"),
                )
        else:
            unknown_types.add(str(kind))
    if meta is None:
        warnings.append(f"session {name}: the header record is missing; using the file name as the id")
        meta = SessionMeta(session_id=name, created_at="", cwd="")
    if newer:
        warnings.append(f"session {name}: some records use another schema version than {SCHEMA_VERSION}; read as v{SCHEMA_VERSION}")
    if unknown_types:
        warnings.append(f"session {name}: ignored records of unknown type {sorted(unknown_types)}")
    if lost_links:
        warnings.append(f"session {name}: {lost_links} record(s) refer to a message that is missing (damaged file)")
    if out_of_order:
        warnings.append(
            f"session {name}: {out_of_order} message record(s) do not follow the message before them (two "
            "processes appended at once?); the history is read in file order and tool results that no longer "
            "follow their call are replaced by error results; the file itself keeps every record"
        )

    if any(m.get("type") == SKIPPED for m in messages):  # only in damaged files
        messages, uuids = fill_placeholders(text, messages, uuids)

    messages, uuids, notes, inserted = repair_tool_pairs(messages, uuids)
    warnings.extend(f"session {name}: {note}" for note in notes)
    return DecodedHistory(meta, messages, uuids, warnings, inserted)
