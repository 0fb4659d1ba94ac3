"""PreferenceCollator: exact tensors on a hand-computed batch, padding rules, errors."""

from __future__ import annotations

import pytest
import torch

from dpok_framework.data import PreferenceCollator
from dpok_framework.errors import DataError

EXAMPLES = [
    {"prompt_input_ids": [1, 10, 11], "chosen_input_ids": [20, 2], "rejected_input_ids": [30, 31, 32, 2], "row": 7},
    {"prompt_input_ids": [1, 12], "chosen_input_ids": [21, 22, 2], "rejected_input_ids": [33], "row": 3},
]


def test_hand_computed_batch():
    batch = PreferenceCollator(pad_token_id=0)(EXAMPLES)
    # rows 0..B-1: prompt + chosen; rows B..2B-1: prompt + rejected; T = 3 + 4 = 7
    assert batch["input_ids"].tolist() == [
        [1, 10, 11, 20, 2, 0, 0],
        [1, 12, 21, 22, 2, 0, 0],
        [1, 10, 11, 30, 31, 32, 2],
        [1, 12, 33, 0, 0, 0, 0],
    ]
    assert batch["attention_mask"].tolist() == [
        [1, 1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1, 1, 1],
        [1, 1, 1, 0, 0, 0, 0],
    ]
    assert batch["prompt_mask"].tolist() == [
        [1, 1, 1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0, 0],
    ]
    assert batch["completion_mask"].tolist() == [
        [0, 0, 0, 1, 1, 0, 0],
        [0, 0, 1, 1, 1, 0, 0],
        [0, 0, 0, 1, 1, 1, 1],
        [0, 0, 1, 0, 0, 0, 0],
    ]
    assert batch["row"].tolist() == [7, 3]
    assert all(t.dtype == torch.long for t in batch.values())
    # the engine's shifted completion mask selects exactly the completion tokens as targets
    targets = batch["input_ids"][:, 1:][batch["completion_mask"][:, 1:].bool()]
    assert targets.tolist() == [20, 2, 21, 22, 2, 30, 31, 32, 2, 33]


def test_pad_to_multiple_of_and_pad_value():
    batch = PreferenceCollator(pad_token_id=99, pad_to_multiple_of=4)(EXAMPLES)
    assert batch["input_ids"].shape == (4, 8)
    assert batch["input_ids"][3, 3:].tolist() == [99] * 5
    assert batch["attention_mask"].sum().item() == 5 + 5 + 7 + 3


def test_masks_partition_attention():
    batch = PreferenceCollator(0)(EXAMPLES)
    assert torch.equal(batch["prompt_mask"] + batch["completion_mask"], batch["attention_mask"])
    assert not (batch["prompt_mask"] * batch["completion_mask"]).any()


def test_row_defaults_to_position_and_works_with_datasets_rows():
    ex = [{k: v for k, v in e.items() if k != "row"} for e in EXAMPLES]
    assert PreferenceCollator(0)(ex)["row"].tolist() == [0, 1]


@pytest.mark.parametrize("kwargs,match", [
    (dict(pad_token_id=None), "pad_token_id must be a non-negative int"),
    (dict(pad_token_id=-1), "pad_token_id must be a non-negative int"),
    (dict(pad_token_id=0, pad_to_multiple_of=0), "pad_to_multiple_of must be a positive int"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(DataError, match=match):
        PreferenceCollator(**kwargs)


def test_bad_batches():
    with pytest.raises(DataError, match="empty batch"):
        PreferenceCollator(0)([])
    with pytest.raises(DataError, match=r"example 0 lacks \['prompt_input_ids'\]; run tokenize_pairs first"):
        PreferenceCollator(0)([{"chosen_input_ids": [1], "rejected_input_ids": [2]}])
