"""slolab serve's OpenAI-compatible API: vLLM's response shapes, SSE framing and errors."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from serve_client import stream
from serve_support import MODEL

pytestmark = [pytest.mark.wallclock, pytest.mark.asyncio]

PROMPT = list(range(100, 140))  # 40 token ids


async def test_models_lists_the_served_model(live):
    async with live.session.get(live.url + "/v1/models") as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["object"] == "list"
    [card] = body["data"]
    assert card["id"] == MODEL
    assert card["object"] == "model"
    assert card["owned_by"] == "vllm"
    assert card["root"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert card["max_model_len"] == 131072


async def test_health_is_200_with_an_empty_body(live):
    async with live.session.get(live.url + "/health") as resp:
        assert resp.status == 200
        assert await resp.read() == b""


async def test_completion_without_streaming_returns_max_tokens_and_usage(live):
    body = {"model": MODEL, "prompt": PROMPT, "max_tokens": 7}
    async with live.session.post(live.url + "/v1/completions", json=body) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("application/json")
        data = await resp.json()
    assert data["object"] == "text_completion"
    assert data["id"].startswith("cmpl-")
    assert data["model"] == MODEL
    [choice] = data["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "length"
    assert len(choice["text"].split()) == 7  # one made-up word per token
    assert data["usage"]["prompt_tokens"] == 40
    assert data["usage"]["completion_tokens"] == 7
    assert data["usage"]["total_tokens"] == 47


async def test_completion_stream_is_framed_as_vllm_sends_it(live):
    body = {"model": MODEL, "prompt": PROMPT, "max_tokens": 5, "stream": True}
    result = await stream(live.session, live.url + "/v1/completions", body)
    assert result.status == 200
    assert result.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert result.headers.get("Transfer-Encoding") == "chunked"
    # exact framing: "data: {json}\n\n" per chunk, then "data: [DONE]\n\n", nothing else
    assert re.fullmatch(rb"(data: \{[^\n]*\}\n\n){5}data: \[DONE\]\n\n", result.raw), result.raw
    chunks = result.chunks()
    assert len(chunks) == 5  # one per token, no usage chunk unless asked
    ids = {c["id"] for c in chunks}
    assert len(ids) == 1 and ids.pop().startswith("cmpl-")
    for i, chunk in enumerate(chunks):
        assert list(chunk) == ["id", "object", "created", "model", "choices"]
        assert chunk["object"] == "text_completion"
        assert chunk["model"] == MODEL
        [choice] = chunk["choices"]
        assert list(choice)[:5] == ["index", "text", "logprobs", "finish_reason", "stop_reason"]
        assert choice["text"].startswith(" ") and len(choice["text"].split()) == 1
        assert choice["finish_reason"] == ("length" if i == 4 else None)
        assert choice["logprobs"] is None and choice["stop_reason"] is None


async def test_usage_chunk_only_when_asked(live):
    body = {"prompt": PROMPT, "max_tokens": 3, "stream": True, "stream_options": {"include_usage": True}}
    result = await stream(live.session, live.url + "/v1/completions", body)
    chunks = result.chunks()
    assert len(chunks) == 4
    usage = chunks[-1]
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 40, "total_tokens": 43, "completion_tokens": 3}
    assert result.events[-1] == b"[DONE]"
    assert all("usage" not in c for c in chunks[:-1])

    body["stream_options"] = {"include_usage": False}
    result = await stream(live.session, live.url + "/v1/completions", body)
    assert len(result.chunks()) == 3


async def test_continuous_usage_stats_count_up(live):
    options = {"include_usage": True, "continuous_usage_stats": True}
    body = {"prompt": PROMPT, "max_tokens": 3, "stream": True, "stream_options": options}
    chunks = (await stream(live.session, live.url + "/v1/completions", body)).chunks()
    assert [c["usage"]["completion_tokens"] for c in chunks] == [1, 2, 3, 3]


async def test_chat_stream_starts_with_the_role_and_ends_with_length(live):
    body = {
        "model": MODEL,
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}],
        "max_tokens": 4,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    result = await stream(live.session, live.url + "/v1/chat/completions", body)
    assert result.status == 200
    chunks = result.chunks()
    assert all(c["object"] == "chat.completion.chunk" and c["id"].startswith("chatcmpl-") for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    contents = [c["choices"][0]["delta"]["content"] for c in chunks[1:5]]
    assert all(c.strip() for c in contents)
    assert [c["choices"][0]["finish_reason"] for c in chunks[1:5]] == [None, None, None, "length"]
    assert chunks[5]["choices"] == []
    # 4 words + 2 messages x 5 + 5 (chat template tokens, see protocol.py)
    assert chunks[5]["usage"] == {"prompt_tokens": 19, "total_tokens": 23, "completion_tokens": 4}
    assert result.events[-1] == b"[DONE]"
    # the role chunk goes out with the first token, as vLLM sends it on the first engine output
    assert result.times[1] - result.times[0] < 0.002


async def test_chat_without_streaming(live):
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "one two"}]}], "max_tokens": 2}
    async with live.session.post(live.url + "/v1/chat/completions", json=body) as resp:
        assert resp.status == 200
        data = await resp.json()
    assert data["object"] == "chat.completion"
    [choice] = data["choices"]
    assert choice["message"]["role"] == "assistant"
    assert len(choice["message"]["content"].split()) == 2
    assert choice["finish_reason"] == "length"
    assert data["usage"]["prompt_tokens"] == 12


async def _error(live, path: str, body=None, *, data: bytes | None = None, content_type="application/json"):
    kwargs = {"data": data} if data is not None else {"data": json.dumps(body)}
    async with live.session.post(live.url + path, headers={"Content-Type": content_type}, **kwargs) as resp:
        payload = await resp.json()
        return resp.status, payload


async def test_prompt_longer_than_max_model_len_is_a_400(live_with):
    async with live_with(max_model_len=64) as srv:
        body = {"prompt": list(range(60)), "max_tokens": 10}
        status, payload = await _error(srv, "/v1/completions", body)
    assert status == 400
    assert payload == {
        "error": {
            "message": "You passed 60 input tokens and requested 10 output tokens. However, the model's "
            "context length is only 64 tokens, resulting in a maximum input length of 54 tokens. "
            "Please reduce the length of the input prompt.",
            "type": "BadRequestError",
            "param": "input_tokens",
            "code": 400,
        }
    }


async def test_max_tokens_above_max_model_len_is_a_400(live_with):
    async with live_with(max_model_len=64) as srv:
        status, payload = await _error(srv, "/v1/chat/completions", {"messages": [], "max_tokens": 65})
    assert status == 400
    assert payload["error"]["param"] == "max_tokens"
    assert "cannot be greater than max_model_len=64" in payload["error"]["message"]


async def test_unknown_model_is_a_404(live):
    status, payload = await _error(live, "/v1/completions", {"model": "gpt-4", "prompt": "hi"})
    assert status == 404
    assert payload == {
        "error": {
            "message": "The model `gpt-4` does not exist.",
            "type": "NotFoundError",
            "param": "model",
            "code": 404,
        }
    }


async def test_malformed_json_is_a_400(live):
    status, payload = await _error(live, "/v1/completions", data=b'{"prompt": "hi",')
    assert status == 400
    error = payload["error"]
    assert error["type"] == "Bad Request" and error["code"] == 400
    assert error["message"].startswith("1 validation error:\n  {'type': 'json_invalid'")


async def test_missing_and_mistyped_fields_are_a_400(live):
    status, payload = await _error(live, "/v1/chat/completions", {"model": MODEL})
    assert status == 400
    assert payload["error"]["param"] == "body.messages"
    assert "'type': 'missing'" in payload["error"]["message"]

    status, payload = await _error(live, "/v1/completions", {"prompt": "hi", "max_tokens": "many"})
    assert status == 400
    assert payload["error"]["param"] == "body.max_tokens"

    status, payload = await _error(live, "/v1/completions", {"max_tokens": 3})
    assert status == 400
    assert "Either prompt or prompt_embeds must be provided and non-empty." in payload["error"]["message"]


async def test_stream_options_without_stream_and_wrong_media_type_are_400s(live):
    body = {"prompt": "hi", "stream_options": {"include_usage": True}}
    status, payload = await _error(live, "/v1/completions", body)
    assert status == 400
    assert "Stream options can only be defined when `stream=True`." in payload["error"]["message"]

    status, payload = await _error(live, "/v1/completions", {"prompt": "hi"}, content_type="text/plain")
    assert status == 400
    assert "Only 'application/json' is allowed" in payload["error"]["message"]


async def test_features_not_modelled_are_refused_clearly(live):
    status, payload = await _error(live, "/v1/completions", {"prompt": "hi", "n": 2})
    assert status == 400
    assert payload["error"]["param"] == "n"
    assert "not modelled by slolab serve" in payload["error"]["message"]


async def test_unknown_route_is_a_json_404(live):
    async with live.session.get(live.url + "/v2/nothing") as resp:
        assert resp.status == 404
        assert (await resp.json())["error"]["code"] == 404


async def test_client_disconnect_aborts_the_request(live):
    body = {"prompt": PROMPT, "max_tokens": 2000, "stream": True}
    async with live.session.post(live.url + "/v1/completions", json=body) as resp:
        await resp.content.readuntil(b"\n\n")
        await resp.content.readuntil(b"\n\n")
        assert live.rt.in_flight == 1
        resp.close()  # drop the connection mid-stream
    for _ in range(100):
        if live.rt.in_flight == 0:
            break
        await asyncio.sleep(0.01)
    assert live.rt.in_flight == 0, "the engine kept generating for a client that left"
    assert live.rt.engine.kv_cache_usage_perc == 0.0
    [req] = live.recorder.finished
    assert req.status != 200 and 2 <= req.output_tokens < 2000
