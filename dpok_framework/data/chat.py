"""Rendering conversational pairs to plain strings with the tokenizer's chat template.

prompt     = template(prompt_messages, add_generation_prompt=True)
completion = template(prompt_messages + completion_messages)[len(prompt):]

so ``prompt + completion`` is exactly what the model sees for the whole conversation.  A prompt that
ends with an assistant message is a continuation: it is rendered with ``continue_final_message=True``
and no generation prompt.
"""

from __future__ import annotations

from typing import Any

from ..errors import DataError
from .validation import Message, RowError


def require_chat_template(tokenizer: Any, source: str) -> None:
    """DataError unless ``tokenizer`` can render conversations."""
    if tokenizer is None:
        raise DataError(f"{source}: conversational data is rendered with the model's chat template, but no "
                        "tokenizer was given; pass tokenizer=... to load_pairs/load_pairs_from")
    if not getattr(tokenizer, "chat_template", None):
        name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
        raise DataError(f"{source}: conversational data needs a chat template, but tokenizer {name!r} has "
                        "none; use an instruct model's tokenizer, set tokenizer.chat_template, or convert "
                        "the data to the standard prompt/chosen/rejected string format")


def _apply(tokenizer: Any, messages: list[Message], field: str, **kwargs: Any) -> str:
    """``apply_chat_template`` whose failure on this row (a template that raises, e.g. "Conversation roles
    must alternate user/assistant/...", as Llama-2, Mistral and Gemma templates do) is a RowError naming
    ``field`` (so ``on_invalid: skip`` can drop the row)."""
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, **kwargs)
    except Exception as exc:  # jinja2's TemplateError, or whatever a template's raise_exception raises
        roles = "/".join(m["role"] for m in messages)
        raise RowError(field, f"cannot be rendered by the tokenizer's chat template (roles {roles}): "
                              f"{type(exc).__name__}: {exc}") from None


def render_prompt(tokenizer: Any, prompt: list[Message]) -> str:
    continuation = prompt[-1]["role"] == "assistant"
    return _apply(tokenizer, prompt, "prompt", add_generation_prompt=not continuation,
                  continue_final_message=continuation)


def render_completion(tokenizer: Any, prompt: list[Message], prompt_text: str, completion: list[Message],
                      field: str) -> str:
    """The text the template appends to ``prompt_text`` for ``completion``; RowError if not a prefix."""
    full = _apply(tokenizer, prompt + completion, field)
    if not full.startswith(prompt_text):
        raise RowError(field, "cannot be split off the prompt: the chat template does not render the prompt "
                              "(with generation prompt) as a prefix of prompt+completion")
    return full[len(prompt_text):]


def render_pair(tokenizer: Any, prompt: list[Message], chosen: list[Message], rejected: list[Message]
                ) -> tuple[str, str, str]:
    prompt_text = render_prompt(tokenizer, prompt)
    return (prompt_text, render_completion(tokenizer, prompt, prompt_text, chosen, "chosen"),
            render_completion(tokenizer, prompt, prompt_text, rejected, "rejected"))
