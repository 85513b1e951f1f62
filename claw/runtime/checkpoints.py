"""File checkpoints: the content files had before a tool changed them, per user turn, so ``/rewind``
and the SDK's ``rewindFiles`` can put them back.

Before a file-changing call runs (``write_file``, ``edit_file``, and the literal output-redirection
targets of a ``bash`` command), the tool-call runner calls ``snapshot`` with the resolved paths. The
first time a path is seen in a turn, its content (or the fact that it did not exist) is kept:

- ``<session dir>/checkpoints/blobs/<sha256>``: contents, content-addressed (a content kept twice is
  stored once), created ``O_EXCL|O_NOFOLLOW`` mode 0600 in directories claw makes 0700 and verifies
  (``claw.tools.job_output.private_dir``);
- ``<session dir>/checkpoints/index.jsonl``: one JSON line per fact, append-only, 0600: a ``turn``
  line when a user turn starts (once the session has a checkpoint at all; with the host's own id for
  that message when it gave one), and a ``file`` line per path and turn — ``blob`` null when the file
  did not exist.

Caps: a file over ``MAX_FILE_BYTES`` is noted, not kept (a rewind reports it could not restore it);
once the blobs of a session reach ``MAX_SESSION_BYTES`` new contents are no longer kept (noted the
same way). Other commands bash runs cannot be checkpointed: claw cannot know what they change.

``rewind(uuid)`` restores every path changed in that turn or later to its content before the first
such change: files that did not exist are deleted, the others rewritten with their old bytes and
mode. Restoring never follows a symlink (``claw.tools.safe_fs``): a path that is now a symlink, or whose
directories are, is left alone and counted in ``skipped_links``. ``dry_run`` only counts.

It does not touch the conversation (``Session.append_rewind`` does) and never raises from
``snapshot``: a checkpoint that cannot be kept never stops the tool call.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_SESSION_BYTES = 200 * 1024 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


@dataclass
class RewindResult:
    """What a file rewind did (or, ``dry_run``, would do): the SDK's ``RewindFilesResult``."""

    can_rewind: bool
    error: Optional[str] = None
    files_changed: List[str] = field(default_factory=list)
    insertions: int = 0
    deletions: int = 0
    skipped_links: int = 0
    failed: List[str] = field(default_factory=list)  # paths that could not be restored, with why

    def to_sdk(self, *, dry_run: bool = False) -> Dict[str, Any]:
        out: Dict[str, Any] = {"canRewind": self.can_rewind}
        if self.error:
            out["error"] = self.error
        if self.can_rewind:
            out.update(filesChanged=list(self.files_changed), insertions=self.insertions, deletions=self.deletions)
            if not dry_run:
                out["skippedLinks"] = self.skipped_links
        return out


class _Gone(Exception):
    """The path holds a symlink (or a directory on its way is one): never restored through."""


def _read_current(path: str) -> Tuple[Optional[bytes], Optional[int]]:
    """The file's bytes and mode (None, None when it does not exist). Raises ``_Gone`` for a symlink
    anywhere on the path, ``OSError`` for anything else unreadable."""
    from claw.tools.safe_fs import PathChanged, open_for_read

    try:
        fd = open_for_read(path)
    except FileNotFoundError:
        return None, None
    except PathChanged:
        raise _Gone(path) from None
    except OSError as exc:
        if os.path.islink(path):
            raise _Gone(path) from None
        raise exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise IsADirectoryError(f"{path} is not a regular file")
        if st.st_size > MAX_FILE_BYTES:
            raise _TooLarge(st.st_size)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks), stat.S_IMODE(st.st_mode)
    finally:
        os.close(fd)


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def _sha256(data: bytes) -> str:
    """Imported here: hashlib loads OpenSSL, which a run that changes no file never needs."""
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _line_changes(old: Optional[bytes], new: Optional[bytes]) -> Tuple[int, int]:
    """(insertions, deletions) in lines going from ``old`` to ``new`` (None: no file)."""
    import difflib

    a = (old or b"").splitlines()
    b = (new or b"").splitlines()
    if len(a) + len(b) > 200_000:  # too big to diff cheaply: count it as a whole replacement
        return len(b), len(a)
    ins = dels = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            dels += i2 - i1
        if tag in ("replace", "insert"):
            ins += j2 - j1
    return ins, dels


class CheckpointStore:
    """The checkpoints of one session, in ``directory`` (``<session dir>/checkpoints``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.turn: Optional[str] = None  # the current user turn's message uuid
        self._alias: Optional[str] = None  # the host's id for the current turn's message
        self._records: Optional[List[Dict[str, Any]]] = None  # loaded lazily
        self._marked = False  # the current turn's line is written
        self._seen: set = set()  # (turn, path) already kept
        self._bytes = 0
        self.warnings: List[str] = []

    # -- recording -------------------------------------------------------------------------------

    def begin_turn(self, uuid: str, alias: Optional[str] = None) -> None:
        """A user turn starts with the message ``uuid`` (``alias``: the host's id for it). Recorded
        in the index only when the session already has checkpoints (else with the first snapshot)."""
        self.turn, self._alias, self._marked = uuid, alias, False
        if self._exists():
            self._mark_turn()

    def snapshot(self, paths: Iterable[Any]) -> None:
        """Keep the current content of each path (resolved, absolute) before the current turn changes
        it; once per path and turn. Never raises."""
        if self.turn is None:
            return
        for raw in paths:
            path = os.fspath(raw)
            if not os.path.isabs(path) or (self.turn, path) in self._seen:
                continue
            try:
                self._snapshot(path)
            except Exception as exc:  # a checkpoint never stops the call
                self.warnings.append(f"no checkpoint of {path}: {exc}")

    def _snapshot(self, path: str) -> None:
        try:
            data, mode = _read_current(path)
        except _Gone:
            return  # the tool will refuse the path too
        except _TooLarge as exc:
            self._append({"kind": "file", "turn": self.turn, "path": path, "skipped":
                          f"{exc.size} bytes, over the {MAX_FILE_BYTES} byte limit of a checkpoint"})
            self._seen.add((self.turn, path))
            return
        except IsADirectoryError:
            return
        record: Dict[str, Any] = {"kind": "file", "turn": self.turn, "path": path, "blob": None}
        if data is not None:
            digest = _sha256(data)
            blob = self._blobs() / digest
            if not os.path.lexists(blob):
                if self._load_bytes() + len(data) > MAX_SESSION_BYTES:
                    record = {"kind": "file", "turn": self.turn, "path": path,
                              "skipped": f"the session's checkpoints reached {MAX_SESSION_BYTES} bytes"}
                else:
                    self._write_blob(blob, data)
                    self._bytes += len(data)
            if "skipped" not in record:
                record.update(blob=digest, mode=mode, size=len(data))
        self._append(record)
        self._seen.add((self.turn, path))

    # -- rewinding -------------------------------------------------------------------------------

    def knows(self, uuid: str) -> bool:
        return any(r.get("turn") == uuid or r.get("alias") == uuid for r in self._load())

    def rewind(self, uuid: str, *, dry_run: bool = False, history: Sequence[str] = ()) -> RewindResult:
        """Restore the files changed in the turn of message ``uuid`` or later (``history``: the
        session's message uuids, to accept a turn that changed nothing)."""
        records = self._load()
        turn = next((r["turn"] for r in records if r.get("kind") == "turn" and r.get("alias") == uuid), uuid)
        start = next((i for i, r in enumerate(records) if r.get("turn") == turn), None)
        if start is None:
            if turn not in history:
                return RewindResult(False, error=f"No file checkpoint found for message {uuid}.")
            # Every turn since the first checkpoint has a line: this one is older, so every change
            # recorded came after it.
            start = 0
        wanted: Dict[str, Dict[str, Any]] = {}
        for record in records[start:]:
            if record.get("kind") == "file" and record["path"] not in wanted:
                wanted[record["path"]] = record
        result = RewindResult(True)
        for path, record in wanted.items():
            self._restore(path, record, result, dry_run)
        if result.failed and not result.files_changed:
            result.can_rewind = False
            result.error = "Could not restore: " + "; ".join(result.failed)
        elif result.failed:
            result.error = "Some files were not restored: " + "; ".join(result.failed)
        return result

    def _restore(self, path: str, record: Dict[str, Any], result: RewindResult, dry_run: bool) -> None:
        if "skipped" in record:
            result.failed.append(f"{path} was not checkpointed ({record['skipped']})")
            return
        try:
            current, _ = _read_current(path)
        except _Gone:
            result.skipped_links += 0 if dry_run else 1
            return
        except _TooLarge:
            current = None  # replaced by something big: restore over it
        except OSError as exc:
            result.failed.append(f"{path}: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc))
            return
        wanted: Optional[bytes] = None
        if record.get("blob"):
            try:
                wanted = self._read_blob(record["blob"])
            except OSError as exc:
                result.failed.append(f"{path}: its checkpoint could not be read ({exc.strerror or exc})")
                return
        if current == wanted and (current is not None or not os.path.lexists(path)):
            return
        if not dry_run:
            try:
                if wanted is None:
                    _remove(path)
                else:
                    from claw.tools.safe_fs import replace_file

                    replace_file(path, wanted, make_dirs=True, mode=record.get("mode"))
            except _Gone:
                result.skipped_links += 1
                return
            except OSError as exc:
                from claw.tools.safe_fs import PathChanged

                if isinstance(exc, PathChanged):
                    result.skipped_links += 1
                else:
                    result.failed.append(f"{path}: {exc.strerror or exc}")
                return
        ins, dels = _line_changes(current, wanted)
        result.files_changed.append(path)
        result.insertions += ins
        result.deletions += dels

    # -- storage ---------------------------------------------------------------------------------

    def _exists(self) -> bool:
        return os.path.isfile(self.directory / "index.jsonl")

    def _load(self) -> List[Dict[str, Any]]:
        if self._records is None:
            records: List[Dict[str, Any]] = []
            try:
                fd = os.open(str(self.directory / "index.jsonl"), os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
            except OSError:
                fd = -1
            if fd >= 0:
                with os.fdopen(fd, "rb") as fh:
                    for line in fh:
                        try:
                            record = json.loads(line)
                        except ValueError:
                            continue  # a torn last line
                        if isinstance(record, dict) and isinstance(record.get("turn"), str):
                            records.append(record)
            self._records = records
            for r in records:
                if r.get("kind") == "file":
                    self._seen.add((r["turn"], r.get("path")))
        return self._records

    def _load_bytes(self) -> int:
        if not self._bytes:
            sizes = {r["blob"]: r.get("size", 0) for r in self._load() if r.get("blob")}
            self._bytes = sum(int(s) for s in sizes.values() if isinstance(s, int))
        return self._bytes

    def _dirs(self) -> Path:
        from claw.tools.job_output import private_dir

        private_dir(self.directory.parent)
        return private_dir(self.directory)

    def _blobs(self) -> Path:
        from claw.tools.job_output import private_dir

        return private_dir(self._dirs() / "blobs")

    def _mark_turn(self) -> None:
        if self._marked or self.turn is None:
            return
        self._marked = True
        record: Dict[str, Any] = {"kind": "turn", "turn": self.turn}
        if self._alias:
            record["alias"] = self._alias
        self._append(record, mark=False)

    def _append(self, record: Dict[str, Any], *, mark: bool = True) -> None:
        self._load()
        if mark:
            self._mark_turn()
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        fd = os.open(str(self._dirs() / "index.jsonl"),
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _CLOEXEC, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        assert self._records is not None
        self._records.append(record)

    def _write_blob(self, blob: Path, data: bytes) -> None:
        tmp = blob.with_name(f".{blob.name}.{os.getpid()}.tmp")
        fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, blob)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def _read_blob(self, digest: str) -> bytes:
        if not all(c in "0123456789abcdef" for c in digest) or len(digest) != 64:
            raise OSError(f"invalid checkpoint name {digest!r}")
        fd = os.open(str(self.directory / "blobs" / digest), os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            data = fh.read()
        if _sha256(data) != digest:
            raise OSError("its content does not match its checksum")
        return data


def _remove(path: str) -> None:
    """Delete the regular file at the resolved ``path`` without following a symlink on the way."""
    from claw.tools.safe_fs import PathChanged, dir_fd_supported, open_parent

    if not dir_fd_supported():
        if os.path.realpath(os.path.dirname(path)) != os.path.dirname(path) or os.path.islink(path):
            raise _Gone(path)
        os.unlink(path)
        return
    try:
        pfd, name = open_parent(path)
    except FileNotFoundError:
        return
    except PathChanged:
        raise _Gone(path) from None
    try:
        try:
            st = os.lstat(name, dir_fd=pfd)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(st.st_mode):
            raise _Gone(path)
        if not stat.S_ISREG(st.st_mode):
            raise IsADirectoryError(f"{path} is no longer a regular file")
        os.unlink(name, dir_fd=pfd)
    finally:
        os.close(pfd)


def bash_write_paths(command: str, cwd: str) -> List[str]:
    """The files a bash command's output redirections write, resolved against ``cwd`` (the directory
    the command starts in): literal targets only, relative ones only when no ``cd`` can move the shell
    first. What the command's programs write themselves is unknowable and not listed."""
    from claw.runtime.shell_commands import changes_directory, write_targets
    from claw.runtime.shell_syntax import analyse

    analysis = analyse(command)
    if analysis.unknown:
        return []
    moves = changes_directory(analysis)
    out = []
    for target in write_targets(analysis):
        value = target.value
        if not target.literal or value.startswith(("/dev/", "/proc/")):
            continue
        if value.startswith("~"):
            value = os.path.expanduser(value)
        elif not value.startswith("/"):
            if moves:
                continue
            value = os.path.join(cwd, value)
        out.append(os.path.realpath(value))
    return out


def user_prompts(messages: Sequence[Dict[str, Any]], uuids: Sequence[str]) -> List[Tuple[str, str]]:
    """``(uuid, text)`` of the user prompts among ``messages`` (tool results left out), in order."""
    out = []
    for message, uid in zip(messages, uuids):
        content = message.get("content")
        if message.get("role") != "user":
            continue
        if isinstance(content, str):
            out.append((uid, content))
        elif isinstance(content, list) and not any(
                isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
            out.append((uid, " ".join(str(b.get("text", "")) for b in content
                                      if isinstance(b, dict) and b.get("type") == "text")))
    return out
