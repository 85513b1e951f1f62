"""The model options of a run that go beyond choosing the model: extended thinking, fallback models and
the spending cap, read from the flags, the environment and the settings.

  - thinking: ``--thinking``, ``--max-thinking-tokens``, ``MAX_THINKING_TOKENS``, settings
    ``alwaysThinkingEnabled`` -> the request's ``thinking`` object (claw.api.thinking says how);
  - fallback: ``--fallback-model A[,B]`` (else settings ``fallbackModel``) -> resolved models, each
    different from the main model (Claude Code refuses the same), chained behind the main provider;
  - budget: ``--max-budget-usd X`` needs a price for every model that may answer; a model whose price
    claw does not know makes the flag a usage error, since a cap that cannot be counted would be a
    cap silently ignored.

It builds values for claw.runtime.run and does no I/O of its own (providers open no connection when built).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional

from claw.errors import UsageError

if TYPE_CHECKING:
    from claw.runtime.run import RunOptions


def thinking_of(options: "RunOptions", env: Mapping[str, str], settings: Any) -> Optional[Dict[str, Any]]:
    """The run's ``thinking`` request object (model-independent), or None."""
    from claw.api.thinking import request_thinking, thinking_wish

    wish = thinking_wish(flag_budget=options.max_thinking_tokens, flag_mode=options.thinking, env=env,
                         always=getattr(settings, "always_thinking_enabled", None))
    return request_thinking(wish)


def fallback_models(options: "RunOptions", settings: Any, env: Mapping[str, str], main: Any) -> List[Any]:
    """The fallback models, resolved, in the order they are tried (``--fallback-model`` wins over the
    settings); a usage error when one is the main model."""
    from claw.api.client import resolve_model

    if options.fallback_model is not None:
        names = [n.strip() for n in options.fallback_model.split(",") if n.strip()]
        origin = "--fallback-model"
    else:
        names = [n.strip() for n in getattr(settings, "fallback_models", ()) if n.strip()]
        origin = "settings fallbackModel"
    out: List[Any] = []
    for name in names:
        resolved = resolve_model(name, env, aliases=settings.aliases)
        if resolved.qualified == main.qualified:
            raise UsageError(f"claw: {origin} {name!r} is the main model ({main.model}): a fallback must be "
                             "another model", hint="name another model as the fallback")
        if all(r.qualified != resolved.qualified for r in out):
            out.append(resolved)
    return out


def attach_fallbacks(provider: Any, fallbacks: List[Any], build: Callable[[Any], Any]) -> None:
    """Chain a provider per fallback model behind ``provider`` (each tried once when the one before it
    is overloaded or its model is not found)."""
    current = provider
    for resolved in fallbacks:
        current.fallback = build(resolved)
        current = current.fallback


def check_budget(budget: Optional[float], models: List[Any]) -> None:
    """``--max-budget-usd`` is refused when a model that may answer has no known price."""
    if budget is None:
        return
    for resolved in models:
        if resolved.info.pricing is None:
            raise UsageError(
                f"claw: --max-budget-usd cannot be enforced: the price of {resolved.model!r} is not known",
                hint="use a model claw knows the price of (claw status lists the model), or run without "
                     "--max-budget-usd", kind="unsupported_option")


def cost_function(provider: Any) -> Callable[[str, Any], Optional[float]]:
    """``cost_of(model, usage)`` for the agent: a fallback model's responses at its own prices (the
    agent names the fallback model it asked), everything else at the main model's."""
    main_info = provider.model
    infos = {}
    current = provider.fallback
    while current is not None and current.model.id not in infos:
        infos[current.model.id] = current.model
        current = current.fallback

    def cost_of(model: str, usage: Any) -> Optional[float]:
        return infos.get(model, main_info).cost_usd(usage)

    return cost_of


def move_fallbacks(old: Any, new: Any) -> List[Any]:
    """``/model`` and ``set_model``: the new provider takes over the old one's fallback chain (minus
    the new model itself, returned for the caller to close), so closing the old provider does not
    close them."""
    chain, old.fallback = old.fallback, None
    kept, dropped = [], []
    while chain is not None:
        nxt, chain.fallback = chain.fallback, None
        (dropped if chain.model.id == new.model.id else kept).append(chain)
        chain = nxt
    current = new
    for provider in kept:
        current.fallback = provider
        current = provider
    return dropped
