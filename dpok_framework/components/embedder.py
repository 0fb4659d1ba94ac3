"""Base class for embedders: where e_x, e_y+ and e_y- of the kernel term come from."""

from __future__ import annotations

from typing import ClassVar, Sequence

import torch

from .base import Component, Params


class Embedder(Component, torch.nn.Module):
    """Produces the embeddings the kernel term compares.

    Two families:

    * ``uses_policy_hidden = True``: :meth:`pool_hidden` pools the policy's own final hidden states
      from the training forward pass, so the kernel term carries gradient to the policy.
    * ``uses_policy_hidden = False``: :meth:`encode_texts` embeds raw text with a frozen model; the
      engine calls it once per dataset and caches the result.
    """

    kind: ClassVar[str] = "embedder"
    uses_policy_hidden: ClassVar[bool] = False

    def __init__(self, params: Params | None = None, **kwargs) -> None:
        torch.nn.Module.__init__(self)
        self._init_params(params, kwargs)

    def pool_hidden(self, hidden: torch.Tensor, prompt_mask: torch.Tensor, completion_mask: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """hidden ``[B, T, H]``, masks ``[B, T]`` -> (e_prompt ``[B, H]``, e_completion ``[B, H]``)."""
        raise NotImplementedError(f"embedder {self.name!r} does not pool policy hidden states")

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Embed texts -> ``[N, d]`` float tensor (no gradient)."""
        raise NotImplementedError(f"embedder {self.name!r} does not encode raw text")

    def cache_key(self) -> str:
        """Identifies the embedding function for on-disk caches (model id + params)."""
        return f"{self.name}:{self.params.model_dump_json()}"
