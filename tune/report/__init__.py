"""The study report, ``<study>/report.html``: data step (``data``, ``importances``), drawing
(``figures``) and page (``page``), as Optuna's ``visualization`` package separates them."""

from __future__ import annotations

from pathlib import Path

from tune.report.data import load_report_data
from tune.report.figures import build_figures, png_bytes
from tune.report.importances import param_importances
from tune.report.page import render_html
from tune.study import Study

REPORT_FILE = "report.html"
FIGURES = ("learning_curves", "best_so_far", "importances", "winner_vs_baselines", "quality_vs_cost")


def write_report(study_dir: Path) -> Path:
    """Write ``report.html`` (and ``report_<figure>.png`` beside it) into a local, exported study
    directory; returns the page's path. Raises ``Track2VecError`` for a directory that is no
    study or a study without an export."""
    data = load_report_data(Path(study_dir))
    importances = param_importances(data)
    figures = build_figures(data, importances)
    pngs = {name: png_bytes(figure) for name, figure in figures.items()}
    for name in FIGURES:
        path = data.study_dir / f"report_{name}.png"
        if name in pngs:
            path.write_bytes(pngs[name])
        else:
            path.unlink(missing_ok=True)  # a stale figure from an earlier report
    study = Study(str(data.study_dir.parent), data.study_dir.name)
    study.write_text(REPORT_FILE, render_html(data, figures, importances, pngs))
    return data.study_dir / REPORT_FILE
