"""Edges that write results: Parquet tables of a run (``tables``), the compact tables a
report draws (``details``) and the HTML report (``page``), with its figures for notebooks.

    from tsodso.report import load_output, figures
    data = load_output("out/compare")       # a compare, run, sweep or assess --out directory
    figs = figures(data)                    # {"cost": go.Figure, "map": ..., ...}
    figs["cost"].show()

Every figure function takes the ``ReportData`` of ``load_output`` and raises
``MissingData`` when the output lacks what it draws. The core never imports this package.
"""

from tsodso.report.figures.common import MissingData, reading
from tsodso.report.figures.comparison import (
    compute_figure,
    cost_figure,
    curtailment_figure,
    data_figure,
    unmet_figure,
    violations_figure,
)
from tsodso.report.figures.envelopes import envelope_figure, envelope_map
from tsodso.report.figures.grid import grid_map, violation_heatmap
from tsodso.report.figures.money import money_figure, procurement_figure, stacking_figure
from tsodso.report.figures.scenario import ders_figure
from tsodso.report.figures.sequence import sequence_figure
from tsodso.report.figures.sweep import sweep_figure
from tsodso.report.load import ReportData, ReportInputError, load_output
from tsodso.report.page import PANELS, build_report, figures, write_report

__all__ = [
    "PANELS",
    "MissingData",
    "ReportData",
    "ReportInputError",
    "build_report",
    "compute_figure",
    "cost_figure",
    "curtailment_figure",
    "data_figure",
    "ders_figure",
    "envelope_figure",
    "envelope_map",
    "figures",
    "grid_map",
    "load_output",
    "money_figure",
    "procurement_figure",
    "reading",
    "sequence_figure",
    "stacking_figure",
    "sweep_figure",
    "unmet_figure",
    "violation_heatmap",
    "violations_figure",
    "write_report",
]
