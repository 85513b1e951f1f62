"""The hooks an SDK host registers in ``initialize``: callback hooks, checked and turned into
``HookSpec``s that the run's hook runner calls back over the control channel (``hook_callback``).

The settings' own hooks were validated by claw.config; the host's arrive as JSON and are checked here:
an unknown event or a bad matcher is a warning (the host's other hooks still apply), never an error.
Deliberately not here: sending the callback and reading its answer (claw.cli.stream_json).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from claw.runtime.hook_config import HookSpec

HOOK_TIMEOUT = 60.0  # seconds, when the host's matcher gives none
HOOK_BACKSTOP = 5.0  # the hook runner's own limit is this much longer than the host's

CallbackMeta = Tuple[float, Optional[str]]  # (timeout in seconds, onFailure) of one callback id


def callback_specs(host_hooks: Mapping[str, Any], *, warn: Callable[[str], None]
                   ) -> Tuple[List[HookSpec], Dict[str, CallbackMeta]]:
    """The specs of ``initialize``'s ``hooks`` (event -> matchers with ``hookCallbackIds``), and each
    callback id's timeout and ``onFailure``."""
    import re

    from claw.config.schema import HOOK_EVENTS

    specs: List[HookSpec] = []
    meta: Dict[str, CallbackMeta] = {}
    for event, matchers in host_hooks.items():
        if event not in HOOK_EVENTS:
            warn(f"hooks: unknown event {event!r} ignored (known: {', '.join(HOOK_EVENTS)})")
            continue
        for index, matcher in enumerate(matchers if isinstance(matchers, list) else []):
            if not isinstance(matcher, dict):
                continue
            pattern = matcher.get("matcher") or ""
            if not isinstance(pattern, str):
                warn(f"hooks.{event}[{index}]: matcher must be a string")
                continue
            pattern = pattern.strip()
            if pattern not in ("", "*"):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    warn(f"hooks.{event}[{index}]: matcher {pattern!r} is not a valid regex ({exc}); "
                         "it matches nothing")
            ids = [i for i in matcher.get("hookCallbackIds") or () if isinstance(i, str)]
            timeout = matcher.get("timeout")
            seconds = float(timeout) if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) \
                and timeout > 0 else HOOK_TIMEOUT
            for callback_id in ids:
                meta[callback_id] = (seconds, matcher.get("onFailure"))
                specs.append(HookSpec(event, pattern, "callback", callback_id=callback_id,
                                      timeout=seconds + HOOK_BACKSTOP))
    return specs, meta
