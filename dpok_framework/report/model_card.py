"""The model card ``model/README.md`` of a trained run (Hugging Face model-card layout: YAML front matter,
then Markdown): base model, data and its licence, the objective with its parameters, held-out metrics with
intervals and the verdict against the reference, and the dpok and plugin versions that produced it."""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path
from typing import Any

import yaml

from .heldout import heldout_uncertainty

CARD = "README.md"

# licences of what dpok ships itself; anything else: the user's own data / model card says
_BUNDLED_DATA = ("Anthropic HH-RLHF, harmless-base: 400-pair subset bundled with dpok (Bai et al. 2022, "
                 "arXiv:2204.05862)", "MIT (Copyright (c) 2022 Anthropic)")
_BUILTIN_MODELS = {"builtin:smollm2-135m-instruct": ("HuggingFaceTB/SmolLM2-135M-Instruct", "apache-2.0")}


def versions() -> dict[str, str]:
    """dpok-framework and every installed dpok plugin distribution (``dpok-*``), name -> version."""
    out = {}
    for dist in md.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name == "dpok-framework" or name.startswith("dpok-") or name.startswith("dpok_"):
            out[dist.metadata["Name"]] = dist.version
    return dict(sorted(out.items()))


def _spec(spec: Any) -> str:
    if spec is None:
        return "none"
    if isinstance(spec, str):
        return spec
    params = spec.get("params") or {}
    return spec.get("name") + (f" ({', '.join(f'{k}={v}' for k, v in params.items())})" if params else "")


def model_card(config: dict[str, Any], summary: dict[str, Any] | None) -> str:
    """The card's text from the run's config (``config.yaml`` as a dict) and ``summary.json``."""
    model, data = config.get("model") or {}, config.get("data") or {}
    loss, kernel, div = config.get("loss") or {}, config.get("kernel") or {}, config.get("divergence") or {}
    tr = config.get("training") or {}
    base, model_licence = _BUILTIN_MODELS.get(model.get("path"), (model.get("path"), None))
    if data.get("train"):
        data_desc, data_licence = f"`{Path(data['train']).name}` (user data)", "see the data's own licence"
    else:
        data_desc, data_licence = _BUNDLED_DATA
    front = {"library_name": "transformers", "base_model": base, "tags": ["dpo", "dpo-kernels", "dpok"],
             "pipeline_tag": "text-generation"}
    if model_licence:
        front["license"] = model_licence
    lines = ["---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "",
             "# Policy aligned with DPO-Kernels (dpok)", "",
             f"Fine-tuned from **{base}** on preference pairs with the DPO-Kernels objective "
             "(`dpok train`; the run directory holds `config.yaml`, `metrics.jsonl`, `summary.json`).", "",
             "## Base model", "", f"- model: `{model.get('path')}`" + (f" ({base})" if base != model.get("path")
                                                                        else ""),
             f"- reference: `{model.get('reference') or 'a frozen copy of the base model'}`",
             f"- licence: {model_licence or 'see the base model card'}", "",
             "## Data", "", f"- training pairs: {data_desc}", f"- licence: {data_licence}",
             "- held-out pairs: " + (f"`{Path(data['eval']).name}`" if data.get("eval") else
                                     f"{data.get('eval_fraction')} of the training pairs, split with seed "
                                     f"{data.get('seed')} (rows recorded in the run directory)"),
             f"- max_length {data.get('max_length')}, max_prompt_length {data.get('max_prompt_length')}", "",
             "## Objective", "",
             "margin m = beta (psi(r+) - psi(r-)) + gamma (log K(e_x, e_y+) - log K(e_x, e_y-)); loss = "
             "loss(m) + alpha D(pi || pi_ref)", "",
             f"- loss: {loss.get('name')}, beta = {loss.get('beta')}",
             f"- kernel: {_spec({'name': kernel['name'], 'params': kernel.get('params')}) if kernel.get('name') else 'none (plain DPO)'}"
             + (f", gamma = {kernel.get('gamma')}, embedder {_spec(kernel.get('embedder'))}, kernel lr "
                f"{kernel.get('lr')}" if kernel.get("name") else ""),
             f"- divergence link psi: {_spec(div.get('link'))}; penalty: {_spec(div.get('penalty'))}"
             + (f", alpha = {div.get('alpha')}" if div.get("penalty") else ""),
             f"- training: lr {tr.get('lr')}, batch {tr.get('batch_size')} x accumulation "
             f"{tr.get('gradient_accumulation_steps')}, seed {tr.get('seed')}", ""]
    lines += ["## Held-out evaluation", ""]
    u = heldout_uncertainty(summary or {})
    if u is None:
        lines.append("No held-out split was evaluated.")
    else:
        steps = (summary or {}).get("global_step")
        lines += [f"{u['n_pairs']} held-out pairs, after {steps} optimizer steps; {u['level']:.0%} exact "
                  "binomial intervals.", "", "| metric | value | interval |", "|---|---|---|"]
        lines += [f"| {r['label']} | {r['value']:.3f} | [{r['low']:.3f}, {r['high']:.3f}] |" for r in u["rows"]]
        lines += ["", f"**Verdict**: {u['verdict']}."]
    lines += ["", "## Versions", ""] + [f"- {k} {v}" for k, v in versions().items()]
    lines += ["", "## Use", "", "```python", "from transformers import AutoModelForCausalLM, AutoTokenizer",
              'model = AutoModelForCausalLM.from_pretrained("PATH/TO/RUN/model")',
              'tokenizer = AutoTokenizer.from_pretrained("PATH/TO/RUN/model")', "```", ""]
    return "\n".join(lines)


def write_model_card(run_dir: str | Path) -> Path | None:
    """Write ``RUN/model/README.md`` from ``config.yaml`` and ``summary.json``; None without a saved model."""
    run = Path(run_dir)
    model_dir = run / "model"
    if not (model_dir / "config.json").is_file():
        return None
    import json

    config = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8")) or {}
    summary_path = run / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else None
    path = model_dir / CARD
    tmp = model_dir / f".{CARD}.tmp"
    tmp.write_text(model_card(config, summary), encoding="utf-8")
    tmp.replace(path)
    return path
