"""``dpok analyze``: HT-SR weighted alpha of the policy and its reference, per layer and overall."""

from __future__ import annotations

import json
import math

import click


def _f(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"


@click.command("analyze")
@click.argument("target", type=click.Path(exists=True, file_okay=False))
@click.option("--reference", type=str, default=None,
              help="Reference model directory (default: the run's model.reference, else its model.path).")
@click.option("--min-evals", type=click.IntRange(min=2), default=10, show_default=True,
              help="Skip weight matrices with fewer eigenvalues than this.")
@click.option("--min-tail", type=click.IntRange(min=2), default=2, show_default=True,
              help="Smallest power-law tail (eigenvalues >= x_min) considered by the KS search (2: "
                   "WeightWatcher's rule).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="JSON output (default: RUN_DIR/eval/htsr.json for a run directory).")
@click.option("--layers/--no-layers", default=False, help="Print the per-layer table.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON result.")
def analyze_command(target, reference, min_evals, min_tail, out, layers, as_json) -> None:
    """Heavy-tailed self-regularisation analysis of TARGET (run or model directory).

    Per weight matrix W (WeightWatcher 0.7.7's definitions): eigenvalues of W^T W, power-law tail exponent alpha
    (MLE, x_min by KS distance), weighted alpha = alpha * log10(lambda_max); overall = means over layers. Lower weighted alpha usually
    means better generalisation; alpha < 2 flags over-fit layers.
    """
    from ..evaluation.analyze import analyze

    res = analyze(target, reference=reference, min_evals=min_evals, min_tail=min_tail, out=out)
    if as_json:
        click.echo(json.dumps(res, indent=2))
        return
    pol, ref = res["policy"], res.get("reference") or {}
    click.echo(f"{'':<22}{'policy':>12}{'reference':>12}")
    for k in ("alpha_weighted", "alpha", "frac_alpha_below_2", "num_layers"):
        click.echo(f"{k:<22}{_f(pol.get(k)) if k != 'num_layers' else pol.get(k):>12}"
                   f"{(_f(ref.get(k)) if k != 'num_layers' else ref.get(k, '-')):>12}")
    if layers:
        click.echo(f"\n{'layer':<48}{'alpha':>9}{'a_w':>9}{'ref alpha':>11}{'ref a_w':>9}")
        for r in res["layers"]:
            click.echo(f"{r['name'][:47]:<48}{_f(r['alpha/policy']):>9}{_f(r['alpha_weighted/policy']):>9}"
                       f"{_f(r['alpha/reference']):>11}{_f(r['alpha_weighted/reference']):>9}")
    n_skip = len(res["skipped"]["policy"])
    if n_skip:
        click.echo(f"({n_skip} weight matrices skipped, e.g. {res['skipped']['policy'][0]['reason']})")
    if res.get("written_to"):
        click.echo(f"wrote {res['written_to']}")
