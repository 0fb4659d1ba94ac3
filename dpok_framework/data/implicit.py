"""Implicit-prompt pairs: only full ``chosen`` / ``rejected`` transcripts are given.

For HH-RLHF transcripts ``"\\n\\nHuman: ...\\n\\nAssistant: ..."`` the prompt is the longest common prefix
of the two that ends at an ``"\\n\\nAssistant:"`` boundary (the last such boundary inside the common
prefix); each completion is its transcript's remainder (it keeps its leading space).  Plain strings
without that marker are split as TRL's ``extract_prompt`` does: at the end of the longest common prefix,
moved back by one character when that character is a space (so the completions start with it).  For
message lists the prompt is the longest common run of leading messages.
"""

from __future__ import annotations

import os

from .validation import Message, RowError

ASSISTANT_TAG = "\n\nAssistant:"


def common_prefix_length(a: str, b: str) -> int:
    return len(os.path.commonprefix([a, b]))


def split_transcripts(chosen: str, rejected: str, tag: str = ASSISTANT_TAG) -> tuple[str, str, str]:
    """(prompt, chosen_completion, rejected_completion) for two transcripts sharing a prompt."""
    if chosen == rejected:
        raise RowError("rejected", "is identical to 'chosen' (a preference pair needs two different "
                                   "completions)")
    if tag not in chosen and tag not in rejected:
        return split_common_prefix(chosen, rejected)
    n = common_prefix_length(chosen, rejected)
    cut = chosen.rfind(tag, 0, n)
    if cut < 0:  # rfind's end bound keeps the whole tag inside the common prefix
        raise RowError("chosen", f"has no shared prompt: 'chosen' and 'rejected' do not share a prefix ending "
                                 f"with {tag!r}")
    end = cut + len(tag)
    return chosen[:end], chosen[end:], rejected[end:]


def split_common_prefix(chosen: str, rejected: str) -> tuple[str, str, str]:
    """TRL's rule for marker-less transcripts: the prompt is the longest common prefix, less a final space.

    The split can fall inside a word ("The sky is blue" / "The sky is bright" -> prompt "The sky is b");
    data where that matters should carry an explicit prompt column.
    """
    n = common_prefix_length(chosen, rejected)
    if n > 0 and chosen[n - 1] == " ":  # the space before the first differing word goes to the completions
        n -= 1
    if n == 0:
        raise RowError("chosen", "has no shared prompt: 'chosen' and 'rejected' differ from their first "
                                 "character")
    return chosen[:n], chosen[n:], rejected[n:]


def split_messages(chosen: list[Message], rejected: list[Message]) -> tuple[list[Message], list[Message],
                                                                              list[Message]]:
    """(prompt, chosen_completion, rejected_completion) for two conversations sharing leading turns."""
    n = 0
    while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
        n += 1
    if n == 0:
        raise RowError("chosen", "has no shared prompt: the first messages of 'chosen' and 'rejected' differ")
    if n == len(chosen) and n == len(rejected):
        raise RowError("rejected", "is identical to 'chosen' (a preference pair needs two different "
                                   "completions)")
    if n == len(chosen):
        raise RowError("chosen", "is empty after removing the messages it shares with 'rejected'")
    if n == len(rejected):
        raise RowError("rejected", "is empty after removing the messages it shares with 'chosen'")
    return chosen[:n], chosen[n:], rejected[n:]
