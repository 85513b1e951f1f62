"""Session files: ``<project>/.claw/sessions/<session-id>.jsonl``, append-only, one JSON record per line.

This module creates, appends to, loads (resumes), lists and forks sessions: ``Session`` is one open
session file, ``SessionStore`` the sessions directory of a project. What a record is and how a history
is rebuilt from records (compactions applied, cut tool pairs repaired) is claw.runtime.session_records;
the cheap one-row summaries of ``list()`` are claw.runtime.session_summary.

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
the original objects for the current process. Thinking blocks are never altered: one that redaction
would change is left out of the stored copy (claw.runtime.session_thinking).

It deliberately does not parse records itself, run the conversation, build compaction summaries,
decide when to compact, or print anything: the loop and the CLI do that with the values returned here.
"""

from __future__ import annotations

import gc
import os
import re
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from claw import __version__
from claw.errors import ClawError, UsageError
from claw.ids import uuid4
from claw.runtime.session_records import (
    SCHEMA_VERSION,
    SUFFIX,
    TOOL_RESULT_STORE_LIMIT,
    Redact,
    SessionMeta,
    apply_compaction,
    cap_for_storage,
    decode_history,
    check_message,
    default_redact,
    encode_record,
    merge_meta,
    now_iso,
)
from claw.runtime.session_thinking import thinking_for_storage

SESSIONS_SUBDIR = os.path.join(".claw", "sessions")
FSYNC_MODES = ("always", "turn", "never")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def validate_session_id(value: str) -> str:
    """``--session-id`` must be a UUID in the 8-4-4-4-12 form (as in Claude Code); returns it lowercased."""
    if not isinstance(value, str) or not _UUID_RE.match(value):
        raise UsageError(
            f"invalid session id {value!r}: it must be a UUID",
            hint="use a value like 123e4567-e89b-12d3-a456-426614174000, or omit --session-id",
            kind="invalid_session_id",
        )
    return value.lower()


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
        self._redact = redact or default_redact
        self.last_warning: Optional[str] = None  # about the last append_message (thinking left out)
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
        check_message(message)
        uid = uuid4()
        stored, truncated = cap_for_storage(message, self._store_limit)
        stored, self.last_warning = thinking_for_storage(stored, self._redact)
        record: dict = {
            "type": "message",
            "v": SCHEMA_VERSION,
            "uuid": uid,
            "parent_uuid": self._last_uuid,
            "timestamp": now_iso(),
            "message": stored,
        }
        if usage:
            record["usage"] = usage
        if truncated:
            record["stored_truncated"] = True
        if self.last_warning:
            record["thinking_dropped"] = True
        self._write(record)
        self._messages.append(message)
        self._uuids.append(uid)
        self._last_uuid = uid
        return uid

    def append_sidechain(self, message: dict, *, agent_id: str, parent_tool_use_id: str,
                         parent_uuid: Optional[str], usage: Optional[dict] = None) -> str:
        """Append one message of a subagent's transcript (a sidechain): in this file, marked
        ``isSidechain`` with the parent's ``tool_use_id``, never part of ``messages`` (a resume skips
        it). The record starts with ``isSidechain`` so the fast message count of a listing skips it too."""
        check_message(message)
        uid = uuid4()
        stored, truncated = cap_for_storage(message, self._store_limit)
        stored, _ = thinking_for_storage(stored, self._redact)
        record: dict = {"isSidechain": True, "type": "message", "v": SCHEMA_VERSION, "uuid": uid,
                        "parent_uuid": parent_uuid, "timestamp": now_iso(), "agentId": agent_id,
                        "parent_tool_use_id": parent_tool_use_id, "message": stored}
        if usage:
            record["usage"] = usage
        if truncated:
            record["stored_truncated"] = True
        self._write(record)
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
        check_message(summary_message)
        replaced = self._resolve_replaced(replaced_uuids, upto)
        uid = uuid4()
        stored, _ = cap_for_storage(summary_message, self._store_limit)
        record: dict = {
            "type": "compaction",
            "v": SCHEMA_VERSION,
            "uuid": uid,
            "parent_uuid": self._last_uuid,
            "timestamp": now_iso(),
            "summary": stored,
            "replaces": replaced,
        }
        if trigger:
            record["trigger"] = trigger
        self._write(record)
        self._messages, self._uuids = apply_compaction(self._messages, self._uuids, uid, summary_message, replaced)
        self._last_uuid = uid
        return uid

    def append_rewind(self, to_uuid: str) -> int:
        """Rewind the conversation: the history goes on from just before the message ``to_uuid``
        (that message and everything after it leave the history; the file keeps them, a ``rewind``
        record says so). Returns how many messages left; ``ValueError`` for a uuid not in the history."""
        if to_uuid not in self._uuids:
            raise ValueError(f"message {to_uuid} is not in the current history")
        index = self._uuids.index(to_uuid)
        self._write({"type": "rewind", "v": SCHEMA_VERSION, "parent_uuid": self._last_uuid,
                     "timestamp": now_iso(), "to": to_uuid})
        removed = len(self._uuids) - index
        self._messages, self._uuids = self._messages[:index], self._uuids[:index]
        self._last_uuid = self._uuids[-1] if self._uuids else None
        return removed

    def set_meta(self, **fields: Any) -> None:
        """Record metadata changes (``title``, ``model``, ``permission_mode``, or other small values)."""
        if not fields:
            return
        record = {"type": "meta", "v": SCHEMA_VERSION, "timestamp": now_iso()}
        record.update(fields)
        self._write(record)
        merge_meta(self.meta, fields)

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
        data = b"".join(encode_record(self._redact(r)) for r in records)
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
    decoded = decode_history(_name_of(path), data)
    messages, uuids, inserted = decoded.messages, decoded.uuids, decoded.inserted
    session = Session(
        path, decoded.meta, messages=messages, uuids=uuids, warnings=decoded.warnings, on_disk=True, redact=redact,
        fsync=fsync,
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
                "timestamp": now_iso(),
                "message": messages[index],
                "synthetic": "interrupted_tool_result",
            }
        )
    return session


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
            session_id=session_id, created_at=now_iso(), cwd=str(cwd), model=model, claw_version=__version__
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
        """Summaries of every session here (claw.runtime.session_summary), most recently updated first."""
        from claw.runtime.session_summary import summarize_session_file

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
            created_at=now_iso(),
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
            fork._write({"type": "meta", "v": SCHEMA_VERSION, "timestamp": now_iso(), "forked": True})
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
