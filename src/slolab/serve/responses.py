"""Response bodies exactly as vLLM writes them: SSE chunks, ``data: [DONE]``, JSON responses.

Upstream: vllm v0.33.0 vllm/entrypoints/openai/completion/serving.py
(``completion_stream_generator``: one ``text_completion`` chunk per output, serialized with
``exclude_unset``; the last content chunk carries ``finish_reason``; with
``stream_options.include_usage`` a final chunk with ``"choices": []`` and ``usage``, serialized
with ``exclude_none``; then ``data: [DONE]``), chat_completion/serving.py
(``chat_completion_stream_generator``: a first chunk with ``delta: {"role": "assistant",
"content": ""}`` sent with the first token, then ``chat.completion.chunk`` content deltas),
and protocol.py of both (field order, which fields are always present). JSON is compact
(pydantic ``model_dump_json``, starlette ``JSONResponse``).

Generated text: made-up words, one per token, each with a leading space. A chunk is built from
byte strings prepared once per request, because a busy server writes tens of thousands a second.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

DONE = b"data: [DONE]\n\n"


def _make_words() -> tuple[str, ...]:
    onsets = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st")
    vowels = ("a", "e", "i", "o", "u")
    codas = ("", "n", "r", "l", "s")
    return tuple(f" {o}{v}{c}" for o in onsets for v in vowels for c in codas)


WORDS = _make_words()  # 400 made-up words, ASCII, no JSON escaping needed
_WORD_BYTES = tuple(w.encode() for w in WORDS)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def word(request_no: int, i: int) -> str:
    """The text of token ``i`` of a request."""
    return WORDS[(request_no * 7919 + i * 31) % len(WORDS)]


def text(request_no: int, n: int) -> str:
    return "".join(word(request_no, i) for i in range(n))


def new_request_id(given: str | None) -> str:
    """vLLM's request id: the X-Request-Id header or the body's request_id, else a random uuid."""
    return given or uuid.uuid4().hex


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """``UsageInfo`` without its unset optional fields (their field order)."""
    return {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
    }


class Stream:
    """The SSE chunks of one streamed request (completion or chat)."""

    def __init__(
        self, chat: bool, request_id: str, model: str, request_no: int, prompt_tokens: int, continuous: bool
    ) -> None:
        self.chat = chat
        self.id = ("chatcmpl-" if chat else "cmpl-") + request_id
        self.created = int(time.time())
        self.model = model
        self.request_no = request_no
        self.prompt_tokens = prompt_tokens
        self.continuous = continuous  # stream_options.continuous_usage_stats
        obj = "chat.completion.chunk" if chat else "text_completion"
        self._head = (
            f'data: {{"id":{_dumps(self.id)},"object":"{obj}","created":{self.created},'
            f'"model":{_dumps(model)},"choices":[{{"index":0,'
        ).encode()
        if chat:
            self._open = self._head + b'"delta":{"content":"'
            self._mid = b'"},"logprobs":null,"finish_reason":null,"token_ids":null}]'
            self._mid_last = (
                b'"},"logprobs":null,"finish_reason":"length","stop_reason":null,"token_ids":null}]'
            )
        else:
            self._open = self._head + b'"text":"'
            tail = b',"prompt_token_ids":null,"token_ids":null}]'
            self._mid = b'","logprobs":null,"finish_reason":null,"stop_reason":null' + tail
            self._mid_last = b'","logprobs":null,"finish_reason":"length","stop_reason":null' + tail

    def first(self) -> bytes:
        """Chat only: the role chunk, sent with the first token."""
        return (
            self._head
            + b'"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]'
            + self._usage_tail(0)
            + b',"prompt_token_ids":null,"prompt_text":null}\n\n'
        )

    def token(self, i: int, last: bool) -> bytes:
        """The chunk of token ``i`` (0-based); ``last`` carries ``finish_reason: "length"``."""
        return (
            self._open
            + _WORD_BYTES[(self.request_no * 7919 + i * 31) % len(_WORD_BYTES)]
            + (self._mid_last if last else self._mid)
            + self._usage_tail(i + 1)
            + b"}\n\n"
        )

    def _usage_tail(self, completion_tokens: int) -> bytes:
        if not self.continuous:
            return b""
        counts = usage(self.prompt_tokens, completion_tokens)
        if self.chat:  # the chat generator passes completion_tokens_details=None explicitly
            counts["completion_tokens_details"] = None
        return b',"usage":' + _dumps(counts).encode()

    def usage_chunk(self, completion_tokens: int) -> bytes:
        """The final ``"choices": []`` chunk of ``stream_options.include_usage``."""
        obj = "chat.completion.chunk" if self.chat else "text_completion"
        body = {
            "id": self.id,
            "object": obj,
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage(self.prompt_tokens, completion_tokens),
        }
        return f"data: {_dumps(body)}\n\n".encode()

    def error(self, message: str) -> bytes:
        """An error in the middle of a stream (vLLM ``create_streaming_error_response``)."""
        body = {"error": {"message": message, "type": "InternalServerError", "param": None, "code": 500}}
        return f"data: {_dumps(body)}\n\n".encode()


def completion_body(
    request_id: str, model: str, request_no: int, prompt_tokens: int, completion_tokens: int
) -> dict[str, Any]:
    """The non-streaming ``text_completion`` response (``CompletionResponse.model_dump()``)."""
    choice = {
        "index": 0,
        "text": text(request_no, completion_tokens),
        "logprobs": None,
        "finish_reason": "length",
        "stop_reason": None,
        "token_ids": None,
        "prompt_logprobs": None,
        "prompt_token_ids": None,
        "routed_experts": None,
    }
    return {
        "id": "cmpl-" + request_id,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "service_tier": None,
        "system_fingerprint": None,
        "usage": _full_usage(prompt_tokens, completion_tokens),
        "kv_transfer_params": None,
        "ec_transfer_params": None,
        "metrics": None,
    }


def chat_body(
    request_id: str, model: str, request_no: int, prompt_tokens: int, completion_tokens: int
) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` response (``ChatCompletionResponse.model_dump()``)."""
    message = {
        "role": "assistant",
        "content": text(request_no, completion_tokens),
        "refusal": None,
        "annotations": None,
        "audio": None,
        "function_call": None,
        "reasoning": None,
    }
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": "length",
        "stop_reason": None,
        "token_ids": None,
        "routed_experts": None,
    }
    return {
        "id": "chatcmpl-" + request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "service_tier": None,
        "system_fingerprint": None,
        "usage": _full_usage(prompt_tokens, completion_tokens),
        "prompt_logprobs": None,
        "prompt_token_ids": None,
        "prompt_text": None,
        "kv_transfer_params": None,
        "ec_transfer_params": None,
        "metrics": None,
    }


def _full_usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """``UsageInfo.model_dump()``: every field."""
    return {
        **usage(prompt_tokens, completion_tokens),
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }


def dumps(body: Any) -> str:
    """Compact JSON, as starlette's JSONResponse writes it."""
    return _dumps(body)
