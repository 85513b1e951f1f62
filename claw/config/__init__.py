"""Settings: discovery, parsing (JSON and TOML), validation, merge with provenance, typed models,
the effective environment, and writing one scope's file for ``claw config``.

Import the modules directly; this package imports nothing, so ``import claw.config`` costs nothing.
Modules: sources (where), parsing (read one file), schema (validate one file), merge (combine),
models (typed result), loader (all of it), environment (env overlay, NetConfig), writer (edit a
scope's file), keypath, problems, redact (the display policy for secret settings), trust and
trust_gate (which project folders are trusted).
"""
