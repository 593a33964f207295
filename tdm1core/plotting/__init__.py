"""Figures for the screen (Plotly) and the PDF (matplotlib's object API), with one palette and one time axis.

Depends on: ``tdm1core.clinical`` (the flag's colours), ``tdm1core.stats`` and ``tdm1core.reading`` (plates)."""
