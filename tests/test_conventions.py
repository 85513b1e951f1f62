"""Conventions of claw's own code that a reviewer would otherwise have to remember."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import claw


def _claw_modules():
    for info in pkgutil.walk_packages(claw.__path__, "claw."):
        if info.name.startswith("claw._vendor") or info.name.endswith("__main__"):
            continue
        yield importlib.import_module(info.name)


def test_every_dataclass_has_a_docstring():
    # A dataclass without a docstring gets one made from inspect.signature() when the class is
    # created: start-up time spent on text nobody reads (about 0.1 ms a class). And it is the convention.
    missing = []
    for module in _claw_modules():
        for name, value in vars(module).items():
            if (isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__
                    and "__doc__" in value.__dict__ and (value.__doc__ or "").startswith(value.__name__ + "(")):
                missing.append(f"{module.__name__}.{name}")
    assert missing == []
