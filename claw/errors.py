"""The one error hierarchy of claw.

Every failure a user can cause or meet is a ``ClawError`` subclass with a ``kind`` (a stable machine
name, used as ``error.kind`` in JSON output), a ``failure_class`` (one of ``FAILURE_CLASSES``, pinned by
the contract), a one-line ``message``, an optional ``hint`` saying what to do, and the process
``exit_code`` it maps to. The hierarchy is flat on purpose: callers catch ``ClawError`` and read the
fields, instead of walking a tree of types.

This module imports nothing and prints nothing; rendering is the CLI's job. It never holds secrets:
callers must not put keys, tokens or proxy passwords in messages or hints.
"""

from __future__ import annotations

FAILURE_CLASSES = (
    "provider_auth",
    "provider_rate_limit",
    "provider_overloaded",
    "provider_internal",
    "provider_error",
    "provider_transport",
    "provider_retry_exhausted",
    "context_window",
    "request_size",
    "runtime_io",
    "usage",
    "config",
    "tool",
    "interrupted",
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class ClawError(Exception):
    """Base of every classified claw failure.

    Class attributes give the defaults; any of them can be overridden per instance, which is how one
    class (say ``ProviderError``) carries the several failure classes of an HTTP status.
    """

    kind = "error"
    failure_class = "runtime_io"
    exit_code = EXIT_FAILURE
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        kind: str | None = None,
        failure_class: str | None = None,
        request_id: str | None = None,
        status: int | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if kind is not None:
            self.kind = kind
        if failure_class is not None:
            if failure_class not in FAILURE_CLASSES:
                raise ValueError(f"unknown failure_class {failure_class!r}")
            self.failure_class = failure_class
        if retryable is not None:
            self.retryable = retryable
        self.request_id = request_id
        self.status = status

    def to_dict(self) -> dict:
        """The ``error`` object of the JSON result (contract: kind, message, hint, failure_class,
        request_id)."""
        return {
            "kind": self.kind,
            "message": self.message,
            "hint": self.hint,
            "failure_class": self.failure_class,
            "request_id": self.request_id,
        }

    def __str__(self) -> str:
        return self.message


class UsageError(ClawError):
    """Bad flags or arguments: exit 2."""

    kind = "usage"
    failure_class = "usage"
    exit_code = EXIT_USAGE


class ConfigError(ClawError):
    """A settings, MCP or credentials file that cannot be used as written: exit 2."""

    kind = "config"
    failure_class = "config"
    exit_code = EXIT_USAGE


class NetworkError(ClawError):
    """A failure below HTTP: DNS, connect, TLS, proxy, timeouts, a peer breaking the protocol.

    ``kind`` tells which (``connect``, ``timeout``, ``tls_verify``, ``proxy``, ``proxy_auth``,
    ``protocol``, ``closed``); ``retryable`` says whether trying again can help (a refused connection
    can, a certificate mismatch cannot).
    """

    kind = "transport"
    failure_class = "provider_transport"


class ProviderError(ClawError):
    """The model provider answered with an error (HTTP status or an ``error`` event)."""

    kind = "provider_error"
    failure_class = "provider_error"


class ToolFailure(ClawError):
    """A tool could not run (as opposed to a tool that ran and reported an error to the model)."""

    kind = "tool"
    failure_class = "tool"


class SessionInUse(ClawError):
    """Another claw process is appending to the session this run wants to append to (exit 1)."""

    kind = "session_in_use"
    failure_class = "runtime_io"


class Interrupted(ClawError):
    """The user or the embedding host interrupted the run: exit 130."""

    kind = "interrupted"
    failure_class = "interrupted"
    exit_code = EXIT_INTERRUPTED
