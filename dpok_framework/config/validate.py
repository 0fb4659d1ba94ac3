"""Checks that need the plugin registry: component names, their params, and link compatibility."""

from __future__ import annotations

from ..errors import ComponentParamsError, ConfigError, UnknownComponentError
from ..registry import Registry
from .run import AUTO, RunConfig


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
        check("kernel", {"name": k.name, "params": k.params}, "kernel")
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
    if problems:
        where = f" in {source}" if source else ""
        raise ConfigError(f"invalid configuration{where}:\n  " + "\n  ".join(problems))
