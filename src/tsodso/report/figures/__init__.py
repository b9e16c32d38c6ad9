"""The report's figures, one module per subject; each function takes a ``ReportData`` and
returns a plotly figure with its one-line reading in ``fig.layout.meta['reading']``."""
