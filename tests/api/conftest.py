"""Fixtures for the api tests: a fake model server per test and providers pointed at it that never
really sleep between retries."""

from __future__ import annotations

from typing import Any, Optional

import pytest

from claw.api.client import ApiSettings, create_provider
from claw.api.retry import RetryPolicy
from tests.api.helpers import SleepRecorder
from tests.fakes.model_server import ModelServer


@pytest.fixture
def server():
    srv = ModelServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def provider_for(server, sleeps):
    """provider_for(model="sonnet", env_overrides..., max_retries=8, idle_timeout=None) -> Provider"""

    def make(model: str = "sonnet", *, max_retries: int = 8, idle_timeout: Optional[float] = None,
             env: Optional[dict] = None, drop: tuple = (), **kwargs: Any):
        e = server.env()
        e.update(env or {})
        for name in drop:
            e.pop(name, None)
        retry = RetryPolicy(max_retries=max_retries, sleep=sleeps, rng=lambda: 0.0)
        settings = ApiSettings(api_timeout=10.0, idle_timeout=idle_timeout, max_retries=max_retries)
        return create_provider(model, env=e, retry=retry, settings=settings, **kwargs)

    return make
