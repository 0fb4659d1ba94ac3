"""``dpok eval``: a trained policy (run directory or model directory) against its reference on held-out pairs.

Pipeline (batched, ``torch.no_grad``, Accelerate-sharded; every pair gathered exactly once):

1. Resolve the target. A run directory gives ``model/`` (the policy), ``config.yaml`` (beta, link, kernel,
   embedder, data format/lengths) and ``kernel.pt`` (the learned kernel state). A plain model directory is
   evaluated with default objective settings (``beta`` from the caller). The reference is ``--reference``,
   else the run's ``model.reference``, else the run's starting model ``model.path``.
2. Load and tokenise the held-out pairs with the data pipeline (``load_pairs_from`` + ``tokenize_pairs``).
3. Per batch: one forward of each model (``objective.logps.forward_logps``) -> summed completion log-probs and
   final hidden states, and the run's objective on them (its per-pair metrics); the kernel's embeddings (policy hidden states pooled by the run's embedder, or the
   cached frozen text embeddings) -> kernel log-ratio.
4. Metrics (:mod:`.preference`), Davies-Bouldin of chosen vs rejected embeddings (:mod:`.davies_bouldin`):
   ``davies_bouldin/hidden`` and ``/hidden_reference`` on mean-pooled completion hidden states of the policy
   and of the reference (Euclidean), ``davies_bouldin/kernel`` in the run's kernel feature space (exact
   kernel trick up to ``exact_max_points`` points, else an RFF / Nystrom feature map), mixture weights,
   and for a run directory the train - held-out accuracy gap over training (:mod:`.drift`).
5. Writes ``eval.json`` and ``pairs.csv`` into the output directory (default ``RUN_DIR/eval``).
"""

from __future__ import annotations

import copy
import csv
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader

from ..approx import Nystrom, RandomFourierFeatures
from ..config import config_from_dict, load_config
from ..data import PreferenceCollator, compute_text_embeddings, load_pairs_from, tokenize_pairs
from ..errors import ConfigError, DataError
from ..lifecycle import Lifecycle, RunState
from ..models import cache_root, load_causal_lm, load_tokenizer, resolve_model_dir
from ..objective.embeddings import TextEmbeddingTable
from ..objective.objective import build_objective
from ..registry import get_registry
from .davies_bouldin import chosen_rejected_davies_bouldin
from .drift import drift_summary, generalisation_drift
from .gather import PairGatherer
from ..objective.logps import forward_logps
from ..objective.objective import ReferenceOutput
from .heldout import heldout_metrics
from .preference import PairLogps, per_pair_table, preference_metrics
from .rundir import EVAL_DIR, EVAL_JSON, PAIRS_CSV, is_run_dir, read_json, read_metrics, write_json

logger = logging.getLogger(__name__)


@dataclass
class EvalTarget:
    """What to evaluate: policy/reference directories and the run's configuration."""

    policy_dir: Path
    reference_dir: Path
    config: Any                     # RunConfig
    run_dir: Path | None = None
    kernel_state: Path | None = None


@dataclass
class EvalResult:
    metrics: dict[str, float]
    kernel_weights: dict[str, float]
    pairs: dict[str, torch.Tensor]
    out_dir: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"metrics": self.metrics, "kernel_weights": self.kernel_weights, **self.info}


# ---------------------------------------------------------------------------------------------- target

def resolve_target(target: str | Path, reference: str | Path | None = None, beta: float | None = None
                   ) -> EvalTarget:
    """A run directory (``config.yaml`` + ``model/``) or a Hugging Face model directory."""

    path = Path(target)
    if is_run_dir(path):
        if not (path / "config.yaml").is_file():
            raise ConfigError(f"{path}: run directory without config.yaml; pass the model directory instead")
        cfg = load_config(path / "config.yaml")
        policy_dir = path / "model"
        if not (policy_dir / "config.json").is_file():
            raise ConfigError(f"{path}: no saved policy in {policy_dir} (was output.save_model false, or did "
                              "the run stop before saving?)")
        cfg = _resolve_auto(cfg, path)
        if beta is not None:
            cfg.loss.beta = beta
        ref_src = str(reference) if reference is not None else (cfg.model.reference or cfg.model.path)
        ref_dir = resolve_model_dir(ref_src, None if reference is not None or cfg.model.reference
                                    else cfg.model.gguf_file)
        kstate = path / "kernel.pt"
        return EvalTarget(policy_dir, ref_dir, cfg, path, kstate if kstate.is_file() else None)
    if (path / "config.json").is_file():
        if reference is None:
            raise ConfigError(f"{path} is a model directory, not a run directory: pass --reference "
                              "(the model it was trained from) to compute implicit rewards")
        cfg = config_from_dict({"model": {"path": str(path)}, "loss": {"beta": beta if beta is not None else 0.1}})
        return EvalTarget(path, resolve_model_dir(str(reference)), cfg)
    raise ConfigError(f"{path}: neither a dpok run directory (config.yaml, model/) nor a Hugging Face model "
                      "directory (config.json)")


def _resolve_auto(cfg, run_dir: Path):
    """Replace `auto` kernel / divergence names by the choice recorded in ``selection/resolved.json``."""
    pen = cfg.divergence.penalty
    autos = [cfg.kernel.name == "auto", cfg.divergence.link.name == "auto", pen is not None and pen.name == "auto"]
    if not any(autos):
        return cfg
    resolved = read_json(run_dir / "selection" / "resolved.json")
    if not isinstance(resolved, dict):
        raise ConfigError(f"{run_dir}/config.yaml uses `auto` selection but {run_dir}/selection/resolved.json is "
                          "missing; the run did not finish its selection step")
    data = cfg.model_dump(mode="json")
    if autos[0]:
        data["kernel"]["name"] = resolved["kernel"]["name"]
        data["kernel"]["params"] = resolved["kernel"].get("params") or {}
    if autos[1]:
        data["divergence"]["link"] = resolved["divergence"]["link"]
    if autos[2]:
        data["divergence"]["penalty"] = resolved["divergence"]["penalty"]
    return config_from_dict(data, source=str(run_dir / "selection" / "resolved.json"))


def load_kernel_state(kernel: torch.nn.Module, path: Path) -> None:
    """Load ``kernel.pt`` into ``kernel`` (call ``kernel.fit`` first so data-dependent buffers exist).

    Uses ``load_state_dict`` (so the kernel's own loading hooks and ``set_extra_state`` run); a kernel whose
    buffers are still None / differently shaped falls back to assigning the saved tensors one by one.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        kernel.load_state_dict(state, strict=True)
        return
    except RuntimeError as exc:
        first_error = str(exc).splitlines()[0]
    unknown = []
    for key, value in state.items():
        mod_path, _, attr = key.rpartition(".")
        try:
            mod = kernel.get_submodule(mod_path) if mod_path else kernel
        except AttributeError:
            unknown.append(key)
            continue
        if attr == "_extra_state":
            mod.set_extra_state(value)
        elif attr in mod._parameters and mod._parameters[attr] is not None:
            p = mod._parameters[attr]
            if p.shape == value.shape:
                with torch.no_grad():
                    p.copy_(value)
            else:
                mod._parameters[attr] = torch.nn.Parameter(value.clone(), requires_grad=p.requires_grad)
        elif attr in mod._buffers:
            mod._buffers[attr] = value.clone()
        else:
            unknown.append(key)
    if unknown:
        raise DataError(f"{path}: state entries {unknown} do not exist in kernel {getattr(kernel, 'name', '')!r} "
                        f"({first_error}); was it saved by a different kernel configuration?")


# ---------------------------------------------------------------------------------------------- data

def load_eval_pairs(data: str | Path, tokenizer, cfg, max_samples: int | None = None):
    """(raw pairs dataset, tokenised dataset) of the held-out file, with the run's format and lengths."""
    splits = load_pairs_from(str(data), format=cfg.data.format, on_invalid=cfg.data.on_invalid,
                             tokenizer=tokenizer, max_samples=max_samples, columns=cfg.data.columns,
                             split=cfg.data.eval_split, split_option="data.eval_split")
    raw = splits.train
    tok = tokenize_pairs(raw, tokenizer, cfg.data)
    if len(tok) == 0:
        raise DataError(f"{data}: no held-out pairs left after tokenisation")
    return raw, tok


# ---------------------------------------------------------------------------------------------- loop

def collect(accelerator, policy, reference, loader, objective, text_table=None, hidden_embedder=None
            ) -> dict[str, torch.Tensor]:
    """Run both models over ``loader`` (already ``accelerator.prepare``d); gathered per-pair columns.

    Columns: row, pc, pr, rc, rr (log-probs), lc, lr (completion lengths), h_pos/h_neg and
    hr_pos/hr_neg (pooled completion hidden states of policy / reference), with a kernel term
    e_pos/e_neg (the kernel's embeddings) and klr (kernel log-ratio), and ``metric:<name>`` for every
    per-pair metric the objective reports (batch-level ones and the loss under ``scalar:<name>``).
    """
    gatherer = PairGatherer(accelerator)
    policy.eval()
    reference.eval()
    with torch.no_grad():
        for batch in loader:
            B = batch["row"].shape[0]
            need = objective.needs_ref_logits
            with accelerator.autocast():
                # need_logits=False: the LM head runs on completion positions only (no [2B, T, V] tensor)
                out = forward_logps(policy, batch, output_hidden_states=True, need_logits=need, logit_means=True)
                ref = forward_logps(reference, batch, output_hidden_states=True, need_logits=need)
                emb = None if objective.needs_hidden or text_table is None else \
                    tuple(t.to(out.logps.device) for t in text_table.lookup(batch["row"]))
                res = objective(batch, ReferenceOutput(ref.logps, ref.logits if need else None), emb, policy_out=out)
            cols = _pair_columns(batch, out, ref, hidden_embedder, objective, emb)
            cols.update({f"metric:{k}": v for k, v in res.metrics.items() if v.dim() == 1 and v.shape[0] == B})
            # batch-level values repeated per pair: their mean over pairs is the pair-weighted mean
            cols.update({f"scalar:{k}": v.reshape(()).expand(B) for k, v in res.metrics.items() if v.dim() == 0})
            cols["scalar:loss"] = res.loss.detach().reshape(()).expand(B)
            gatherer.add({k: v.float() if v.is_floating_point() else v for k, v in cols.items()})
    return gatherer.result()


def _pair_columns(batch, out, ref, hidden_embedder, objective, emb) -> dict[str, torch.Tensor]:
    B = batch["row"].shape[0]
    cm = batch["completion_mask"]
    cols = {"row": batch["row"], "pc": out.logps[:B], "pr": out.logps[B:], "rc": ref.logps[:B],
            "rr": ref.logps[B:], "lc": out.lengths[:B], "lr": out.lengths[B:]}
    _, h = hidden_embedder.pool_hidden(out.hidden.float(), batch["prompt_mask"], cm)  # [2B, H]
    _, hr = hidden_embedder.pool_hidden(ref.hidden.float(), batch["prompt_mask"], cm)  # [2B, H]
    cols.update(h_pos=h[:B], h_neg=h[B:], hr_pos=hr[:B], hr_neg=hr[B:])
    if objective.kernel is not None:
        e_x, e_pos, e_neg = objective.embeddings_from_hidden(out.hidden.float(), batch) if objective.needs_hidden \
            else emb
        cols.update(e_pos=e_pos.float(), e_neg=e_neg.float(),
                    klr=objective.kernel.log_ratio(e_x.float(), e_pos.float(), e_neg.float()))
    return cols


def kernel_davies_bouldin_score(kernel, e_pos: torch.Tensor, e_neg: torch.Tensor, exact_max_points: int = 4096,
                                num_features: int = 1024, seed: int = 0) -> tuple[float, str]:
    """DB of {e_y+} vs {e_y-} in the kernel's feature space; (score, method)."""

    n = e_pos.shape[0] + e_neg.shape[0]
    kernel = copy.deepcopy(kernel).to(device="cpu", dtype=torch.float64)  # the caller's kernel is left as is
    e_pos, e_neg = e_pos.double().cpu(), e_neg.double().cpu()
    if n <= exact_max_points:
        return chosen_rejected_davies_bouldin(e_pos, e_neg, gram_fn=kernel.pairwise), "exact"
    pts = torch.cat([e_pos, e_neg])
    if getattr(kernel, "shift_invariant", False):
        fmap = RandomFourierFeatures(kernel, num_features, seed=seed).fit(pts.shape[1])
        method = f"rff({num_features})"
    else:
        fmap = Nystrom(kernel, min(num_features, n), seed=seed).fit(pts)
        method = f"nystrom({min(num_features, n)})"
    z = fmap.transform(pts)  # [n, D]
    return chosen_rejected_davies_bouldin(z[:e_pos.shape[0]], z[e_pos.shape[0]:]), method


# ---------------------------------------------------------------------------------------------- API

def evaluate(target: str | Path, data: str | Path | None = None, reference: str | Path | None = None,
             out_dir: str | Path | None = None, batch_size: int | None = None, max_samples: int | None = None,
             beta: float | None = None, registry=None, exact_max_points: int = 4096, accelerator=None,
             write: bool = True) -> EvalResult:
    """Evaluate ``target`` (run or model directory) on the held-out pairs in ``data`` (default: the run's
    ``data.eval`` file); see module docstring.

    Works under ``accelerate launch`` / ``torchrun`` (the loader is sharded, results gathered once);
    only the main process writes files. Returns the same :class:`EvalResult` on every process.
    """
    tgt = resolve_target(target, reference, beta)
    cfg = tgt.config
    if data is None:
        data = cfg.data.eval
        if data is None:
            raise ConfigError(f"{target}: no held-out data given and the run has no data.eval file (its held-out "
                              "split was cut from data.train): pass --data HELD_OUT")
    registry = registry or get_registry()
    accelerator = accelerator or Accelerator(cpu=not torch.cuda.is_available())
    tokenizer, policy, ref_model = _load_frozen_models(tgt, cfg, accelerator.device)
    with accelerator.main_process_first():
        raw, ds = load_eval_pairs(data, tokenizer, cfg, max_samples)

    objective = build_objective(cfg, registry, policy)
    kernel = objective.kernel
    text_table = None
    if kernel is not None:
        if not objective.needs_hidden:
            with accelerator.main_process_first():
                text_table = TextEmbeddingTable.from_output(
                    compute_text_embeddings(raw, objective.embedder, cache_root() / "embeddings"), raw)
        kernel.to(accelerator.device)
    hidden_embedder = (objective.embedder if objective.embedder is not None and objective.embedder.uses_policy_hidden
                       else _policy_hidden(registry))

    keep = [c for c in ds.column_names if c in ("row", "prompt_input_ids", "chosen_input_ids", "rejected_input_ids")]
    loader = DataLoader(ds.select_columns(keep), batch_size=batch_size or cfg.training.eval_batch_size
                        or cfg.training.batch_size, shuffle=False, collate_fn=PreferenceCollator(tokenizer.pad_token_id))
    loader = accelerator.prepare(loader)
    if kernel is not None:
        # fit() first (it sizes buffers and marks the kernel fitted), then the saved state overrides every
        # fitted / learned value, so the held-out pairs used for the fit do not influence the result.
        _fit_kernel_on(kernel, accelerator, objective, loader, text_table, ref_model, cfg.kernel.fit_samples)
        if tgt.kernel_state is not None:
            load_kernel_state(kernel, tgt.kernel_state)
            kernel.to(accelerator.device)
        else:
            logger.warning("no kernel.pt: the kernel's data-dependent parameters are fitted on the held-out pairs")
    cols = collect(accelerator, policy, ref_model, loader, objective, text_table, hidden_embedder)

    metrics, info, weights, pairs = _metrics(cols, cfg, objective, tgt, target, data, exact_max_points, accelerator)
    metrics.update(_hook_metrics(registry, cfg, tgt, metrics, accelerator))
    table = per_pair_table(pairs, cfg.loss.beta)
    if "metric:objective/margin" in cols:
        table["objective/margin"] = cols["metric:objective/margin"].double()
    table["length/chosen"], table["length/rejected"] = cols["lc"].double(), cols["lr"].double()
    result = EvalResult(metrics, weights, table, None, info)
    if write and accelerator.is_main_process:
        out = Path(out_dir) if out_dir is not None else (tgt.run_dir / EVAL_DIR if tgt.run_dir else Path(EVAL_DIR))
        write_eval(result, out)
        result.out_dir = out
    accelerator.wait_for_everyone()
    return result


def _load_frozen_models(tgt: EvalTarget, cfg, device):
    """(tokenizer, policy, reference), both models frozen on ``device``."""
    tokenizer = load_tokenizer(tgt.policy_dir, cfg.model.trust_remote_code)
    policy = load_causal_lm(tgt.policy_dir, cfg.model.dtype, cfg.model.trust_remote_code)
    ref_model = load_causal_lm(tgt.reference_dir, cfg.model.dtype, cfg.model.trust_remote_code)
    for m in (policy, ref_model):
        m.requires_grad_(False)
        m.to(device)
    return tokenizer, policy, ref_model


def _metrics(cols, cfg, objective, tgt, target, data, exact_max_points, accelerator):
    """(metrics, info, kernel weights, PairLogps): :func:`~.heldout.heldout_metrics` over the objective's
    per-pair metrics (the names in-training evaluation writes), then the eval-only extras."""
    kernel = objective.kernel
    beta_v, gamma = cfg.loss.beta, (cfg.kernel.gamma if kernel is not None else 0.0)
    per_pair = {k.split(":", 1)[1]: v for k, v in cols.items() if k.startswith("metric:")}
    scalars = {k.split(":", 1)[1]: float(v.mean()) for k, v in cols.items() if k.startswith("scalar:")}
    metrics = heldout_metrics(per_pair, scalars)
    pairs = PairLogps(cols["pc"], cols["pr"], cols["rc"], cols["rr"], cols.get("klr"), cols["row"])
    for k, v in preference_metrics(pairs, beta_v).items():
        metrics.setdefault(k, v)
    metrics["davies_bouldin/hidden"] = chosen_rejected_davies_bouldin(cols["h_pos"], cols["h_neg"])
    metrics["davies_bouldin/hidden_reference"] = chosen_rejected_davies_bouldin(cols["hr_pos"], cols["hr_neg"])
    info: dict[str, Any] = {"target": str(target), "data": str(data), "policy": str(tgt.policy_dir),
                            "reference": str(tgt.reference_dir), "beta": beta_v, "gamma": gamma,
                            "kernel": cfg.kernel.name if kernel is not None else None,
                            "link": cfg.divergence.link.name, "num_processes": accelerator.num_processes}
    weights: dict[str, float] = {}
    if kernel is not None:
        db, method = kernel_davies_bouldin_score(kernel, cols["e_pos"], cols["e_neg"], exact_max_points)
        metrics["davies_bouldin/kernel"] = db
        info["davies_bouldin_kernel_method"] = method
        weights = {k: float(v) for k, v in (kernel.mixture_weights() or {}).items()}
    if tgt.run_dir is not None and (tgt.run_dir / "metrics.jsonl").is_file():
        points = generalisation_drift(read_metrics(tgt.run_dir))
        info["drift"] = {"metric": "rewards/accuracies", **drift_summary(points),
                         "points": [p.to_json() for p in points]}
    return metrics, info, weights, pairs


def _hook_metrics(registry, cfg, tgt, metrics: dict, accelerator) -> dict[str, float]:
    """Extra metrics from the ``dpok_evaluate`` lifecycle hooks, as during training (state: the run's last step)."""
    step = 0
    if tgt.run_dir is not None and (tgt.run_dir / "metrics.jsonl").is_file():
        step = max((int(r.get("step", 0)) for r in read_metrics(tgt.run_dir)), default=0)
    state = RunState(step, step, 0.0, tgt.run_dir or Path("."), cfg, accelerator.is_main_process,
                     _settings=cfg.plugins)
    return Lifecycle(registry.manager, state).evaluate(metrics)


def _policy_hidden(registry):
    """The registered ``policy_hidden`` embedder (masked mean + L2 norm) for the hidden-state DB scores."""
    try:
        return registry.build("embedder", {"name": "policy_hidden", "params": {"normalize": False}})
    except Exception as exc:  # noqa: BLE001 - a clear message instead of a registry traceback
        raise ConfigError(f"dpok eval needs the `policy_hidden` embedder (dpok-embedders plugin): {exc}") from None


def _fit_kernel_on(kernel, accelerator, objective, loader, text_table, ref_model, max_pairs: int) -> None:
    """kernel.fit() on [e_x; e_y+; e_y-] of up to ``max_pairs`` held-out pairs per process, embedded like the
    engine's fit (the reference = the initial policy, or the frozen text encoder)."""
    embs = []
    seen = 0
    with torch.no_grad():
        for batch in loader:
            if seen >= max_pairs:
                break
            seen += int(batch["row"].shape[0])
            if objective.needs_hidden:
                out = forward_logps(ref_model, batch, output_hidden_states=True, need_logits=False)
                e = objective.embeddings_from_hidden(out.hidden.float(), batch)
            else:
                e = text_table.lookup(batch["row"])
            embs.append(torch.cat([t.float().to(accelerator.device) for t in e]))
    kernel.fit(accelerator.gather(torch.cat(embs)))


def write_eval(result: EvalResult, out_dir: str | Path) -> tuple[Path, Path]:
    """``eval.json`` (metrics, kernel weights, provenance) and ``pairs.csv`` (one row per held-out pair)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    js = write_json(out / EVAL_JSON, result.to_json())
    keys = list(result.pairs)
    n = len(result.pairs[keys[0]]) if keys else 0
    csv_path = out / PAIRS_CSV
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(keys)
        cols = [result.pairs[k].tolist() for k in keys]
        for i in range(n):
            w.writerow([_csv_val(c[i]) for c in cols])
    return js, csv_path


def _csv_val(v: Any) -> Any:
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else str(v)
    return v
