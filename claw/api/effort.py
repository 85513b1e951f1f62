"""The effort level (``--effort``, settings ``effortLevel``): ``output_config.effort`` in a Messages
request, adapted to the model it goes to.

Levels, lowest first: ``low``, ``medium``, ``high``, ``xhigh``, ``max``. The registry lists the levels each
model accepts (``ModelInfo.effort``: none before Claude Opus 4.5; ``low``-``high`` on Opus 4.5;
``max`` from the 4.6 models on; ``xhigh`` from Opus 4.7). A level the model lacks becomes the highest
level it has below it, and a model without effort gets none — as Claude Code downgrades silently, so
that ``/model`` or a fallback model never turn the option into a refused request. A model claw does not
know (a gateway's name) gets the level as asked: the server is the judge. The ``effort-2025-11-24``
beta goes with it, as Claude Code sends it (it was needed on Opus 4.5, harmless after).

Pure; no I/O.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

LEVELS = ("low", "medium", "high", "xhigh", "max")
EFFORT_BETA = "effort-2025-11-24"


def effort_for(level: Optional[str], *, supported: Sequence[str], known: bool) -> Tuple[Optional[str], Tuple[str, ...]]:
    """``(level to send or None, betas)`` for one model."""
    if not level:
        return None, ()
    if known:
        if level not in supported:
            below = [lv for lv in LEVELS[:LEVELS.index(level)] if lv in supported] if level in LEVELS else []
            if not below:
                return None, ()
            level = below[-1]
    return level, (EFFORT_BETA,)
