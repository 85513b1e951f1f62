"""The stream-json input protocol: claw as the worker process of an embedding host.

``claw --input-format stream-json --output-format stream-json`` reads NDJSON from stdin and writes
NDJSON to stdout, the protocol the Claude Agent SDK speaks to the Claude Code CLI (docs/EMBEDDING.md
is the reference). One process serves a whole conversation:

- every ``user`` message runs one agent turn; messages that arrive while a turn runs wait in order.
  Each turn writes ``system/init``, the ``assistant`` / ``user`` (tool results) messages as they
  complete (``stream_event`` lines with ``--include-partial-messages``) and one ``result``.
- ``control_request`` from the host: ``initialize`` (hook callbacks, answered with what claw offers),
  ``interrupt`` (the running turn stops; its result says ``interrupted``), and those that change or
  inspect the live run (claw.cli.host_controls: mode, model, thinking, context usage, MCP servers);
  any other subtype gets an error response, never silence.
- ``control_request`` to the host: ``can_use_tool`` when ``--permission-prompt-tool stdio`` is given,
  ``hook_callback`` for hooks registered at initialize, ``mcp_message`` for SDK-hosted MCP servers.
- a line that is not a JSON object, or a ``user`` message without content, is reported on stderr and
  answered with an error ``result`` in turn order; the process goes on.
- end of stdin: queued turns still run, then the process exits with the code of the last result
  (0 success, 1 failure, 2 usage, 130 interrupted). SIGINT interrupts the running turn (with none
  running it stops the process); SIGTERM interrupts it, drops the queue and exits.

Nothing but protocol JSON reaches stdout: while serving, ``sys.stdout`` points at stderr so a stray
print cannot corrupt the stream.

Deliberately not here: reading bytes (claw.cli.transport), request/response matching
(claw.cli.control), the SDK MCP client (claw.cli.sdk_mcp), the message shapes (claw.cli.output) and
the agent itself (claw.runtime).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import traceback
from collections import deque
from typing import IO, TYPE_CHECKING, Any, Deque, Dict, List, Optional, Tuple

from claw.cli import startup_gc
from claw.cli.args import RunArgs
from claw.cli.control import ControlChannel
from claw.cli.host_controls import HostControls
from claw.cli.stdout_guard import StdoutGuard
from claw.cli.output import RunInfo, StreamJsonWriter, init_object, result_object
from claw.cli.transport import StdioTransport, Transport, prompt_of
from claw.errors import ClawError, Interrupted, UsageError
from claw.ids import uuid4

if TYPE_CHECKING:
    from claw.redact import Redactor
    from claw.runtime.run import Run

# What claw's side of the protocol supports, for hosts that detect features instead of versions.
CAPABILITIES = (
    "claw_v1",
    "multi_turn_v1",
    "interrupt_v1",
    "can_use_tool_v1",
    "hook_callback_v1",
    "hook_on_failure_v1",
    "sdk_mcp_v1",
    "session_state_v1",
    "mcp_set_servers_v1",
    "context_usage_v1",
)
_TRUE = ("1", "true", "yes", "on")


def run_stream_json(args: RunArgs, *, stdin: IO[Any], stdout: IO[Any], stderr: IO[str]) -> int:
    """Serve one embedding session on ``stdin``/``stdout``; returns the process exit code."""
    if args.permission_prompt_tool not in (None, "stdio"):
        raise UsageError(f"--permission-prompt-tool {args.permission_prompt_tool!r} is not supported",
                         hint="use --permission-prompt-tool stdio: claw asks the host with can_use_tool")
    if args.prompt:
        raise UsageError("a prompt argument cannot be combined with --input-format stream-json",
                         hint='send it on stdin: {"type": "user", "message": {"role": "user", "content": "..."}}')
    if args.sdk_url:
        with StdoutGuard(stdout, stderr):
            return asyncio.run(_serve_sdk_url(args, stderr=stderr))
    with StdoutGuard(stdout, stderr) as protocol_out:
        transport = StdioTransport(stdin, protocol_out)
        return asyncio.run(serve(args, transport, stderr=stderr))


async def _serve_sdk_url(args: RunArgs, *, stderr: IO[str]) -> int:
    """``--sdk-url``: the same host loop over one WebSocket (claw.remote.sdk_url), authenticated with
    the session token when there is one; a host that cannot be reached raises ``NetworkError``."""
    from claw.cli.setup import run_options
    from claw.config.environment import network_config
    from claw.remote.context import sdk_url_token
    from claw.remote.sdk_url import SdkUrlTransport
    from claw.runtime.run_open import load_settings_for

    loaded, env = load_settings_for(run_options(args))
    transport = SdkUrlTransport(args.sdk_url, network_config(loaded.settings, env), token=sdk_url_token(env))
    await transport.connect()
    try:
        return await serve(args, transport, stderr=stderr)
    finally:
        await transport.close()


async def serve(args: RunArgs, transport: Transport, *, stderr: IO[str],
                base_env: Optional[Dict[str, str]] = None) -> int:
    """The host loop over any transport (stdio, or a WebSocket for ``--sdk-url``: claw.remote.sdk_url;
    the bridge worker's: claw.cli.bridge_worker_cmd); ``base_env`` replaces the process environment."""
    session = HostSession(args, transport, stderr=stderr)
    session.base_env = base_env
    return await session.serve()


class _HostWriter(StreamJsonWriter):
    """The stream-json writer, writing through the transport instead of stdout."""

    def __init__(self, info: RunInfo, *, transport: Transport, stderr: IO[str], partial: bool,
                 replay_user_messages: bool, verbose: bool, redactor: "Redactor") -> None:
        super().__init__(info, partial=partial, replay_user_messages=replay_user_messages, stdout=stderr,
                         stderr=stderr, verbose=verbose, redactor=redactor)
        self.transport = transport

    def emit(self, obj: Dict[str, Any]) -> None:
        from claw.cli.host_vocabulary import host_message

        self.transport.write_nowait(self.redactor.redact_obj(host_message(obj)))  # as write_json_line


class _Item:
    """One entry of the turn queue: a user message to run, or an input error to report in order."""

    def __init__(self, prompt: Any = None, *, error: Optional[ClawError] = None, uuid_: Optional[str] = None,
                 verbatim: bool = False) -> None:
        self.prompt = prompt
        self.verbatim = verbatim  # client_composed (the SDK's verbatim_prompts): never run as a /command
        self.error = error
        self.uuid = uuid_ or uuid4()


class HostSession:
    def __init__(self, args: RunArgs, transport: Transport, *, stderr: IO[str]) -> None:
        self.args = args
        self.transport = transport
        self.err = stderr
        self.channel = ControlChannel(transport)
        self.controls = HostControls(self)  # set_model, mcp_*, get_context_usage...: claw.cli.host_controls
        self.run: Optional["Run"] = None  # from open_run on
        self.writer: Optional[_HostWriter] = None
        self.exit_code = 0
        self._queue: Deque[_Item] = deque()
        self._wakeup = asyncio.Event()
        self._eof = False
        self._stopping = False
        self._turn: Optional["asyncio.Task[Any]"] = None
        self._handlers: Dict[str, "asyncio.Task[None]"] = {}
        self._initialized = False
        self._early_init: Optional[Dict[str, Any]] = None  # the initialize read before start (--await-initialize)
        self._refused: Optional[ClawError] = None  # an initialize field claw cannot honour: every turn fails
        self._sdk_servers: List[Any] = []
        self._sdk_server_names: List[str] = []
        self._ready_task: Optional["asyncio.Task[None]"] = None
        self._pending_model: Optional[Tuple[Optional[str]]] = None
        self._hook_meta: Dict[str, Tuple[float, Optional[str]]] = {}
        self._state: Optional[str] = None
        self.base_env: Optional[Dict[str, str]] = None
        env = os.environ
        self._state_frames = (env.get("CLAUDE_CODE_SDK_READS_SESSION_STATE", "").strip().lower() in _TRUE
                              or env.get("CLAUDE_CODE_EMIT_SESSION_STATE_EVENTS", "").strip().lower() in _TRUE)
        self._state_host_only = env.get("CLAUDE_CODE_EMIT_SESSION_STATE_EVENTS", "").strip().lower() not in _TRUE

    # -- lifecycle --------------------------------------------------------------------------------

    async def serve(self) -> int:
        from claw.cli.sdk_mcp import sdk_server_names
        from claw.cli.setup import run_options
        from claw.runtime.run_open import open_run

        started = time.monotonic()
        early = None
        try:
            if self.args.await_initialize:  # the host's initialize carries MCP servers and the system prompt
                from claw.cli.sdk_initialize import apply_to_args, read_initialize

                early = await read_initialize(self.transport)
                if early.request_message is not None:
                    apply_to_args(self.args, early.request_message["request"])
                    self._early_init = early.request_message["request"]
            self._sdk_server_names = sdk_server_names(self.args.mcp_config)
            prompter = self._ask_host if self.args.permission_prompt_tool == "stdio" else None
            self.run = await open_run(run_options(self.args, self.base_env), sink=self._sink, prompter=prompter)
        except ClawError as exc:  # before anything ran: one error result, as the JSON formats promise
            self._notice_error(exc)
            info = RunInfo(session_id="", model="", cwd="", permission_mode="")
            self.transport.write_nowait(result_object(None, info, duration_ms=_ms(started), error=exc))
            return exc.exit_code
        async with self.run as run:
            for text in run.notices():
                self.err.write(text + "\n")
            startup_gc.resume()
            args = self.args
            self.writer = _HostWriter(run.info, transport=self.transport, stderr=self.err,
                                      partial=args.include_partial_messages,
                                      replay_user_messages=bool(getattr(args, "replay_user_messages", False)),
                                      verbose=args.verbose, redactor=run.redactor)
            for warning in run.session.warnings:  # a damaged session file: which lines were skipped
                self.writer.warning(warning)
            if run.hooks is not None:
                self._install_hooks(None)  # settings hooks, with the host's callback wired in
            for message in (early.before + [early.request_message]) if early is not None else ():
                if isinstance(message, ClawError):
                    self._enqueue(_Item(error=message))
                elif message is not None:
                    self._dispatch(message)
            loop = asyncio.get_running_loop()
            self._on_signals(loop)
            reader = asyncio.ensure_future(self._read_loop())
            try:
                await self._turn_loop()
            finally:
                self._off_signals(loop)
                reader.cancel()
                for task in list(self._handlers.values()):
                    task.cancel()
                if self._ready_task is not None:
                    self._ready_task.cancel()
                await asyncio.gather(reader, *self._handlers.values(), return_exceptions=True)
        return self.exit_code

    async def _read_loop(self) -> None:
        while True:
            try:
                message = await self.transport.read()
            except ClawError as exc:  # a malformed line: report it in turn order, keep reading
                self._notice_error(exc)
                self._enqueue(_Item(error=exc))
                continue
            except Exception as exc:  # reading itself broke: treat as the end of input
                self._warn(f"cannot read stdin: {type(exc).__name__}: {exc}")
                message = None
            if message is None:
                break
            try:
                self._dispatch(message)
            except Exception as exc:  # a bug in one message's handling must not end the session
                self._warn(f"could not handle a {message.get('type')!r} message: {type(exc).__name__}: {exc}")
                traceback.print_exc(file=self.err)
        self._eof = True
        self.channel.close("the host closed stdin")
        self._wakeup.set()

    def _enqueue(self, item: _Item) -> None:
        self._queue.append(item)
        self._wakeup.set()

    async def _turn_loop(self) -> None:
        while True:
            while not self._queue:
                if self._eof or self._stopping:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
            if self._stopping:
                return
            item = self._queue.popleft()
            if item.error is not None or self._refused is not None:
                self._finish_turn(None, item.error or self._refused, started=time.monotonic())
            else:
                await self._run_turn(item)

    # -- messages from the host -------------------------------------------------------------------

    def _dispatch(self, message: Dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "user":
            prompt = prompt_of(message)
            if isinstance(prompt, ClawError):
                self._notice_error(prompt)
                self._enqueue(_Item(error=prompt))
            else:
                self._enqueue(_Item(prompt, uuid_=message.get("uuid") if isinstance(message.get("uuid"), str)
                                    else None, verbatim=message.get("client_composed") is True))
        elif kind == "control_request":
            request_id = message.get("request_id")
            request = message.get("request")
            if not isinstance(request, dict) or request_id is None:
                self._warn("ignoring a control_request without request_id or request")
                return
            if request.get("subtype") == "initialize" and self._refused is None:
                # Checked now, not in the handler task: the SDK sends the first prompt without waiting
                # for the answer, and that turn must fail too.
                from claw.cli.sdk_initialize import apply_run_fields

                self._refused = apply_run_fields(self.run, request)
                if self._refused is not None:
                    self._notice_error(self._refused)
            key = str(request_id)
            task = asyncio.ensure_future(self._handle_control(request_id, request))
            self._handlers[key] = task
            task.add_done_callback(lambda _t, key=key: self._handlers.pop(key, None))
        elif kind == "control_response":
            if not self.channel.handle_response(message):
                self._warn("ignoring a control_response that answers no pending request")
        elif kind == "control_cancel_request":
            task = self._handlers.get(str(message.get("request_id")))
            if task is not None:
                task.cancel()
        elif kind in ("keep_alive",):
            pass
        else:
            self._warn(f"ignoring a stdin message of type {kind!r}")

    async def _handle_control(self, request_id: Any, request: Dict[str, Any]) -> None:
        subtype = request.get("subtype")
        key = subtype if isinstance(subtype, str) else ""
        handler = {"initialize": self._on_initialize, "interrupt": self._on_interrupt}.get(key) \
            or self.controls.handler(key)
        if handler is None:
            self.channel.respond_error(request_id, f"Unsupported control request subtype: {subtype}",
                                       code="unsupported_request")
            return
        try:
            response = await handler(request)
        except asyncio.CancelledError:
            raise
        except ClawError as exc:
            self.channel.respond_error(request_id, exc.message + (f" ({exc.hint})" if exc.hint else ""),
                                       code=exc.kind)
            return
        except Exception as exc:
            traceback.print_exc(file=self.err)
            self.channel.respond_error(request_id, f"internal error in {subtype}: {type(exc).__name__}: {exc}")
            return
        self.channel.respond(request_id, response)

    async def _on_initialize(self, request: Dict[str, Any]) -> Dict[str, Any]:
        if self._initialized:
            raise ClawError("already initialized: send initialize once, first", kind="invalid_request")
        if self._refused is not None:
            raise self._refused
        self._initialized = True
        hooks = request.get("hooks")
        if hooks:
            if not isinstance(hooks, dict):
                raise UsageError("initialize: 'hooks' must be an object of event -> matchers")
            self._install_hooks(hooks)
        if request is not self._early_init:
            from claw.cli.sdk_initialize import apply_system_prompt

            apply_system_prompt(self.run, self.args, request)
            if request.get("mcpServers"):
                self._warn("initialize: 'mcpServers' are read only with --await-initialize; ignored")
        extra_servers = request.get("sdkMcpServers")  # the TypeScript SDK names its servers here
        if isinstance(extra_servers, list) and self._ready_task is None:
            for name in extra_servers:
                if isinstance(name, str) and name and name not in self._sdk_server_names:
                    self._sdk_server_names.append(name)
        info = self.run.info
        if self._sdk_server_names and self._ready_task is None:
            self._ready_task = asyncio.ensure_future(self._connect_sdk_servers())
        from claw.cli.sdk_initialize import initialize_answer

        answer = initialize_answer(info, mcp_servers_applied=request is self._early_init
                                   and bool(request.get("mcpServers")),
                                   session_state="running" if self._turn is not None else "idle")
        answer.update(capabilities=list(CAPABILITIES), agents=self.run.subagents.listing())
        return answer

    async def _on_interrupt(self, request: Dict[str, Any]) -> Dict[str, Any]:
        turn = self._turn
        if turn is not None and not turn.done():
            turn.cancel()
        return {"still_queued": [item.uuid for item in self._queue if item.error is None]}

    # -- one turn ---------------------------------------------------------------------------------

    async def _run_turn(self, item: _Item) -> None:
        started = time.monotonic()
        self._set_state("running")
        self._turn = asyncio.ensure_future(self._turn_body(item.prompt, item.verbatim, item.uuid))
        await asyncio.wait({self._turn})
        turn, self._turn = self._turn, None
        outcome = None
        error: Optional[ClawError] = None
        if turn.cancelled():
            error = Interrupted("the turn was interrupted", hint="send the next user message to continue")
        else:
            exc = turn.exception()
            if isinstance(exc, ClawError):
                error = exc
            elif exc is not None:
                traceback.print_exception(type(exc), exc, exc.__traceback__, file=self.err)
                error = ClawError(f"internal error: {type(exc).__name__}: {exc}", kind="internal_error")
            else:
                outcome = turn.result()
        self._finish_turn(outcome, error, started=started)

    async def _turn_body(self, prompt: Any, verbatim: bool = False, user_uuid: Optional[str] = None) -> Any:
        if self._sdk_server_names:
            if self._ready_task is None:
                self._ready_task = asyncio.ensure_future(self._connect_sdk_servers())
            await asyncio.shield(self._ready_task)
        if self._pending_model is not None:
            (name,), self._pending_model = self._pending_model, None
            await self.run.switch_model(name)
        self.transport.write_nowait(self._init_message())
        # rewindFiles may name the host's id of this prompt
        return await self.run.turn(prompt, verbatim=verbatim, user_uuid=user_uuid)

    def _finish_turn(self, outcome: Any, error: Optional[ClawError], *, started: float) -> None:
        info = self.run.info if self.run is not None else RunInfo("", "", "", "")
        from claw.cli.host_vocabulary import host_message

        result = host_message(result_object(outcome, info, duration_ms=_ms(started), error=error))
        self.transport.write_nowait(self.run.redactor.redact_obj(result) if self.run is not None else result)
        if error is not None:
            self.exit_code = error.exit_code
        elif outcome is not None and outcome.is_error:
            err = outcome.error
            self.exit_code = err.exit_code if isinstance(err, ClawError) else 1
        else:
            self.exit_code = 0
        if not self._queue:
            self._set_state("idle")

    def _init_message(self) -> Dict[str, Any]:
        obj = init_object(self.run.info)
        obj["capabilities"] = list(CAPABILITIES)  # init_object has agents, skills and plugins
        from claw.cli.host_vocabulary import host_message

        return host_message(obj)

    def _emit(self, obj: Dict[str, Any]) -> None:
        """A message of claw's own (redacted, in the host's vocabulary), through the writer."""
        if self.writer is not None:
            self.writer.emit(obj)

    def _set_state(self, state: str) -> None:
        """``session_state_changed`` frames, for hosts that asked for them (the SDK does, to know when a
        run is over: ``running`` during a turn, ``requires_action`` while it waits for the host,
        ``idle`` when nothing is queued). A transport with ``report_state`` hears every change."""
        report = getattr(self.transport, "report_state", None)
        if report is not None:
            report(state)
        if not self._state_frames or state == self._state:
            return
        self._state = state
        frame: Dict[str, Any] = {"type": "system", "subtype": "session_state_changed", "state": state}
        if self._state_host_only:
            frame["sdk_host_only"] = True
        frame.update({"uuid": uuid4(), "session_id": self.run.info.session_id})
        self.transport.write_nowait(frame)

    # -- events from the agent --------------------------------------------------------------------

    def _sink(self, event: Any) -> None:
        if self.writer is not None:
            self.writer(event)

    # -- requests to the host ---------------------------------------------------------------------

    async def _ask_host(self, request: Any) -> Any:
        """The permission prompter: ``can_use_tool`` to the host; a host that cannot answer denies."""
        from claw.cli.host_vocabulary import can_use_tool_fields, permission_answer
        from claw.runtime.tool_calls import PermissionAnswer

        # Claude Code's tool name and input fields for the host; its updatedInput comes back in claw's.
        fields = can_use_tool_fields(request.tool_name, request.input, tool_use_id=request.tool_use_id,
                                     reason=request.reason)
        self._set_state("requires_action")
        try:
            answer = await self.channel.request("can_use_tool", fields)
        except ClawError as exc:
            return PermissionAnswer(allow=False, message=f"no permission: {exc.message}")
        finally:
            if self._turn is not None:
                self._set_state("running")
        behavior = answer.get("behavior")
        if behavior == "allow":
            updated = permission_answer(request.tool_name, answer.get("updatedInput"))
            if request.tool_name == "exit_plan_mode":
                self.controls.plan_approved(answer)
            return PermissionAnswer(allow=True, updated_input=updated if isinstance(updated, dict) else None)
        if behavior == "deny":
            message = answer.get("message")
            return PermissionAnswer(allow=False, message=str(message) if message else "denied by the host",
                                    interrupt=bool(answer.get("interrupt")))
        return PermissionAnswer(allow=False, message=f"the host answered can_use_tool with behavior {behavior!r}"
                                                     " (expected allow or deny)")

    async def _hook_callback(self, callback_id: str, payload: Dict[str, Any], tool_use_id: Optional[str]) -> Any:
        """The HookRunner's callback: ``hook_callback`` to the host, with the matcher's timeout; with
        ``onFailure: block`` a failed callback blocks instead of being a warning."""
        from claw.cli.host_hooks import HOOK_TIMEOUT
        from claw.cli.host_vocabulary import hook_answer, hook_callback_fields

        timeout, on_failure = self._hook_meta.get(callback_id, (HOOK_TIMEOUT, None))
        try:  # the input in Claude Code's names; an updatedInput in the answer comes back in claw's
            fields = hook_callback_fields(callback_id, payload, tool_use_id)
            answer = await self.channel.request("hook_callback", fields, timeout=timeout)
            return hook_answer(payload, answer)
        except ClawError as exc:
            if on_failure == "block":
                return {"decision": "block", "reason": f"hook callback {callback_id} failed: {exc.message}"}
            raise

    def _install_hooks(self, host_hooks: Optional[Dict[str, Any]]) -> None:
        """Settings hooks plus the host's callback hooks, in one HookRunner used by the agent and its
        tool pipeline."""
        from claw.cli.host_hooks import callback_specs

        specs, meta = callback_specs(host_hooks or {}, warn=self._warn)
        self._hook_meta.update(meta)
        self.run.use_hooks(specs, callback=self._hook_callback)
        if getattr(self.args, "include_hook_events", False):  # system/hook_started, hook_response
            from claw.cli.sdk_shapes import hook_event_observer

            self.run.hooks.observer = hook_event_observer(self._emit, self.run.info)

    async def _connect_sdk_servers(self) -> None:
        from claw.cli.sdk_mcp import connect_sdk_servers

        self._sdk_servers = await connect_sdk_servers(self._sdk_server_names, self.channel, self.run,
                                                      disallowed=_disallowed(self.args.disallowed_tools),
                                                      warn=self._warn)

    # -- stderr -----------------------------------------------------------------------------------

    def _warn(self, text: str) -> None:
        self.err.write(f"claw: warning: {text}\n")
        self.err.flush()

    def _notice_error(self, exc: ClawError) -> None:
        message = exc.message if exc.message.startswith("claw") else f"claw: {exc.message}"
        self.err.write(message + (f"\nhint: {exc.hint}" if exc.hint else "") + "\n")
        self.err.flush()

    # -- signals ----------------------------------------------------------------------------------

    def _on_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        from claw.cli import exit_signals

        handlers = [(signal.SIGINT, self._on_sigint, ())]
        handlers += [(sig, self._on_exit_signal, (sig,)) for sig in exit_signals.SIGNALS]
        for sig, handler, extra in handlers:
            try:
                loop.add_signal_handler(sig, handler, *extra)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals
                pass

    def _off_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        from claw.cli import exit_signals

        for sig in (signal.SIGINT,) + exit_signals.SIGNALS:
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        exit_signals.restore()

    def _on_exit_signal(self, sig: int) -> None:
        """SIGTERM/SIGHUP: stop as on end of input; claw exits with 128 + sig (143, 129)."""
        from claw.cli import exit_signals

        exit_signals.note(sig)
        self._terminate()

    def _interrupt_turn(self) -> None:
        if self._turn is not None and not self._turn.done():
            self._turn.cancel()

    def _on_sigint(self) -> None:
        """Ctrl-C: interrupt the running turn; with none running, stop (as SIGTERM)."""
        if self._turn is not None and not self._turn.done():
            self._turn.cancel()
        else:
            self._terminate()

    def _terminate(self) -> None:
        self._stopping = True
        self._queue.clear()
        self._interrupt_turn()
        self._wakeup.set()


def _disallowed(values: List[str]) -> set:
    """Bare names of ``--disallowedTools`` (``mcp__calc__add``, or ``mcp__calc`` for a whole server)."""
    from claw.tools.registry import split_tool_list

    return {item for item in split_tool_list(values) if "(" not in item}


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
