"""``kernel: auto`` / ``divergence: auto``: run the selector on a sample of the training data before
training, record the choice and its evidence, and resolve the config to concrete components."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import RunConfig, config_from_dict
from ..config.run import AUTO
from ..errors import ConfigError
from ..registry import Registry
from .collect import embed_pairs, reference_distributions, sample_rows
from .evidence import DivergenceEvidence, KernelEvidence
from .result import SelectionResult
from .selector import Selector


def auto_fields(config: RunConfig) -> dict[str, bool]:
    """Which of kernel / divergence.link / divergence.penalty are `auto`."""
    pen = config.divergence.penalty
    return {"kernel": config.kernel.name == AUTO, "link": config.divergence.link.name == AUTO,
            "penalty": pen is not None and pen.name == AUTO}


def needs_selection(config: RunConfig) -> bool:
    return any(auto_fields(config).values())


def select_for_run(config: RunConfig, registry: Registry, model: Any, tokenizer: Any, train_dataset: Any,
                   run_dir: str | Path | None = None, *, cache_dir: str | Path | None = None) -> SelectionResult:
    """Score the candidates on ``config.selection.sample_size`` pairs of ``train_dataset`` and write
    ``selection.json``, ``selection.md`` and ``heatmap.png`` under ``<run_dir>/selection`` (when given).

    ``model``: the *initial* policy (= the reference before training); ``train_dataset``: the pairs
    (``prompt``/``chosen``/``rejected`` columns, tokenised or not).  Kernels are scored on the
    embeddings of ``config.kernel.embedder``; divergences on the reference's next-token distributions
    along chosen vs rejected completions.  With ``divergence.link: auto`` only divergences with an
    f-DPO link are eligible (also for an `auto` penalty in the same run).
    """
    autos = auto_fields(config)
    if not any(autos.values()):
        raise ConfigError("select_for_run: nothing is `auto` (set kernel.name, divergence.link or "
                          "divergence.penalty to auto)")
    for field, params in (("kernel", config.kernel.params if autos["kernel"] else None),
                          ("divergence.link", config.divergence.link.params if autos["link"] else None),
                          ("divergence.penalty", config.divergence.penalty.params if autos["penalty"] else None)):
        if params:
            raise ConfigError(f"{field}.params cannot be combined with `{field}: auto` (the selector builds each "
                              f"candidate with its default params); remove {field}.params or name the component")
    sel = config.selection
    ds = sample_rows(train_dataset, sel.sample_size, sel.seed)
    kernel_ev = div_ev = None
    if autos["kernel"]:
        embedder = registry.build("embedder", config.kernel.embedder, where="kernel.embedder")
        e_x, e_pos, e_neg = embed_pairs(ds, embedder, model=model, tokenizer=tokenizer, data_config=config.data,
                                        batch_size=sel.batch_size, cache_dir=str(cache_dir) if cache_dir else None)
        kernel_ev = KernelEvidence(e_x, e_pos, e_neg, mode=sel.mode, seed=sel.seed, fit_pairs=sel.fit_pairs,
                                   source=f"{len(ds)} training pairs embedded by {embedder.name}")
    if autos["link"] or autos["penalty"]:
        logp, logq, emb = reference_distributions(model, ds, tokenizer, data_config=config.data,
                                                  positions_per_pair=sel.positions_per_pair,
                                                  max_positions=sel.max_positions, batch_size=sel.batch_size)
        div_ev = DivergenceEvidence(logp, logq, seed=sel.seed, token_embeddings=emb,
                                    source=f"reference next-token distributions on chosen vs rejected "
                                           f"completions of {len(ds)} training pairs")
    fixed = {}
    if not autos["kernel"]:
        fixed["kernel"] = config.kernel.name or "(no kernel)"
    if div_ev is None:
        fixed["divergence"] = config.divergence.link.name
    selector = Selector(registry, sel.metrics, sel.weights, sel.metric_params)
    result = selector.select(kernel_ev, div_ev, kernels=sel.kernels, divergences=sel.divergences,
                             require_link=autos["link"], fixed=fixed,
                             config={"selection": sel.model_dump(mode="json"),
                                     "auto": [k for k, v in autos.items() if v]})
    if run_dir is not None:
        result.write(Path(run_dir) / "selection")
    return result


def resolve_config(config: RunConfig, result: SelectionResult) -> RunConfig:
    """``config`` with every `auto` replaced by the selector's choice (raises if nothing was eligible)."""
    autos = auto_fields(config)
    data = config.model_dump(mode="json")

    def chosen(kind: str, spec: dict | None, table) -> dict:
        if spec is None:
            reasons = "; ".join(f"{r.name}: {r.ruled_out or r.excluded}" for r in (table.rows if table else []))
            raise ConfigError(f"{kind}: auto: every candidate {kind} was ruled out on this data ({reasons}); name "
                              f"one explicitly or install another")
        return spec

    if autos["kernel"]:
        spec = chosen("kernel", result.kernel, result.kernels)
        data["kernel"]["name"], data["kernel"]["params"] = spec["name"], spec["params"]
    if autos["link"] or autos["penalty"]:
        spec = chosen("divergence", result.divergence, result.divergences)
        for key in ("link", "penalty"):
            if autos[key]:
                data["divergence"][key] = {"name": spec["name"], "params": spec["params"]}
    return config_from_dict(data, source="selection result")


def resolve_auto(config: RunConfig, registry: Registry, model: Any, tokenizer: Any, train_dataset: Any,
                 run_dir: str | Path | None = None, **kwargs: Any) -> tuple[RunConfig, SelectionResult | None]:
    """For the engine: (config with `auto` resolved, the selection result), or (config, None) when nothing is
    `auto`.  Writes ``<run_dir>/selection/`` including ``resolved.json`` (the choices)."""
    if not needs_selection(config):
        return config, None
    result = select_for_run(config, registry, model, tokenizer, train_dataset, run_dir, **kwargs)
    resolved = resolve_config(config, result)
    if run_dir is not None:
        import json

        out = {"kernel": {"name": resolved.kernel.name, "params": resolved.kernel.params},
               "divergence": {"link": resolved.divergence.link.model_dump(mode="json"),
                              "penalty": resolved.divergence.penalty.model_dump(mode="json")
                              if resolved.divergence.penalty else None},
               "reason": result.reason}
        (Path(run_dir) / "selection" / "resolved.json").write_text(json.dumps(out, indent=2) + "\n")
    return resolved, result
