"""HTML run reports with PNG plots: ``build_report(run_dir)`` (also ``dpok report RUN_DIR``)."""

from .html import INDEX, REPORT_DIR, build_report

__all__ = ["INDEX", "REPORT_DIR", "build_report"]
