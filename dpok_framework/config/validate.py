"""Checks that need the plugin registry: component names, their params, and link compatibility."""

from __future__ import annotations

from ..errors import ComponentParamsError, ConfigError, UnknownComponentError
from ..registry import Registry
from .run import AUTO, RunConfig
from .trackers import missing_trackers


def validate_components(config: RunConfig, registry: Registry, source: str | None = None) -> None:
    """Raise :class:`ConfigError` listing every component problem of ``config``."""
    problems: list[str] = []

    def check(kind: str, spec, where: str):
        try:
            return registry.validate(kind, spec, where)
        except (UnknownComponentError, ComponentParamsError) as exc:
            problems.append(f"{where}: {exc}")
            return None

    loss = check("loss", {"name": config.loss.name, "params": config.loss.params}, "loss")
    k = config.kernel
    if k.name not in (None, AUTO):
        kernel = check("kernel", {"name": k.name, "params": k.params}, "kernel")
        if kernel is not None:
            problems.extend(kernel_use_problems(kernel[0].cls(kernel[1]), config))
    if k.name is not None:
        check("embedder", config.kernel.embedder, "kernel.embedder")
    d = config.divergence
    if d.link.name != AUTO:
        link = check("divergence", d.link, "divergence.link")
        if link is not None:
            info = link[0]
            if not info.cls.has_link_for(link[1]):
                ok = [n for n, c in registry.classes("divergence").items() if c.has_link]
                problems.append(
                    f"divergence.link: {info.name!r} has no f-DPO link psi(r) = f'(exp r), so it cannot replace "
                    f"the log-ratio inside the loss. Use it as divergence.penalty (with divergence.alpha > 0), "
                    f"or choose a link from: {', '.join(ok)}")
            elif loss is not None and not getattr(loss[0].cls, "accepts_link", True) and info.name != "kl":
                problems.append(f"divergence.link: loss {loss[0].name!r} is defined on the plain log-ratio and "
                                f"does not take an f-DPO link; use divergence.link: kl with it")
    if d.penalty is not None and d.penalty.name != AUTO:
        check("divergence", d.penalty, "divergence.penalty")
    if config.privacy is not None:
        check("privacy_wrapper", config.privacy.wrapper_spec(), "privacy")  # what build_privacy_wrapper builds
    missing = missing_trackers(config.training.report_to)
    if missing:
        problems.append(f"training.report_to: tracker(s) {missing} are not installed (pip install "
                        f"{' '.join(missing)}), or remove them from training.report_to")
    if problems:
        where = f" in {source}" if source else ""
        raise ConfigError(f"invalid configuration{where}:\n  " + "\n  ".join(problems))


def kernel_use_problems(kernel, config: RunConfig) -> list[str]:
    """What a built kernel cannot do in this run: take log K with gamma > 0 when K can be <= 0 (its
    ``strictly_positive`` flag, possibly set per instance from its params), or carry an entropy term
    when it has no regulariser.  Also called on the kernel ``auto`` selection picked."""
    k, out = config.kernel, []
    if k.gamma > 0 and not getattr(kernel, "strictly_positive", True):
        out.append(f"kernel: {kernel.name!r} (with these params) can be <= 0, but kernel.gamma > 0 takes log K of "
                   "it at every step; choose a strictly positive kernel (e.g. rbf) or adjust its params")
    if k.entropy_weight > 0 and kernel.regularizer() is None:
        out.append(f"kernel.entropy_weight: {kernel.name!r} has no regulariser, so entropy_weight "
                   f"({k.entropy_weight:g}) would have no effect; set it to 0 or use a mixture kernel (e.g. hmk)")
    return out
