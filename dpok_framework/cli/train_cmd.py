"""``dpok train CONFIG``: align a causal LM with the DPO-Kernels objective (see docs/engine.md)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from ..config import load_config


def format_summary(summary: dict) -> str:
    """The held-out comparison printed at the end of a run."""
    lines = []
    pol, ref = summary.get("policy"), summary.get("reference")
    if pol and ref:
        n = summary.get("n_pairs", 0)
        lines.append(f"Held-out preference pairs: {n}")
        lines.append(f"  {'':34}{'trained policy':>16}{'reference':>12}")
        rows = [("accuracy  [log p(y+) > log p(y-)]", "accuracy", "{:.3f}"),
                ("accuracy per token", "accuracy_per_token", "{:.3f}"),
                ("mean margin log p(y+) - log p(y-)", "mean_margin", "{:+.3f}")]
        for label, key, fmt in rows:
            lines.append(f"  {label:34}{fmt.format(pol[key]):>16}{fmt.format(ref[key]):>12}")
        ev = summary.get("eval", {})
        lines.append(f"  {'reward accuracy (TRL)':34}{ev.get('rewards/accuracies', float('nan')):>16.3f}{'-':>12}")
        lines.append(f"  {'mean reward margin beta*(r+ - r-)':34}{ev.get('rewards/margins', float('nan')):>+16.4f}"
                     f"{'0':>12}")
    else:
        lines.append("No held-out split (data.eval_fraction: 0 and no data.eval): nothing evaluated.")
    return "\n".join(lines)


@click.command("train")
@click.argument("config_file", type=click.Path(dir_okay=False), required=False)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a field, e.g. training.lr=1e-5.")
@click.option("--resume", is_flag=True, help="Continue from the latest checkpoint in output.dir.")
@click.option("--output-dir", "-o", default=None, help="Shortcut for --set output.dir=DIR.")
@click.option("--quiet", "-q", is_flag=True, help="Only warnings and the final summary.")
def train_command(config_file: str | None, overrides: tuple[str, ...], resume: bool, output_dir: str | None,
                  quiet: bool) -> None:
    """Train on preference pairs as configured by CONFIG_FILE (default: the bundled default run).

    Writes the run directory (model/, config.yaml, metrics.jsonl, summary.json, checkpoints/) and prints
    held-out preference accuracy and margins of the trained policy next to the untouched reference.
    """
    from ..training import Engine
    from ..training.trainer import TrainResult

    if config_file is None:
        config_file = str(Path(__file__).resolve().parent.parent / "defaults" / "default.yaml")
    overrides = tuple(overrides) + ((f"output.dir={output_dir}",) if output_dir else ())
    config = load_config(config_file, overrides)
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("httpx", "urllib3", "filelock", "datasets", "accelerate"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # tied embeddings: accelerate warns on every checkpoint that it stored the shared tensor once (expected)
    logging.getLogger("accelerate.utils.other").setLevel(logging.ERROR)
    result: TrainResult = Engine(config, resume=resume).train()
    from accelerate.state import PartialState

    if not PartialState().is_main_process:
        return
    s = result.summary
    click.echo("")
    click.echo(f"Trained {s.get('global_step')} steps in {s.get('train_time_s')} s "
               f"(stopped by {result.stopped_by}; {s.get('skipped_steps', 0)} non-finite steps skipped).")
    click.echo(format_summary(s))
    run = result.run_dir
    click.echo(f"Outputs in {run}/: model/ (safetensors + tokenizer), config.yaml, metrics.jsonl, summary.json"
               + (", kernel.pt" if (run / "kernel.pt").exists() else "")
               + (", checkpoints/" if (run / "checkpoints").exists() else ""))
