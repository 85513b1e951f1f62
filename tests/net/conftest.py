"""Fixtures shared by the network tests: a trustme CA with a localhost certificate (one per test
module) and a NetConfig that trusts it."""

from __future__ import annotations

import pytest

from claw.net.config import NetConfig
from tests.fakes.tls_server import make_tls


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_tls(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def config(tls):
    return NetConfig.from_env({}, ca_files=[tls.ca_path], connect_timeout=5, read_timeout=5)
