"""``dpok select``: data-driven choice of kernel and divergence, with a ranked table and a heat map."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import ConfigError


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise ConfigError("a candidate list must name at least one component (comma-separated)")
    return names


def _columns(pairs: tuple[str, ...]) -> dict[str, str]:
    """``("prompt=question", ...)`` -> ``{"prompt": "question"}``, checked as the run config's ``data.columns``."""
    from pydantic import ValidationError

    from ..config.data import DataConfig
    from ..config.loading import format_validation_error

    columns: dict[str, str] = {}
    for item in pairs:
        field, sep, source = item.partition("=")
        if not sep:
            raise ConfigError(f"--column {item!r}: expected FIELD=SOURCE, e.g. --column prompt=question")
        if field.strip() in columns:
            raise ConfigError(f"--column: {field.strip()!r} is mapped twice")
        columns[field.strip()] = source.strip()
    try:
        return dict(DataConfig(columns=columns).columns)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, "--column")) from None


@click.command("select")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--embedder", default=None, metavar="NAME",
              help="Embedder for e_x, e_y (default: policy_hidden with --model, else sentence_encoder).")
@click.option("--model", "model_path", default=None, metavar="PATH",
              help="Causal LM (directory or builtin:<name>): policy-hidden embeddings and the reference "
                   "distributions the divergence metrics need. Without it only kernels are ranked.")
@click.option("--format", "data_format", default="auto", show_default=True,
              help="Pair file format (auto, standard, conversational, implicit, llamafactory).")
@click.option("--column", "column_maps", multiple=True, metavar="FIELD=SOURCE",
              help="Read prompt/chosen/rejected from another column, e.g. --column prompt=question (repeatable; "
                   "the run config's data.columns).")
@click.option("--on-invalid", type=click.Choice(["error", "skip"]), default="error", show_default=True,
              help="Malformed pairs: stop with an error naming the row, or skip them.")
@click.option("--mode", type=click.Choice(["approx", "exact"]), default="approx", show_default=True,
              help="approx: linear-time metrics; exact: quadratic U-statistics (small data).")
@click.option("--sample-size", type=int, default=512, show_default=True, help="Pairs scored (seeded sample).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--kernels", default=None, metavar="A,B", help="Candidate kernels (default: every installed one).")
@click.option("--divergences", default=None, metavar="A,B", help="Candidate divergences (default: all installed).")
@click.option("--metrics", default=None, metavar="A,B", help="Selection metrics (default: every installed one).")
@click.option("--link-only", is_flag=True, help="Only divergences with an f-DPO link (for divergence.link).")
@click.option("--out", "out_dir", default="selection-report", show_default=True, type=click.Path(file_okay=False),
              help="Report directory: selection.json, selection.md, heatmap.png.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON instead of the table.")
def select_command(data, embedder, model_path, data_format, column_maps, on_invalid, mode, sample_size, seed, kernels, divergences, metrics,
                   link_only, out_dir, as_json) -> None:
    """Rank every installed (kernel, divergence) candidate on DATA and explain the winner.

    DATA is a preference-pair file (JSON/JSONL/Parquet, any supported format) or a precomputed embeddings
    file (.pt/.npz with e_x, e_pos, e_neg [N, d], optionally logp, logq [M, V] for divergences).
    """
    from ..config import SelectionConfig
    from ..registry import load_registry
    from ..selection import DivergenceEvidence, KernelEvidence, Selector
    from ..selection.collect import embed_pairs, load_embedding_file, reference_distributions, sample_rows

    columns = _columns(column_maps)
    sel = SelectionConfig(sample_size=max(sample_size, 2), mode=mode, seed=seed)
    if sample_size < 2:
        raise ConfigError(f"--sample-size must be at least 2, got {sample_size}")
    registry = load_registry()
    selector = Selector(registry, _split(metrics))
    path = Path(data)
    kernel_ev = div_ev = None
    if path.suffix in (".pt", ".npz"):
        if model_path or embedder or columns:
            raise ConfigError(f"{path}: an embeddings file is scored as it is; --model/--embedder/--column apply to "
                              "pair files")
        e_x, e_pos, e_neg, extras = load_embedding_file(str(path))
        kernel_ev = KernelEvidence(e_x, e_pos, e_neg, mode=mode, seed=seed, fit_pairs=sel.fit_pairs, source=str(path))
        if extras:
            div_ev = DivergenceEvidence(extras["logp"], extras["logq"], seed=seed, source=str(path))
    else:
        from ..data import load_pairs_from

        model = tokenizer = None
        if model_path:
            from ..models.loading import load_causal_lm, load_tokenizer, resolve_model_dir

            model_dir = resolve_model_dir(model_path)
            tokenizer = load_tokenizer(model_dir)
            model = load_causal_lm(model_dir)
        ds = sample_rows(load_pairs_from(str(path), format=data_format, on_invalid=on_invalid, tokenizer=tokenizer,
                                         columns=columns).train, sel.sample_size,
                         seed)
        emb = registry.build("embedder", embedder or ("policy_hidden" if model is not None else "sentence_encoder"),
                             where="--embedder")
        e_x, e_pos, e_neg = embed_pairs(ds, emb, model=model, tokenizer=tokenizer, batch_size=sel.batch_size)
        kernel_ev = KernelEvidence(e_x, e_pos, e_neg, mode=mode, seed=seed, fit_pairs=sel.fit_pairs,
                                   source=f"{path} ({len(ds)} pairs, {emb.name})")
        if model is not None:
            logp, logq, tok_emb = reference_distributions(model, ds, tokenizer, positions_per_pair=sel.positions_per_pair,
                                                          max_positions=sel.max_positions, batch_size=sel.batch_size)
            div_ev = DivergenceEvidence(logp, logq, seed=seed, token_embeddings=tok_emb,
                                        source=f"{path}: reference distributions on chosen vs rejected completions")
    result = selector.select(kernel_ev, div_ev, kernels=_split(kernels), divergences=_split(divergences),
                             require_link=link_only,
                             fixed={} if div_ev is not None else {"divergence": "(not scored: pass --model)"},
                             config={"data": str(path), "mode": mode, "seed": seed, "sample_size": sample_size})
    paths = result.write(out_dir)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(result.format())
        if div_ev is None:
            click.echo("\n(divergences not scored: they need reference distributions; pass --model, or logp/logq "
                       "in the embeddings file)")
        click.echo(f"\nreport: {paths['json']}, {paths['table']}, {paths['heatmap']}")
