"""An offline character-level tokenizer for smoke tests and benchmarks on tiny random models (no hub)."""

from __future__ import annotations

CHARS = [chr(i) for i in range(32, 127)] + ["\n"]


def char_tokenizer():
    """Fast tokenizer over printable ASCII + newline: ids pad 0, bos 1, eos 2, unk 3, then the characters."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3}
    for c in CHARS:
        vocab[c] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")
