"""Helpers shared by the api tests."""

from __future__ import annotations

import asyncio
from typing import Any, List

from claw.api.types import ModelRequest


class SleepRecorder:
    """An injectable sleep: records the waits, never waits."""

    def __init__(self) -> None:
        self.waits: List[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


def user(text: str) -> dict:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def request(model: str = "sonnet", text: str = "hello", **kwargs: Any) -> ModelRequest:
    return ModelRequest(model=model, messages=[user(text)], **kwargs)


async def collect(provider, req: ModelRequest) -> list:
    events = []
    try:
        async for ev in provider.stream(req):
            events.append(ev)
    finally:
        await provider.aclose()
    return events


def run(coro):
    return asyncio.run(coro)
