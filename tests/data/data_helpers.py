"""Tiny in-memory tokenizers and file writers for the data tests (no hub access)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

WORDS = ("hello world how are you fine thanks bad good yes no the a is what Human: Assistant: "
         "<|user|> <|assistant|> <|system|> be nice").split()
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} </s> {% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")


def word_tokenizer(bos: bool = True, eos: bool = True, chat: bool = True) -> PreTrainedTokenizerFast:
    """Whitespace word-level tokenizer: ids 0..3 = <pad> <s> </s> <unk>, then WORDS in order."""
    vocab = {w: i for i, w in enumerate(SPECIALS + list(WORDS))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if bos:
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B",
                                                           special_tokens=[("<s>", 1)])
    kwargs = dict(pad_token="<pad>", unk_token="<unk>")
    if bos:
        kwargs["bos_token"] = "<s>"
    if eos:
        kwargs["eos_token"] = "</s>"
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **kwargs)
    if chat:
        fast.chat_template = CHAT_TEMPLATE
    return fast


def merging_tokenizer() -> PreTrainedTokenizerFast:
    """Character BPE with the merge a+b -> ab and no pre-tokenizer: prompt "a" + completion "b" merges."""
    vocab = {"<pad>": 0, "</s>": 1, "a": 2, "b": 3, "c": 4, "ab": 5, "\n": 6}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[("a", "b")]))
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>")


def write_jsonl(path: Path, records: list, gz: bool = False) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in records)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


STANDARD = [
    {"prompt": "hello how are you", "chosen": " fine thanks", "rejected": " bad"},
    {"prompt": "what is the world", "chosen": " good", "rejected": " no"},
    {"prompt": "hello", "chosen": " yes", "rejected": " no no"},
]
