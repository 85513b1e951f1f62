"""One model call a tool makes beside the conversation (``ToolContext.side_query``: web_fetch's ``prompt``).

For the Anthropic provider the small, fast model answers (``ANTHROPIC_SMALL_FAST_MODEL``, else the
``haiku`` alias, which ``ANTHROPIC_DEFAULT_HAIKU_MODEL`` overrides), over a connection of its own that
is closed after the call; other providers use the run's provider and main model. The answer comes back
with a ``TurnOutcome`` the tool puts in its result metadata (``CHILD_OUTCOME``), so its tokens and cost
count in the run's totals, ``modelUsage`` and ``--max-budget-usd``. Not here: retries beyond the
provider's own, tools, thinking.
"""

from __future__ import annotations

import time
from typing import Any, Tuple

MAX_TOKENS = 2048


async def side_query(run: Any, system: str, prompt: str) -> Tuple[str, Any]:
    from claw.api.types import MessageDone, ModelRequest
    from claw.runtime.events import ModelTally, TurnOutcome

    provider, own, model = run.provider, None, run.agent.settings.model
    if run.resolved_model.provider == "anthropic":
        from claw.api.client import resolve_model
        env = run.env
        resolved = resolve_model(env.get("ANTHROPIC_SMALL_FAST_MODEL") or "haiku", env,
                                 aliases=run.loaded.settings.aliases)
        own = provider = run.provider_for(resolved)
        model = resolved.model
    started = time.monotonic()
    try:
        request = ModelRequest(model=model, system=system, max_tokens=MAX_TOKENS, cache=False,
                               messages=[{"role": "user", "content": [{"type": "text", "text": prompt}]}])
        response = None
        async for event in provider.stream(request):
            if isinstance(event, MessageDone):
                response = event.response
    finally:
        if own is not None:
            await own.aclose()
    if response is None:
        raise RuntimeError("the model stream ended without a message")
    cost = provider.model.cost_usd(response.usage)
    model = response.model or model
    outcome = TurnOutcome("success", response.text, 0, response.usage, cost,
                          int((time.monotonic() - started) * 1000),
                          model_usage={model: ModelTally(response.usage, cost)})
    return response.text, outcome
