"""Vendored runtime dependencies: h11, wsproto, certifi, tomli.

In the built ``claw.pyz`` the packages live here (``claw/_vendor/h11`` ...), copied from the pinned
wheels in ``vendor.txt`` with their absolute imports rewritten to point here, so a host's installed
copies can never shadow them. In a source checkout or a pip install they are not copied here; then
``from claw._vendor import h11`` falls back to the top-level package installed in the environment.

Import them only at the point of use: ``from claw._vendor import h11`` inside the function that needs
it, never at module top level of anything on the start-up path.
"""

from __future__ import annotations

import importlib

VENDORED = ("h11", "wsproto", "certifi", "tomli")


def __getattr__(name: str):
    if name not in VENDORED:
        raise AttributeError(name)
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        module = importlib.import_module(name)
    globals()[name] = module
    return module


def describe(name: str) -> "str | None":
    """One line for ``claw version`` and ``claw doctor``: ``h11 0.16.0 (vendored)``; None when the
    package is missing (tomli on 3.11+ is never missing: the standard library's tomllib stands in)."""
    import sys

    try:
        module = __getattr__(name)
    except ImportError:
        if name == "tomli" and sys.version_info >= (3, 11):
            return "tomli (not needed: tomllib)"
        return None
    where = "vendored" if module.__name__.startswith(f"{__name__}.") else f"from {module.__file__}"
    return f"{name} {getattr(module, '__version__', '?')} ({where})"


def certifi_pem() -> str:
    """The text of certifi's CA bundle, read through its package's loader without importing certifi
    (whose import costs 15-70 ms in importlib.resources); works inside a zip."""
    import importlib.util
    import os

    for name in (f"{__name__}.certifi", "certifi"):  # the vendored copy first, then an installed one
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        get_data = getattr(spec.loader, "get_data", None) if spec is not None else None
        if get_data is None or not spec.origin:
            continue
        try:
            return get_data(os.path.join(os.path.dirname(spec.origin), "cacert.pem")).decode("ascii")
        except OSError:
            continue
    raise FileNotFoundError("certifi's cacert.pem is neither vendored nor installed")
