"""The DPO-Kernels objective as one ``nn.Module`` (policy + learnable kernel), so Accelerate/DDP
reduces the gradients of both.

Per pair (x, y+, y-), with r(y) = log pi(y|x) - log pi_ref(y|x) summed over completion tokens:

    m    = beta * (psi(r+) - psi(r-)) + gamma * (log K(e_x, e_y+) - log K(e_x, e_y-))
    loss = mean_B loss_fn(m, beta) + alpha * mean_tokens D(pi || pi_ref) + eta * kernel.regularizer()

psi is the link of ``divergence.link`` (``kl``: psi(r) = r + 1, i.e. plain DPO). gamma = alpha = 0
with the ``kl`` link and the ``sigmoid`` loss is exactly DPO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

from ..components import Divergence
from ..config.run import AUTO, RunConfig
from ..errors import ConfigError
from .logps import ForwardOutput, forward_logps
from .penalty import TokenPenalty


@dataclass
class ObjectiveOutput:
    """loss: scalar; metrics: name -> detached ``[B]`` per-pair tensor or scalar tensor."""

    loss: torch.Tensor
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class ReferenceOutput:
    """logps ``[2B]`` (chosen rows first); logits ``[2B, T-1, V]`` only when a penalty needs them."""

    logps: torch.Tensor
    logits: torch.Tensor | None = None


class DpoKernelsObjective(torch.nn.Module):
    """Holds ``policy`` and (when the kernel term is on) ``kernel`` as submodules; the other components
    (loss, link, penalty, embedder) are stateless here and kept out of the state dict."""

    def __init__(self, policy: torch.nn.Module, *, loss_fn, beta: float, link, kernel=None, gamma: float = 0.0,
                 entropy_weight: float = 0.0, embedder=None, penalty: TokenPenalty | None = None,
                 alpha: float = 0.0, penalty_on: str = "both", penalty_name: str = "") -> None:
        super().__init__()
        self.policy = policy
        self.kernel = kernel if (gamma > 0 or entropy_weight > 0) else None
        self.beta, self.gamma, self.alpha, self.entropy_weight = beta, gamma, alpha, entropy_weight
        self.penalty_on, self.penalty_name = penalty_on, penalty_name
        # not registered as submodules: no state to train or checkpoint
        self._parts = {"loss_fn": loss_fn, "link": link, "embedder": embedder, "penalty": penalty}

    @property
    def loss_fn(self):
        return self._parts["loss_fn"]

    @property
    def link(self):
        return self._parts["link"]

    @property
    def embedder(self):
        return self._parts["embedder"]

    @property
    def penalty(self) -> TokenPenalty | None:
        return self._parts["penalty"]

    @property
    def needs_hidden(self) -> bool:
        return self.gamma > 0 and self.embedder is not None and self.embedder.uses_policy_hidden

    @property
    def needs_ref_logits(self) -> bool:
        return self.penalty is not None and self.alpha > 0

    def embeddings_from_hidden(self, hidden: torch.Tensor, batch: Mapping[str, torch.Tensor]
                               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """hidden ``[2B, T, H]`` -> e_x ``[B, H]`` (chosen rows' prompt), e_y+ ``[B, H]``, e_y- ``[B, H]``."""
        e_prompt, e_comp = self.embedder.pool_hidden(hidden, batch["prompt_mask"], batch["completion_mask"])
        B = e_comp.shape[0] // 2
        return e_prompt[:B], e_comp[:B], e_comp[B:]

    def forward(self, batch: Mapping[str, torch.Tensor], ref: ReferenceOutput,
                embeddings: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
                policy_out: ForwardOutput | None = None) -> ObjectiveOutput:
        """``policy_out``: the policy's forward on ``batch`` when the caller already ran it (``dpok eval``,
        which also needs hidden states); it must carry what this objective needs (hidden, logits)."""
        out = policy_out if policy_out is not None else forward_logps(
            self.policy, batch, output_hidden_states=self.needs_hidden, need_logits=self.needs_ref_logits,
            logit_means=True)  # logits only for the explicit penalty
        B = out.logps.shape[0] // 2
        ref_logps = ref.logps.to(out.logps.dtype)
        r = out.logps - ref_logps  # [2B] log pi - log pi_ref
        r_pos, r_neg = r[:B], r[B:]  # [B], [B]
        psi = self.link.link(r)  # [2B]
        margin = self.beta * (psi[:B] - psi[B:])  # [B]
        metrics: dict[str, torch.Tensor] = {}
        if self.gamma > 0:
            if self.needs_hidden:
                e_x, e_pos, e_neg = self.embeddings_from_hidden(out.hidden, batch)
            elif embeddings is not None:
                e_x, e_pos, e_neg = embeddings
            else:
                raise ConfigError("kernel.gamma > 0 with a text embedder needs precomputed embeddings")
            k = self.kernel.log_ratio(e_x.float(), e_pos.float(), e_neg.float())  # [B]
            margin = margin + self.gamma * k
            metrics["kernel/log_ratio"] = k.detach()
        per_pair = self.loss_fn(margin, self.beta)  # [B]
        loss = per_pair.mean()
        if self.needs_ref_logits:
            if ref.logits is None:
                raise ConfigError("divergence.penalty needs live reference logits; "
                                  "disable training.precompute_ref_log_probs")
            rows = slice(0, B) if self.penalty_on == "chosen" else slice(0, 2 * B)
            pen = self.penalty(out.logits[rows], ref.logits[rows], out.loss_mask[rows])  # scalar
            loss = loss + self.alpha * pen
            metrics[f"divergence/{self.penalty_name}"] = pen.detach()
        if self.kernel is not None and self.entropy_weight > 0:
            reg = self.kernel.regularizer()
            if reg is not None:
                loss = loss + self.entropy_weight * reg
                metrics["kernel/regularizer"] = reg.detach()
        with torch.no_grad():
            rc, rr = self.beta * r_pos.detach(), self.beta * r_neg.detach()  # TRL's implicit rewards
            metrics.update({
                "rewards/chosen": rc, "rewards/rejected": rr, "rewards/margins": rc - rr,
                "rewards/accuracies": (rc > rr).float(),
                "logps/chosen": out.logps[:B].detach(), "logps/rejected": out.logps[B:].detach(),
                "objective/margin": margin.detach(), "objective/loss": per_pair.detach(),
            })
            if out.logit_means is not None:
                metrics.update({"logits/chosen": out.logit_means[:B], "logits/rejected": out.logit_means[B:]})
        return ObjectiveOutput(loss, metrics)


def build_objective(config: RunConfig, registry, policy: torch.nn.Module) -> DpoKernelsObjective:
    """Build every component through the registry (the engine never names a concrete one)."""
    if config.kernel.name == AUTO or config.divergence.link.name == AUTO or (
            config.divergence.penalty is not None and config.divergence.penalty.name == AUTO):
        raise ConfigError("`auto` kernel/divergence selection must be resolved before building the objective "
                          "(dpok_framework.selection); set an explicit name")
    loss_fn = registry.build("loss", {"name": config.loss.name, "params": config.loss.params}, "loss")
    link = registry.build("divergence", config.divergence.link, "divergence.link")
    kernel = embedder = None
    k = config.kernel
    if k.name is not None and (k.gamma > 0 or k.entropy_weight > 0):
        kernel = registry.build("kernel", {"name": k.name, "params": k.params}, "kernel")
        embedder = registry.build("embedder", k.embedder, "kernel.embedder")
    penalty = None
    d = config.divergence
    if d.penalty is not None and d.alpha > 0:
        div = registry.build("divergence", d.penalty, "divergence.penalty")
        uses_geometry = type(div).bind_token_embeddings is not Divergence.bind_token_embeddings
        if d.penalty_top_k is not None and uses_geometry:
            raise ConfigError(f"divergence.penalty_top_k: {d.penalty.name!r} compares tokens through their embeddings, "
                              "but the engine's top-k restriction drops token identities; remove "
                              "divergence.penalty_top_k (the divergence restricts its own support)")
        embed = policy.get_input_embeddings()
        if embed is not None:
            div.bind_token_embeddings(embed.weight)
        penalty = TokenPenalty(div, top_k=d.penalty_top_k)
    return DpoKernelsObjective(policy, loss_fn=loss_fn, beta=config.loss.beta, link=link, kernel=kernel,
                               gamma=k.gamma, entropy_weight=k.entropy_weight, embedder=embedder,
                               penalty=penalty, alpha=d.alpha, penalty_on=d.penalty_on,
                               penalty_name=d.penalty.name if d.penalty is not None else "")
