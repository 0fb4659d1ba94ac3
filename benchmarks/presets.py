"""Benchmark presets: model, batch shape, step and round counts, and the configurations each one compares.

Every preset uses FIXED-SHAPE batches (every sequence is exactly ``prompt_tokens + completion_tokens``
long, see :mod:`benchmarks.assets`) so the work per step does not depend on which pairs a sampler
draws: TRL and dpok shuffle with different samplers, and the step time must compare like with like.
The method (rounds, order, statistic, load flags) is fixed in docs/performance.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

MIN_ROUNDS = 5  # docs/performance.md, method item 1
MIN_STEPS = 5


@dataclass(frozen=True)
class Preset:
    name: str
    # "tiny" (random 2-layer Llama, character vocabulary), "smollm2-2layer" (random 2-layer Llama with
    # SmolLM2-135M's width and 49,152-token vocabulary and tokenizer), or a dpok model path (builtin:...)
    model: str
    batch_size: int  # pairs per optimiser step (one micro-batch, no accumulation)
    prompt_tokens: int  # exact prompt length of every pair
    completion_tokens: int  # exact completion length of every chosen and rejected answer
    steps: int  # measured steps per run (the run's median is taken over these)
    warmup: int  # steps run first and excluded (allocator warm-up, lazy optimiser state)
    rounds: int = MIN_ROUNDS  # every configuration once per round, order reversed in even rounds
    lr: float = 5e-6
    beta: float = 0.1
    threads: int | None = None  # torch intra-op threads in every child (None: torch's default, all cores)
    timeout_s: float = 120.0  # a run still going after this is stopped and reported as timed out
    configs: str = "all"  # default --configs (names or groups, comma-separated)
    memory_only: bool = False  # peak memory is the result; timings are recorded but not a quoted ratio

    @property
    def max_length(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def replace(self, **changes) -> "Preset":
        d = asdict(self)
        d.update({k: v for k, v in changes.items() if v is not None})
        return Preset(**d)

    def n_pairs(self) -> int:
        """One epoch covers warm-up + measured steps exactly (no epoch boundary inside the timing)."""
        return (self.steps + self.warmup) * self.batch_size


KERNELS_256 = "dpo,rbf,hmk,rbf-encoder,hmk-encoder,rbf-encoder-cached,hmk-encoder-cached"

PRESETS: dict[str, Preset] = {
    # CI-speed: a 2-layer random Llama on a character vocabulary; a round takes seconds. One thread: ops
    # this small only lose to threading overhead. Wasserstein's per-token Sinkhorn (~10 s/step) is left out.
    "tiny": Preset("tiny", model="tiny", batch_size=4, prompt_tokens=32, completion_tokens=32, steps=5, warmup=2,
                   lr=1e-4, threads=1, configs="all,-penalty-wasserstein"),
    # SmolLM2-135M-Instruct (the default model, 49,152-token vocabulary), fp32, at three lengths. The batch
    # shrinks as the length grows so a step stays within reach of 2 CPU cores (tokens per step: 512 / 2048 /
    # 2048); the ratios compare frameworks or features at the SAME shape, never across presets.
    "smollm2-32": Preset("smollm2-32", model="builtin:smollm2-135m-instruct", batch_size=4, prompt_tokens=32,
                         completion_tokens=32, steps=5, warmup=1, timeout_s=600, configs="vs-trl"),
    "smollm2-256": Preset("smollm2-256", model="builtin:smollm2-135m-instruct", batch_size=2, prompt_tokens=256,
                          completion_tokens=256, steps=5, warmup=1, timeout_s=900, configs=KERNELS_256),
    "smollm2-512": Preset("smollm2-512", model="builtin:smollm2-135m-instruct", batch_size=1, prompt_tokens=512,
                          completion_tokens=512, steps=5, warmup=1, timeout_s=900,
                          configs="trl,dpo,penalty-kl"),
    # The explicit penalty's memory at 2048 tokens with a 49,152-token vocabulary (issue #15): a 2-layer
    # body so the LM head and the penalty, not the transformer, decide the peak. Memory only.
    "penalty-memory": Preset("penalty-memory", model="smollm2-2layer", batch_size=2, prompt_tokens=1024,
                             completion_tokens=1024, steps=1, warmup=1, rounds=1, timeout_s=1200,
                             configs="dpo,penalty-kl", memory_only=True),
}
