"""claw.cli.startup_gc: the collector is off during start-up only, and every run mode turns it back on."""

from __future__ import annotations

import gc

import pytest

from claw.cli import startup_gc
from tests.cli.headless_helpers import isolated_env, run_inprocess
from tests.fakes.model_server import ModelServer, reply


@pytest.fixture
def restore_gc():
    yield
    startup_gc._paused = False
    gc.unfreeze()
    gc.enable()


def test_pause_then_resume_turns_the_collector_back_on_with_the_heap_frozen(restore_gc):
    before = gc.get_freeze_count()
    startup_gc.pause()
    assert not gc.isenabled()
    startup_gc.resume()
    assert gc.isenabled()
    assert gc.get_freeze_count() > before


def test_resume_without_pause_does_nothing(restore_gc):
    before = gc.get_freeze_count()
    startup_gc.resume()
    assert gc.isenabled() and gc.get_freeze_count() == before


def test_pause_leaves_a_collector_someone_else_disabled_alone(restore_gc):
    gc.disable()
    startup_gc.pause()
    startup_gc.resume()
    assert not gc.isenabled()  # not ours to turn on


def test_a_headless_run_turns_the_collector_back_on_before_its_turn(tmp_path, monkeypatch, restore_gc):
    from claw.runtime.agent import Agent

    home = tmp_path / "home"
    home.mkdir()
    enabled_when_the_agent_ran = []
    run_agent = Agent.run

    async def recording_run(self, *args, **kwargs):
        enabled_when_the_agent_ran.append(gc.isenabled())
        return await run_agent(self, *args, **kwargs)

    monkeypatch.setattr(Agent, "run", recording_run)
    with ModelServer([reply(text="ok")]) as srv:
        startup_gc.pause()
        run = run_inprocess(["-p", "hi"], isolated_env(srv.env(), home), monkeypatch, tmp_path)
    assert run.code == 0, run.stderr
    assert enabled_when_the_agent_ran == [True]
