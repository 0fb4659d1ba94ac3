"""``dpok eval``: held-out preference metrics of a run (or model) against its reference."""

from __future__ import annotations

import json
import math

import click


def _fmt(v) -> str:
    return f"{v:.6g}" if isinstance(v, float) and math.isfinite(v) else str(v)


@click.command("eval")
@click.argument("target", type=click.Path(exists=True, file_okay=False))
@click.option("--data", "data", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Held-out preference pairs (JSON/JSONL(.gz)/Parquet; the run's data.format). "
                   "Default: the run's data.eval file, else the held-out split the run recorded when it cut "
                   "data.eval_fraction off data.train (RUN/heldout_split.json).")
@click.option("--reference", type=str, default=None,
              help="Reference model directory (default: the run's model.reference, else its model.path).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output directory for eval.json and pairs.csv (default: RUN_DIR/eval, or ./eval).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Pairs per batch per process.")
@click.option("--max-samples", type=click.IntRange(min=1), default=None, help="Evaluate the first N pairs only.")
@click.option("--beta", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="Override beta of the implicit reward (default: the run's loss.beta; 0.1 for a plain model directory).")
@click.option("--json", "as_json", is_flag=True, help="Print eval.json instead of a table.")
def eval_command(target, data, reference, out_dir, batch_size, max_samples, beta, as_json) -> None:
    """Evaluate TARGET (a run directory or a model directory) on held-out pairs.

    Reports implicit-reward accuracy, reward margins, win rate against the reference, F1, Davies-Bouldin of
    chosen vs rejected embeddings (hidden states, and under the run's kernel), kernel log-ratio statistics
    and learned mixture weights. Runs under `accelerate launch` / `torchrun` too.
    """
    from ..evaluation.evaluate import evaluate

    res = evaluate(target, data, reference=reference, out_dir=out_dir, batch_size=batch_size,
                   max_samples=max_samples, beta=beta)
    from accelerate import PartialState

    if not PartialState().is_main_process:
        return
    if as_json:
        click.echo(json.dumps(res.to_json(), indent=2))
        return
    width = max(len(k) for k in res.metrics)
    for k, v in res.metrics.items():
        click.echo(f"{k:<{width}}  {_fmt(v)}")
    for k, v in res.kernel_weights.items():
        click.echo(f"{'kernel weight ' + k:<{width}}  {_fmt(v)}")
    if res.out_dir is not None:
        click.echo(f"wrote {res.out_dir / 'eval.json'} and {res.out_dir / 'pairs.csv'}")
