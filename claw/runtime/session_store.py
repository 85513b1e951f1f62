"""Session files: ``<project>/.claw/sessions/<session-id>.jsonl``, append-only, one JSON record per line.

This module creates, appends to, loads (resumes), lists and forks sessions. A session file is a
versioned stream of records (schema in docs/SESSIONS.md): a ``session`` header, ``message`` records
(the Anthropic wire-shape message dict plus uuid, parent uuid, timestamp and usage), ``compaction``
records (a summary message and the uuids it replaces, so a resume sees the compacted history) and
small ``meta`` records (title, model, permission mode).

Durability: every record is written with a single ``os.write`` on an ``O_APPEND`` descriptor, so it
is in the kernel before ``append_*`` returns and a ``kill -9`` loses at most the record in flight.
``fsync`` (power-loss safety, ≈0.5 ms) is done by ``Session.sync()`` / ``close()`` - the loop calls it
at the end of a turn - or per record with ``fsync="always"``. Loading tolerates damage: a torn or
invalid line anywhere is skipped and reported in ``Session.warnings`` (data, not prints), and a turn
cut short after a ``tool_use`` gets an error ``tool_result`` so the history can be sent again.

One writer per session: the first append (or ``open(..., lock=True)``, which a resuming run uses)
takes the file's ``flock`` (claw.runtime.session_lock) until ``close()``; another process trying the
same gets ``SessionInUse``. Readers (show, export, fork's source) take no lock.

Before a record is written, secrets are redacted (``claw.redact``) and tool results over
``TOOL_RESULT_STORE_LIMIT`` characters are stored truncated with a note; the in-memory history keeps
the original objects for the current process.

It deliberately does not run the conversation, build compaction summaries, decide when to compact,
or print anything: the loop and the CLI do that with the values returned here.
"""

from __future__ import annotations

import gc
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence, Union

from claw import __version__
from claw.errors import ClawError, UsageError
from claw.ids import uuid4

SCHEMA_VERSION = 1
SESSIONS_SUBDIR = os.path.join(".claw", "sessions")
SUFFIX = ".jsonl"
TOOL_RESULT_STORE_LIMIT = 100_000  # characters of one tool_result stored on disk
TITLE_LIMIT = 80
FSYNC_MODES = ("always", "turn", "never")

INTERRUPTED_TOOL_RESULT = (
    "claw stopped before this tool call finished (the session was interrupted); "
    "its result was not recorded and it may or may not have taken effect."
)

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_MESSAGE_PREFIX = b'{"type":"message"'
_META_PREFIX = b'{"type":"meta"'

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


@dataclass(frozen=True)
class SessionSummary:
    """One row of ``SessionStore.list()`` (for ``claw sessions`` and ``--resume`` hints)."""

    session_id: str
    title: str
    updated: float  # the file's mtime, epoch seconds
    message_count: int  # message records in the file (compacted ones included)
    size_bytes: int
    path: Path


def validate_session_id(value: str) -> str:
    """``--session-id`` must be a UUID in the 8-4-4-4-12 form (as in Claude Code); returns it lowercased."""
    if not isinstance(value, str) or not _UUID_RE.match(value):
        raise UsageError(
            f"invalid session id {value!r}: it must be a UUID",
            hint="use a value like 123e4567-e89b-12d3-a456-426614174000, or omit --session-id",
            kind="invalid_session_id",
        )
    return value.lower()


def _now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def _dumps(record: dict) -> bytes:
    # Lone surrogates (undecodable file names in tool output) become \udcxx escapes: still valid JSON.
    # U+2028/U+2029 are escaped too, so tools that split lines on them (str.splitlines) see one
    # record per line; they can only occur inside JSON strings, where the escape is equivalent.
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    if "\u2028" in text or "\u2029" in text:
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return (text + "\n").encode("utf-8", "backslashreplace")


_redact_obj: Optional[Redact] = None


def _default_redact(obj: Any) -> Any:
    """``claw.redact.redact_obj`` (the process-wide redactor: known keys, tokens, proxy passwords)."""
    global _redact_obj
    if _redact_obj is None:
        from claw.redact import redact_obj

        _redact_obj = redact_obj
    return _redact_obj(obj)


# ----------------------------------------------------------------------------------------------
# storage shaping: capping large tool results


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


def cap_for_storage(message: dict, limit: int = TOOL_RESULT_STORE_LIMIT) -> tuple[dict, bool]:
    """The message as it is stored: tool_result blocks over ``limit`` characters truncated (head and
    tail kept, a note in between). Returns ``(message, truncated)``; the input is never modified."""
    content = message.get("content")
    if not isinstance(content, list):
        return message, False
    changed = False
    blocks = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "tool_result" and _block_text_size(block.get("content")) > limit:
            block = _cap_tool_result(block, limit)
            changed = True
        blocks.append(block)
    if not changed:
        return message, False
    out = dict(message)
    out["content"] = blocks
    return out, True


# ----------------------------------------------------------------------------------------------
# loading


_MESSAGE_UUID_PREFIX = '{"type":"message","v":1,"uuid":"'
_COMPACTION_PREFIX = '{"type":"compaction"'
_SKIPPED = "_skipped"


def _replaced_by_compactions(text: str) -> set:
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


def _parse_records(text: str, name: str, skip: set) -> tuple[list, list[str]]:
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
                append({"type": _SKIPPED, "uuid": uid, "at": idx})
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


# ----------------------------------------------------------------------------------------------
# the session


class Session:
    """One session: its metadata, its current history (``messages``) and the append methods.

    Obtain it from ``SessionStore.create/open/latest/fork``. The file is created (0600) when the first
    record is appended, so a run that fails before its first message leaves no empty session behind.
    """

    def __init__(
        self,
        path: Path,
        meta: SessionMeta,
        *,
        messages: Optional[list] = None,
        uuids: Optional[list] = None,
        warnings: Optional[list] = None,
        on_disk: bool = False,
        redact: Optional[Redact] = None,
        fsync: str = "turn",
        store_limit: int = TOOL_RESULT_STORE_LIMIT,
    ) -> None:
        if fsync not in FSYNC_MODES:
            raise ValueError(f"fsync must be one of {FSYNC_MODES}")
        self.path = path
        self.meta = meta
        self.warnings: list[str] = list(warnings or [])
        self._messages: list = list(messages or [])
        self._uuids: list = list(uuids or [])
        self._on_disk = on_disk
        self._redact = redact or _default_redact
        self._fsync = fsync
        self._store_limit = store_limit
        self._fd: Optional[int] = None
        self._pending: list[dict] = []  # records to write before the next append (resume repairs)
        self._last_uuid: Optional[str] = self._uuids[-1] if self._uuids else None

    # -- reading

    @property
    def id(self) -> str:
        return self.meta.session_id

    @property
    def messages(self) -> list:
        """The current history (compaction applied), oldest first: what the next request sends."""
        return list(self._messages)

    @property
    def message_uuids(self) -> list:
        """The uuid of each entry of ``messages`` (same order)."""
        return list(self._uuids)

    @property
    def exists(self) -> bool:
        """Whether the file has been written (it is created on the first append)."""
        return self._on_disk

    # -- writing

    def append_message(self, message: dict, usage: Optional[dict] = None) -> str:
        """Append one message (``{"role": "user"|"assistant", "content": ...}``); returns its uuid.

        The stored copy is redacted and capped; ``messages`` keeps ``message`` itself.
        """
        _check_message(message)
        uid = uuid4()
        stored, truncated = cap_for_storage(message, self._store_limit)
        record: dict = {
            "type": "message",
            "v": SCHEMA_VERSION,
            "uuid": uid,
            "parent_uuid": self._last_uuid,
            "timestamp": _now_iso(),
            "message": stored,
        }
        if usage:
            record["usage"] = usage
        if truncated:
            record["stored_truncated"] = True
        self._write(record)
        self._messages.append(message)
        self._uuids.append(uid)
        self._last_uuid = uid
        return uid

    def append_compaction(
        self,
        summary_message: dict,
        *,
        replaced_uuids: Optional[Sequence[str]] = None,
        upto: Union[int, str, None] = None,
        trigger: Optional[str] = None,
    ) -> str:
        """Record a compaction: ``summary_message`` takes the place of the replaced messages.

        Say which with ``replaced_uuids`` (any subset of ``message_uuids``) or ``upto`` (an ``int``:
        that many leading messages of the current history; a ``str``: every message up to and
        including that uuid). The summary is inserted where the first replaced message was. Returns
        the summary's uuid. ``trigger`` (``"manual"``/``"auto"``) is stored for information.
        """
        _check_message(summary_message)
        replaced = self._resolve_replaced(replaced_uuids, upto)
        uid = uuid4()
        stored, _ = cap_for_storage(summary_message, self._store_limit)
        record: dict = {
            "type": "compaction",
            "v": SCHEMA_VERSION,
            "uuid": uid,
            "parent_uuid": self._last_uuid,
            "timestamp": _now_iso(),
            "summary": stored,
            "replaces": replaced,
        }
        if trigger:
            record["trigger"] = trigger
        self._write(record)
        self._messages, self._uuids = _apply_compaction(self._messages, self._uuids, uid, summary_message, replaced)
        self._last_uuid = uid
        return uid

    def set_meta(self, **fields: Any) -> None:
        """Record metadata changes (``title``, ``model``, ``permission_mode``, or other small values)."""
        if not fields:
            return
        record = {"type": "meta", "v": SCHEMA_VERSION, "timestamp": _now_iso()}
        record.update(fields)
        self._write(record)
        _merge_meta(self.meta, fields)

    def set_title(self, title: str) -> None:
        self.set_meta(title=title)

    def set_model(self, model: str) -> None:
        self.set_meta(model=model)

    def set_permission_mode(self, mode: str) -> None:
        self.set_meta(permission_mode=mode)

    def sync(self) -> None:
        """fsync the file (the loop calls this at the end of each turn; ≈0.5 ms)."""
        if self._fd is not None and self._fsync != "never":
            try:
                os.fsync(self._fd)
            except OSError:
                pass

    def close(self) -> None:
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        fd = getattr(self, "_fd", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def __repr__(self) -> str:
        return f"Session(id={self.id!r}, messages={len(self._messages)}, path={str(self.path)!r})"

    # -- internals

    def _resolve_replaced(self, replaced_uuids: Optional[Sequence[str]], upto: Union[int, str, None]) -> list:
        if (replaced_uuids is None) == (upto is None):
            raise ValueError("give exactly one of replaced_uuids or upto")
        if replaced_uuids is not None:
            known = set(self._uuids)
            unknown = [u for u in replaced_uuids if u not in known]
            if unknown:
                raise ValueError(f"not in the current history: {unknown[:3]}")
            return list(replaced_uuids)
        if isinstance(upto, bool) or not isinstance(upto, (int, str)):
            raise TypeError("upto must be an int or a uuid string")
        if isinstance(upto, int):
            if not 0 < upto <= len(self._uuids):
                raise ValueError(f"upto={upto} outside the history of {len(self._uuids)} messages")
            return self._uuids[:upto]
        try:
            index = self._uuids.index(upto)
        except ValueError:
            raise ValueError(f"uuid {upto} is not in the current history") from None
        return self._uuids[: index + 1]

    def _open_fd(self) -> int:
        from claw.runtime.session_lock import open_locked

        directory = self.path.parent
        _ensure_sessions_dir(directory)
        try:
            fd = open_locked(self.path, self.id)
        except OSError as exc:
            raise _io_error("could not open the session file", self.path, exc) from None
        return self._prepare_fd(fd)

    def _prepare_fd(self, fd: int) -> int:
        """Mode 0600 and a complete last line, on a descriptor that holds the lock."""
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)
            size = os.fstat(fd).st_size
            if size:
                # A torn last line must not swallow the next record: end it first.
                with open(str(self.path), "rb") as f:
                    f.seek(size - 1)
                    if f.read(1) != b"\n":
                        os.write(fd, b"\n")
        except OSError as exc:
            os.close(fd)
            raise _io_error("could not prepare the session file", self.path, exc) from None
        return fd

    def _write(self, record: dict) -> None:
        if self._fd is None:
            self._fd = self._open_fd()
        records = self._pending + [record]
        if not self._on_disk:
            records.insert(0, self._header_record())
        self._pending = []
        data = b"".join(_dumps(self._redact(r)) for r in records)
        try:
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            if self._fsync == "always":
                os.fsync(self._fd)
        except OSError as exc:
            raise _io_error("could not write the session file", self.path, exc) from None
        self._on_disk = True

    def _header_record(self) -> dict:
        m = self.meta
        header = {
            "type": "session",
            "v": SCHEMA_VERSION,
            "session_id": m.session_id,
            "created_at": m.created_at,
            "cwd": m.cwd,
            "model": m.model,
            "claw_version": m.claw_version,
            "parent_session_id": m.parent_session_id,
        }
        if m.forked_from_uuid:
            header["forked_from_uuid"] = m.forked_from_uuid
        return header


def _check_message(message: Any) -> None:
    if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
        raise ValueError("a message is a dict with role 'user' or 'assistant'")
    if not isinstance(message.get("content"), (str, list)):
        raise ValueError("a message's content is a string or a list of blocks")


def _apply_compaction(messages: list, uuids: list, summary_uuid: str, summary: dict, replaced: Iterable[str]) -> tuple[list, list]:
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


def _merge_meta(meta: SessionMeta, fields: dict) -> None:
    for key, value in fields.items():
        if key in ("type", "v", "timestamp"):
            continue
        if key in _META_FIELDS:
            setattr(meta, key, value)
        else:
            meta.extra[key] = value


def _io_error(what: str, path: Path, exc: OSError) -> ClawError:
    return ClawError(
        f"{what} {path}: {exc.strerror or exc}",
        hint="check the permissions and free space of the .claw/sessions directory",
        kind="session_io",
        failure_class="runtime_io",
    )


def _ensure_sessions_dir(directory: Path) -> None:
    if directory.is_dir():
        return
    try:
        os.makedirs(str(directory), mode=0o700, exist_ok=True)
        os.chmod(str(directory), 0o700)
        # Sessions hold code and prompts: keep them out of commits by default.
        ignore = directory / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# claw session transcripts (may contain code and prompts)\n*\n")
    except OSError as exc:
        raise _io_error("could not create the sessions directory", directory, exc) from None


def _fill_placeholders(text: str, messages: list, uuids: list) -> tuple[list, list]:
    out_m, out_u = [], []
    for m, u in zip(messages, uuids):
        if m.get("type") == _SKIPPED:
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


def load_session_file(path: Path, *, redact: Optional[Redact] = None, fsync: str = "turn",
                      lock: bool = False) -> Session:
    """Read a session file into a ``Session`` ready to append to (the resume path).

    With ``lock`` the session's one-writer lock is taken before the file is read (``SessionInUse``
    when another process appends to it), so the history read is the one appended to. Without it the
    lock is taken at the first append; readers (show, export, fork) never take it.
    """
    fd: Optional[int] = None
    if lock:
        from claw.runtime.session_lock import open_locked

        try:
            fd = open_locked(path, _name_of(path))
        except OSError as exc:
            raise _io_error("could not open the session file", path, exc) from None
    try:
        try:
            with open(str(path), "rb") as f:
                data = f.read()
        except OSError as exc:
            raise _io_error("could not read the session file", path, exc) from None
        was_enabled = gc.isenabled()
        gc.disable()  # hundreds of thousands of new containers: the cyclic collector would only slow this
        try:
            session = _build_session(path, data, redact, fsync)
        finally:
            if was_enabled:
                gc.enable()
    except BaseException:
        if fd is not None:
            os.close(fd)
        raise
    if fd is not None:
        session._fd = session._prepare_fd(fd)
    return session


def _name_of(path: Path) -> str:
    return path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.name


def _build_session(path: Path, data: bytes, redact: Optional[Redact], fsync: str) -> Session:
    name = _name_of(path)
    text = data.decode("utf-8", "replace")
    records, warnings = _parse_records(text, name, _replaced_by_compactions(text))

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
        elif kind == _SKIPPED:  # compacted away later in the file: a placeholder keeps its place
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
            messages, uuids = _apply_compaction(messages, uuids, uid, summary, replaced)
            seen.add(uid)
            last_uuid = uid
        elif kind == "meta":
            if meta is not None:
                _merge_meta(meta, r)
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

    if any(m.get("type") == _SKIPPED for m in messages):  # only in damaged files
        messages, uuids = _fill_placeholders(text, messages, uuids)

    messages, uuids, notes, inserted = repair_tool_pairs(messages, uuids)
    warnings.extend(f"session {name}: {note}" for note in notes)
    session = Session(
        path, meta, messages=messages, uuids=uuids, warnings=warnings, on_disk=True, redact=redact, fsync=fsync
    )
    if inserted and inserted[-1] == len(messages) - 1:
        # The usual kill -9 case (stopped while a tool ran): persist the interrupted results with the
        # next append so the file tells the same story. Repairs in the middle are re-derived on load.
        index = inserted[-1]
        session._pending.append(
            {
                "type": "message",
                "v": SCHEMA_VERSION,
                "uuid": uuids[index],
                "parent_uuid": uuids[index - 1] if index else None,
                "timestamp": _now_iso(),
                "message": messages[index],
                "synthetic": "interrupted_tool_result",
            }
        )
    return session


# ----------------------------------------------------------------------------------------------
# the store


class SessionStore:
    """The sessions of one workspace: ``<project_dir>/.claw/sessions``.

    ``redact`` (default ``claw.redact.redact_obj``) is applied to every record before it is written;
    ``fsync`` is ``"turn"`` (on ``Session.sync()``/``close()``), ``"always"`` (every record) or
    ``"never"``.
    """

    def __init__(
        self,
        project_dir: Union[str, "os.PathLike[str]"],
        *,
        redact: Optional[Redact] = None,
        fsync: str = "turn",
    ) -> None:
        if fsync not in FSYNC_MODES:
            raise ValueError(f"fsync must be one of {FSYNC_MODES}")
        self.project_dir = Path(project_dir)
        self.directory = self.project_dir / SESSIONS_SUBDIR
        self._redact = redact
        self._fsync = fsync

    def path_for(self, session_id: str) -> Path:
        return self.directory / (validate_session_id(session_id) + SUFFIX)

    def create(self, session_id: Optional[str] = None, *, model: Optional[str], cwd: str) -> Session:
        """A new session (the file appears with its first record). ``session_id`` (``--session-id``)
        must be a UUID not used yet in this workspace."""
        if session_id is None:
            session_id = uuid4()
        else:
            session_id = validate_session_id(session_id)
            if self.path_for(session_id).exists():
                raise UsageError(
                    f"session id {session_id} is already in use in this workspace",
                    hint=f"resume it with --resume {session_id}, or choose another id",
                    kind="session_exists",
                )
        meta = SessionMeta(
            session_id=session_id, created_at=_now_iso(), cwd=str(cwd), model=model, claw_version=__version__
        )
        return Session(self.path_for(session_id), meta, redact=self._redact, fsync=self._fsync)

    def open(self, session_id: str, *, lock: bool = False) -> Session:
        """Resume a session by id or unique id prefix: its history with compactions applied.

        ``lock``: take the one-writer lock now (``SessionInUse`` if another process holds it), as a
        run that will append does; otherwise it is taken at the first append."""
        return load_session_file(self.resolve(session_id), redact=self._redact, fsync=self._fsync, lock=lock)

    def resolve(self, session_id: str) -> Path:
        """The file of a session id or unique prefix; ``UsageError`` with recent sessions otherwise."""
        key = (session_id or "").strip().lower()
        if _UUID_RE.match(key):
            path = self.directory / (key + SUFFIX)
            if path.is_file():
                return path
        elif key and re.match(r"^[0-9a-f-]+$", key):
            matches = sorted(p for p in self._files() if p.name.startswith(key))
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                shown = ", ".join(p.name[: -len(SUFFIX)] for p in matches[:5])
                raise UsageError(
                    f"session id prefix {session_id!r} matches {len(matches)} sessions",
                    hint=f"give more characters: {shown}",
                    kind="session_ambiguous",
                )
        raise UsageError(
            f"no session {session_id!r} in {self.directory}",
            hint=self._recent_hint(),
            kind="session_not_found",
        )

    def latest(self, *, lock: bool = False) -> Session:
        """The most recently written session of this workspace (``--continue``); ``lock`` as ``open``."""
        files = self._files()
        if not files:
            raise UsageError(
                "no session to continue in this workspace",
                hint=f"sessions are kept in {self.directory}; start one without --continue",
                kind="session_not_found",
            )
        newest = max(files, key=lambda p: (_mtime(p), p.name))
        return load_session_file(newest, redact=self._redact, fsync=self._fsync, lock=lock)

    def list(self) -> list:
        """Summaries of every session here, most recently updated first."""
        rows = []
        for path in self._files():
            try:
                rows.append(summarize_session_file(path))
            except OSError:
                continue
        rows.sort(key=lambda s: (s.updated, s.session_id), reverse=True)
        return rows

    def fork(self, session_id: str, *, model: Optional[str] = None, cwd: Optional[str] = None) -> Session:
        """A new session holding a copy of ``session_id``'s current history; it records its parent."""
        source = self.open(session_id)
        meta = SessionMeta(
            session_id=uuid4(),
            created_at=_now_iso(),
            cwd=str(cwd if cwd is not None else source.meta.cwd),
            model=model if model is not None else source.meta.model,
            claw_version=__version__,
            parent_session_id=source.id,
            forked_from_uuid=source.message_uuids[-1] if source.message_uuids else None,
            title=source.meta.title,
            permission_mode=source.meta.permission_mode,
        )
        fork = Session(self.directory / (meta.session_id + SUFFIX), meta, redact=self._redact, fsync=self._fsync)
        fork.warnings.extend(source.warnings)
        if meta.title or meta.permission_mode:
            fields = {k: v for k, v in (("title", meta.title), ("permission_mode", meta.permission_mode)) if v}
            fork.set_meta(**fields)
        for message in source.messages:
            fork.append_message(message)
        if not fork.exists:
            fork._write({"type": "meta", "v": SCHEMA_VERSION, "timestamp": _now_iso(), "forked": True})
        fork.sync()
        return fork

    # -- internals

    def _files(self) -> list:
        try:
            names = os.listdir(str(self.directory))
        except OSError:
            return []
        return [self.directory / n for n in names if n.endswith(SUFFIX) and _UUID_RE.match(n[: -len(SUFFIX)])]

    def _recent_hint(self) -> str:
        recent = self.list()[:5]
        if not recent:
            return f"there are no sessions in {self.directory}"
        shown = "; ".join(f"{s.session_id} ({s.title or 'untitled'})" for s in recent)
        return f"recent sessions: {shown}"


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _first_user_text(message: dict) -> Optional[str]:
    if message.get("role") != "user":
        return None
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
                return block["text"]
    return None


def _shorten(text: str, limit: int = TITLE_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _line_starts(data: bytes, prefix: bytes) -> Iterable[int]:
    """Offsets of the lines of ``data`` that start with ``prefix`` (records begin with their type)."""
    if data.startswith(prefix):
        yield 0
    needle = b"\n" + prefix
    pos = data.find(needle)
    while pos >= 0:
        yield pos + 1
        pos = data.find(needle, pos + 1)


def _line_at(data: bytes, start: int) -> bytes:
    end = data.find(b"\n", start)
    return data[start : end if end >= 0 else len(data)]


def summarize_session_file(path: Path) -> SessionSummary:
    """A list row without parsing every record: counts message lines by their fixed prefix and only
    parses the first user message and the (rare) ``meta`` lines."""
    st = path.stat()
    with open(str(path), "rb") as f:
        data = f.read()
    count = data.count(b"\n" + _MESSAGE_PREFIX) + (1 if data.startswith(_MESSAGE_PREFIX) else 0)
    title: Optional[str] = None
    for start in _line_starts(data, _MESSAGE_PREFIX):
        try:
            record = json.loads(_line_at(data, start))
            text = _first_user_text(record.get("message") or {})
        except (ValueError, AttributeError):
            continue
        if text and text.strip():
            title = _shorten(text)
            break
    for start in _line_starts(data, _META_PREFIX):
        try:
            record = json.loads(_line_at(data, start))
            if isinstance(record.get("title"), str) and record["title"].strip():
                title = _shorten(record["title"])
        except (ValueError, AttributeError):
            continue
    return SessionSummary(
        session_id=path.name[: -len(SUFFIX)],
        title=title or "",
        updated=st.st_mtime,
        message_count=count,
        size_bytes=st.st_size,
        path=path,
    )
