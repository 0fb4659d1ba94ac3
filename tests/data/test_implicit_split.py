"""Implicit string pairs: HH-RLHF's "\\n\\nAssistant:" boundary, else TRL's longest-common-prefix split."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dpok_framework.data import load_pairs_from
from dpok_framework.data.implicit import split_common_prefix, split_transcripts
from dpok_framework.data.validation import RowError
from dpok_framework.errors import DataError


def reference_split(chosen: str, rejected: str) -> tuple[str, str, str]:
    """The rule as TRL documents it, written independently: scan to the first differing character; if the
    character before it is a space, the prompt stops before that space."""
    i = 0
    while i < min(len(chosen), len(rejected)) and chosen[i] == rejected[i]:
        i += 1
    if i > 0 and chosen[i - 1] == " ":
        i -= 1
    return chosen[:i], chosen[i:], rejected[i:]


@pytest.mark.parametrize("chosen, rejected, expected", [
    ("The sky is blue.", "The sky is green.", ("The sky is", " blue.", " green.")),
    ("The sky is blue", "The sky is bright", ("The sky is b", "lue", "right")),  # TRL splits inside the word
    ("Q: 2+2?\nA: 4", "Q: 2+2?\nA: 5", ("Q: 2+2?\nA:", " 4", " 5")),
    ("Say hi.  Hi!", "Say hi.  Go away", ("Say hi. ", " Hi!", " Go away")),   # only one space moves
])
def test_marker_less_pairs_split_at_the_common_prefix(chosen, rejected, expected):
    assert split_transcripts(chosen, rejected) == expected == reference_split(chosen, rejected)
    assert load_pairs_from([{"chosen": chosen, "rejected": rejected}]).train[0]["prompt"] == expected[0]


@given(st.text(alphabet="ab ", max_size=12), st.text(alphabet="ab ", min_size=1, max_size=6),
       st.text(alphabet="ab ", min_size=1, max_size=6))
def test_split_matches_the_reference_and_rebuilds_both_transcripts(prefix, tail_c, tail_r):
    chosen, rejected = prefix + tail_c, prefix + tail_r
    try:
        prompt, c, r = split_common_prefix(chosen, rejected)
    except RowError as exc:
        assert exc.field == "chosen" and reference_split(chosen, rejected)[0] == ""
        return
    assert (prompt, c, r) == reference_split(chosen, rejected)
    assert prompt + c == chosen and prompt + r == rejected and prompt


def test_hh_transcripts_keep_the_assistant_boundary_rule():
    chosen = "\n\nHuman: hi\n\nAssistant: I am fine"
    rejected = "\n\nHuman: hi\n\nAssistant: I am bad"
    # the common prefix runs on into the answers (" I am "), but the HH rule cuts at the marker
    assert split_transcripts(chosen, rejected) == ("\n\nHuman: hi\n\nAssistant:", " I am fine", " I am bad")
    with pytest.raises(RowError, match="no shared prompt"):  # the marker is there but not in the shared part
        split_transcripts("\n\nHuman: a\n\nAssistant: x", "\n\nHuman: b\n\nAssistant: y")


@pytest.mark.parametrize("chosen, rejected, message", [
    ("Yes.", "No.", r"row 0: field 'chosen' has no shared prompt: 'chosen' and 'rejected' differ from their first"),
    (" yes", " no", r"row 0: field 'chosen' has no shared prompt"),              # only a space in common
    ("Tell me. Sure", "Tell me. Sure thing", r"row 0: field 'chosen' is empty"),  # chosen is a prefix of rejected
    ("same", "same", r"row 0: field 'rejected' is identical to 'chosen'"),
])
def test_marker_less_pairs_without_a_usable_prompt_fail_naming_the_field(chosen, rejected, message):
    with pytest.raises(DataError, match=message):
        load_pairs_from([{"chosen": chosen, "rejected": rejected}], format="implicit")
