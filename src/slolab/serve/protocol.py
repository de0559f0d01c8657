"""OpenAI-compatible requests as vLLM reads them: parsing, validation, prompt length, errors.

Upstream: vllm v0.33.0 vllm/entrypoints/openai/completion/protocol.py (CompletionRequest),
chat_completion/protocol.py (ChatCompletionRequest), serve/engine/protocol.py (ErrorResponse:
``{"error": {"message", "type", "param", "code"}}``), serve/exception_handling/handlers/
validation.py (a malformed body: 400, type "Bad Request", "N validation error(s): ..."),
renderers/params.py TokenizeParams (the context-length checks and their messages),
serve/engine/serving.py ``_check_model`` (404 NotFoundError for an unknown model) and
serve/utils/api_utils.py ``get_max_tokens``.

Prompt length (there is no tokenizer):
* a list of token ids counts exactly (vLLM accepts ``prompt: [int, ...]``; the load generator
  sends these, so the prompt length is the same on vLLM and on slolab serve);
* a string counts one token per whitespace-separated word (at least 1);
* a chat counts the words of every message's text, plus 5 tokens per message and 5 for the
  conversation (the header and end-of-turn tokens of the Llama 3 chat template, approximately).
Output length: exactly ``max_tokens`` (the engine models ``ignore_eos``). vLLM's defaults apply:
16 for completions; for chat, ``max_completion_tokens`` or ``max_tokens`` or else all the room
left in ``max_model_len``.

Not modelled (a 400 that says so): n > 1, several prompts in one request, echo, logprobs,
beam search, prompt embeddings, non-text chat content.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated, Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

# the size bounds of vLLM's validation-error handler
_MAX_REPORTED_ERRORS = 10
_MAX_ERROR_INPUT_CHARS = 200
CHAT_TOKENS_PER_MESSAGE = 5
CHAT_TOKENS_PER_CONVERSATION = 5


class ApiError(Exception):
    """An error the API answers with OpenAI's error JSON."""

    def __init__(
        self, message: str, status: int = 400, err_type: str = "BadRequestError", param: str | None = None
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.err_type = err_type
        self.param = param

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.err_type,
                "param": self.param,
                "code": self.status,
            }
        }


class _OpenAIModel(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI allows extra fields; vLLM ignores them


class StreamOptions(_OpenAIModel):
    include_usage: bool | None = True
    continuous_usage_stats: bool | None = False


class CompletionRequest(_OpenAIModel):
    model: str | None = None
    prompt: (
        list[Annotated[int, Field(ge=0)]] | list[list[Annotated[int, Field(ge=0)]]] | str | list[str] | None
    ) = None
    max_tokens: int | None = 16
    n: int = 1
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    echo: bool | None = False
    logprobs: int | None = None
    use_beam_search: bool = False
    prompt_embeds: Any = None
    request_id: str | None = None

    @pydantic.model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if data.get("max_tokens") is None:  # vLLM: null means the default
                data = {**data, "max_tokens": 16}
            if data.get("stream_options") and not data.get("stream"):
                raise ValueError("Stream options can only be defined when `stream=True`.")
            prompt = data.get("prompt")
            if prompt is None or prompt == "" or prompt == []:
                raise ValueError("Either prompt or prompt_embeds must be provided and non-empty.")
        return data


class TextPart(_OpenAIModel):
    type: str
    text: str | None = None


class ChatMessage(_OpenAIModel):
    role: str
    content: str | list[TextPart] | None = None


class ChatCompletionRequest(_OpenAIModel):
    messages: list[ChatMessage]
    model: str | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: int | None = 1
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    logprobs: bool | None = False
    echo: bool = False
    use_beam_search: bool = False
    request_id: str | None = None

    @pydantic.model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("stream_options") and not data.get("stream"):
            raise ValueError("Stream options can only be defined when `stream=True`.")
        return data


@dataclasses.dataclass(frozen=True)
class Job:
    """A request reduced to what the engine needs, plus how to answer it."""

    chat: bool
    prompt_tokens: int
    max_tokens: int
    stream: bool
    include_usage: bool
    continuous_usage: bool
    request_id: str | None


def parse_body(raw: bytes, content_type: str) -> Any:
    """The JSON body, or vLLM's 400 for a wrong media type or malformed JSON."""
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise ApiError(
            "1 validation error:\n  Unsupported Media Type: Only 'application/json' is allowed",
            err_type="Bad Request",
        )
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        pos = getattr(exc, "pos", getattr(exc, "start", 0))
        reason = getattr(exc, "msg", getattr(exc, "reason", str(exc)))
        error = {"type": "json_invalid", "loc": ("body", pos), "msg": "JSON decode error", "input": {}}
        error["ctx"] = {"error": reason}
        raise _validation_error([error]) from None


def completion_job(body: Any, served_model_name: str, max_model_len: int) -> Job:
    """Check a ``/v1/completions`` body; raises ApiError as vLLM would answer."""
    req = _validate(CompletionRequest, body)
    _check_model(req.model, served_model_name)
    _not_modelled(n=req.n != 1, echo=bool(req.echo), logprobs=req.logprobs is not None)
    _not_modelled(use_beam_search=req.use_beam_search, prompt_embeds=req.prompt_embeds is not None)
    prompt = req.prompt
    if isinstance(prompt, list) and prompt and not isinstance(prompt[0], int):
        if len(prompt) != 1:
            raise ApiError(
                f"slolab serve takes one prompt per request (got {len(prompt)}); send them separately",
                param="prompt",
            )
        prompt = prompt[0]
    prompt_tokens = len(prompt) if isinstance(prompt, list) else count_words(prompt or "")
    max_tokens = _output_tokens(prompt_tokens, req.max_tokens, max_model_len, "max_tokens")
    return _job(False, prompt_tokens, max_tokens, req.stream, req.stream_options, req.request_id)


def chat_job(body: Any, served_model_name: str, max_model_len: int) -> Job:
    """Check a ``/v1/chat/completions`` body; raises ApiError as vLLM would answer."""
    req = _validate(ChatCompletionRequest, body)
    _check_model(req.model, served_model_name)
    _not_modelled(n=(req.n or 1) != 1, echo=req.echo, logprobs=bool(req.logprobs))
    _not_modelled(use_beam_search=req.use_beam_search)
    prompt_tokens = CHAT_TOKENS_PER_CONVERSATION
    for i, message in enumerate(req.messages):
        prompt_tokens += CHAT_TOKENS_PER_MESSAGE
        content = message.content
        if isinstance(content, list):
            for part in content:
                if part.type != "text":
                    raise ApiError(
                        f"messages[{i}]: content of type {part.type!r} is not modelled by slolab serve "
                        "(text only)",
                        param="messages",
                    )
                prompt_tokens += count_words(part.text or "")
        elif content:
            prompt_tokens += count_words(content)
    requested = req.max_completion_tokens if req.max_completion_tokens is not None else req.max_tokens
    param = "max_completion_tokens" if req.max_completion_tokens is not None else "max_tokens"
    max_tokens = _output_tokens(prompt_tokens, requested, max_model_len, param)
    return _job(True, prompt_tokens, max_tokens, req.stream, req.stream_options, req.request_id)


def count_words(text: str) -> int:
    """Tokens of a text prompt: one per whitespace-separated word, at least 1."""
    return max(1, len(text.split()))


def _job(
    chat: bool,
    prompt_tokens: int,
    max_tokens: int,
    stream: bool | None,
    options: StreamOptions | None,
    request_id: str | None,
) -> Job:
    include_usage = bool(stream and options and options.include_usage)
    continuous = include_usage and bool(options and options.continuous_usage_stats)
    return Job(chat, prompt_tokens, max_tokens, bool(stream), include_usage, continuous, request_id)


def _validate(model: type[BaseModel], body: Any) -> Any:
    try:
        return model.model_validate(body)
    except pydantic.ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False):
            err = dict(err)
            err["loc"] = ("body", *err.get("loc", ()))
            errors.append(err)
        raise _validation_error(errors) from None


def _validation_error(errors: list[dict[str, Any]]) -> ApiError:
    """vLLM's RequestValidationError answer: the errors listed, bounded in size."""
    lines = []
    for err in errors[:_MAX_REPORTED_ERRORS]:
        shown = dict(err)
        shown["loc"] = ".".join(str(p) for p in err["loc"])
        if "input" in shown:
            shown["input"] = _summarize(shown["input"])
        lines.append(f"  {shown}")
    label = "error" if len(errors) == 1 else "errors"
    message = f"{len(errors)} validation {label}:\n" + "\n".join(lines)
    if len(errors) > _MAX_REPORTED_ERRORS:
        message += f"\n  ...and {len(errors) - _MAX_REPORTED_ERRORS} more {label}"
    param = ".".join(str(p) for p in errors[0]["loc"]) if errors else None
    return ApiError(message, err_type="Bad Request", param=param)


def _summarize(value: Any) -> Any:
    if isinstance(value, str):
        return (
            value
            if len(value) <= _MAX_ERROR_INPUT_CHARS
            else value[:_MAX_ERROR_INPUT_CHARS] + "...[truncated]"
        )
    if isinstance(value, list | tuple | set | frozenset | dict):
        return f"<{type(value).__name__} of {len(value)} items>"
    text = str(value)
    return text if len(text) <= _MAX_ERROR_INPUT_CHARS else text[:_MAX_ERROR_INPUT_CHARS] + "...[truncated]"


def _check_model(model: str | None, served_model_name: str) -> None:
    if model and model != served_model_name:
        raise ApiError(f"The model `{model}` does not exist.", 404, "NotFoundError", "model")


def _not_modelled(**flags: bool) -> None:
    for field, used in flags.items():
        if used:
            raise ApiError(
                f"`{field}` is not modelled by slolab serve (one choice of plain generated text per request)",
                param=field,
            )


def _output_tokens(prompt_tokens: int, requested: int | None, max_model_len: int, param: str) -> int:
    """vLLM's length checks (TokenizeParams) and its max_tokens (get_max_tokens)."""
    if requested is not None and requested > max_model_len:
        raise ApiError(
            f"{param}={requested} cannot be greater than max_model_len={max_model_len}. "
            "Please request fewer output tokens.",
            param=param,
        )
    max_input = max_model_len - (requested or 0)
    if prompt_tokens > max_input:
        raise ApiError(
            f"You passed {prompt_tokens} input tokens and requested {requested or 0} output tokens. "
            f"However, the model's context length is only {max_model_len} tokens, resulting in a "
            f"maximum input length of {max_input} tokens. Please reduce the length of the input prompt.",
            param="input_tokens",
        )
    max_tokens = max_model_len - prompt_tokens if requested is None else requested
    if max_tokens < 1:
        raise ApiError(f"max_tokens must be at least 1, got {max_tokens}.", param=param)
    return max_tokens
