"""The model API layer: everything claw says to a model goes through here.

Modules (import them directly; this package imports nothing so that ``claw.api.types`` stays cheap):
  types             ModelRequest, ModelResponse, Usage and the stream events
  client            resolve_model / create_provider: model string + environment -> a Provider
  provider          the Provider engine: preflight, streaming, retries, error classification
  anthropic         Anthropic Messages API (POST /v1/messages)
  openai_compat     OpenAI-compatible /chat/completions (OpenAI, xAI, OpenRouter, vLLM, LM Studio, Ollama)
  openai_translate  pure translation between Anthropic and OpenAI shapes
  accumulator       pure fold of Anthropic stream events into a message
  registry          models: context windows, output limits, prices; aliases
  preflight         local prompt-size estimate and context-window check
  retry             which failures are retried and how long to wait
  failures          failure classes, messages, hints, rendering

It does not print, read settings files, or choose and store credentials (cli/, config/ and auth/ do:
claw.auth.headers is the AuthSource a provider sends).
"""
