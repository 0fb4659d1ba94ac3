"""Benchmark presets: model, batch shape and step counts.

Every preset uses FIXED-SHAPE batches (every sequence is exactly ``prompt_tokens + completion_tokens``
long, see :mod:`benchmarks.assets`) so the work per step does not depend on which pairs a sampler
draws: TRL and dpok shuffle with different samplers, and the step time must compare like with like.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    model: str  # "tiny" (random Llama built here) or a dpok model path (builtin:..., a local dir)
    batch_size: int  # pairs per optimiser step (one micro-batch, no accumulation)
    prompt_tokens: int  # exact prompt length of every pair
    completion_tokens: int  # exact completion length of every chosen and rejected answer
    steps: int  # measured steps (median taken over these)
    warmup: int  # steps run first and excluded (allocator warm-up, lazy optimiser state)
    lr: float = 5e-6
    beta: float = 0.1
    threads: int | None = None  # torch intra-op threads in every child (None: torch's default, all cores)
    timeout_s: float = 120.0  # a configuration still running after this is stopped and reported as timed out
    skip: tuple[str, ...] = ()  # left out unless named in --configs

    @property
    def max_length(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def with_steps(self, steps: int | None, warmup: int | None, threads: int | None = None) -> "Preset":
        d = asdict(self)
        if threads is not None:
            d["threads"] = threads
        if steps is not None:
            d["steps"] = steps
        if warmup is not None:
            d["warmup"] = warmup
        return Preset(**d)

    def n_pairs(self) -> int:
        """One epoch covers warm-up + measured steps exactly (no epoch boundary inside the timing)."""
        return (self.steps + self.warmup) * self.batch_size


PRESETS: dict[str, Preset] = {
    # CI-speed: a 2-layer random Llama on a character vocabulary; the whole run takes well under a minute.
    # One thread: ops this small only lose to threading overhead (and to oversubscription on a busy machine).
    # Wasserstein is skipped by default: its per-token Sinkhorn costs ~10 s/step whatever the model size.
    "tiny": Preset("tiny", model="tiny", batch_size=4, prompt_tokens=32, completion_tokens=32, steps=5, warmup=2,
                   lr=1e-4, threads=1, skip=("penalty-wasserstein",)),
    # Headline: SmolLM2-135M-Instruct (the default model, 49,152-token vocabulary), fp32 on this machine.
    # Sized so all configurations fit in < 15 minutes on 2 CPU cores (about the length of an HH-RLHF turn).
    "smollm2": Preset("smollm2", model="builtin:smollm2-135m-instruct", batch_size=4, prompt_tokens=32,
                      completion_tokens=32, steps=3, warmup=1, timeout_s=300),
}
