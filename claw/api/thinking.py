"""Extended thinking: which ``thinking`` object a request carries, and the max_tokens that goes with it.

Where the wish comes from, first that says something wins (as Claude Code reads them):
  1. ``--thinking disabled``: no thinking;
  2. ``--max-thinking-tokens N``: ``{"type": "enabled", "budget_tokens": N}``;
  3. ``--thinking enabled|adaptive`` without a budget: adaptive thinking on a model that has it
     (registry ``thinking == "adaptive"``), else a budget of ``DEFAULT_BUDGET`` tokens (``for_model``
     decides per request, so ``/model`` and a fallback model get what suits them);
  4. ``MAX_THINKING_TOKENS=N`` in the environment: a budget of N; ``0`` turns thinking off;
  5. settings ``alwaysThinkingEnabled``: ``true`` as 3, ``false`` off.
Unlike Claude Code, claw does not think unasked: with none of these a request has no ``thinking``.

A model the registry knows cannot think (``thinking == ""`` and ``known``) gets no thinking object;
an unknown model (a gateway's name) gets a budget: the server is the judge.

The API wants ``max_tokens > budget_tokens`` (the budget counts against max_tokens) and a budget of at
least ``MIN_BUDGET``: ``fit`` raises max_tokens to the budget plus ``ANSWER_ROOM`` (within the model's
output limit) and lowers a budget that still does not fit. Interleaved thinking (thinking between tool
calls) needs the ``interleaved-thinking-2025-05-14`` beta on the models the registry marks
``interleaved``; adaptive models interleave by themselves.

Pure functions, no I/O; keeping thinking blocks intact in the history is the accumulator's and the
session's business, not this module's.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

DEFAULT_BUDGET = 16_000
MIN_BUDGET = 1_024
ANSWER_ROOM = 8_192
INTERLEAVED_BETA = "interleaved-thinking-2025-05-14"

Thinking = Optional[Dict[str, Any]]


def thinking_wish(*, flag_budget: Optional[int] = None, flag_mode: Optional[str] = None,
                  env: Optional[Mapping[str, str]] = None, always: Optional[bool] = None) -> Optional[Any]:
    """What the user asked for, model aside: None (nothing said: no thinking), ``False`` (off),
    ``"auto"`` (on, no budget given) or a budget in tokens."""
    if flag_mode == "disabled":
        return False
    if flag_budget:
        return int(flag_budget)
    if flag_mode in ("enabled", "adaptive"):
        return "auto"
    raw = ((env or {}).get("MAX_THINKING_TOKENS") or "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is not None:
            return value if value > 0 else False
    if always is True:
        return "auto"
    if always is False:
        return False
    return None


def request_thinking(wish: Optional[Any]) -> Thinking:
    """The model-independent ``thinking`` object of a wish: a budget, ``{"type": "adaptive"}`` for
    "think, no budget given", or None. ``for_model`` adapts it to the model a request goes to."""
    if wish is None or wish is False:
        return None
    if wish == "auto":
        return {"type": "adaptive"}
    return {"type": "enabled", "budget_tokens": max(MIN_BUDGET, int(wish))}


def for_model(thinking: Thinking, max_tokens: int, *, model_thinking: str, known: bool, max_output: int
              ) -> Tuple[Thinking, int, Tuple[str, ...]]:
    """``(thinking, max_tokens, betas)`` for one model: nothing for a model known not to think,
    adaptive becomes a ``DEFAULT_BUDGET`` budget on a model without adaptive thinking (unknown models
    included), max_tokens fitted (``fit``), the interleaved-thinking beta where the model needs it."""
    if not thinking or thinking.get("type") == "disabled":
        return thinking, max_tokens, ()
    if known and not model_thinking:
        return None, max_tokens, ()
    if thinking.get("type") == "adaptive" and model_thinking != "adaptive":
        thinking = {"type": "enabled", "budget_tokens": DEFAULT_BUDGET}
    thinking, max_tokens = fit(thinking, max_tokens, max_output=max_output, known=known)
    return thinking, max_tokens, betas_for(thinking, model_thinking=model_thinking)


def fit(thinking: Thinking, max_tokens: int, *, max_output: int, known: bool) -> Tuple[Thinking, int]:
    """``(thinking, max_tokens)`` the API accepts: max_tokens above the budget, with room for an answer."""
    if not thinking or thinking.get("type") != "enabled":
        return thinking, max_tokens
    budget = int(thinking.get("budget_tokens") or DEFAULT_BUDGET)
    if max_tokens > budget:
        return thinking, max_tokens
    wanted = budget + ANSWER_ROOM
    if known:
        wanted = min(wanted, max_output)
    if wanted <= budget:  # the budget alone fills the model's output limit: leave room for the answer
        budget = max(MIN_BUDGET, min(budget, wanted - ANSWER_ROOM // 2, wanted - 1))
        thinking = dict(thinking, budget_tokens=budget)
    return thinking, max(wanted, budget + 1)


def betas_for(thinking: Thinking, *, model_thinking: str) -> Tuple[str, ...]:
    """The anthropic-beta values thinking needs on this model."""
    if thinking and thinking.get("type") == "enabled" and model_thinking == "interleaved":
        return (INTERLEAVED_BETA,)
    return ()
