"""``slolab serve``: the simulator's serving model in real time behind vLLM's OpenAI-compatible API.

The model server of the kind backend (image slolab/serve, charts/llm-serving engine
``slolab-serve``), and a local stand-in for ``vllm serve`` that needs no GPU. Modules:
config (the flags), realtime (the engine on the wall clock: the design), protocol (requests,
prompt length, errors), responses (SSE chunks and JSON bodies), metrics (/metrics), versionfaults
(the requests a model version fails, --error-rate), app (the routes), server (load, listen,
drain).
"""
