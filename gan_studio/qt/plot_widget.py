"""The plot every chart of the app starts from: a transparent pyqtgraph plot that reads as part of the panel.

No context menu and no auto-range button (each chart rescales itself as its data arrive), a faint grid, and the
mouse pans and zooms only where a chart asks for it.
"""

from __future__ import annotations

import pyqtgraph as pg


def panel_plot(
    bottom: str, left: str | None = None, *, grid_x: bool = True, mouse: bool = False
) -> pg.PlotWidget:
    """A plot with the axis labels ``bottom`` and ``left`` (None: none), horizontal grid lines (and vertical ones
    where ``grid_x``), panned and zoomed by the mouse only where ``mouse``."""
    plot = pg.PlotWidget(background=None)
    plot.setMenuEnabled(False)
    if not mouse:
        plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    plot.showGrid(x=grid_x, y=True, alpha=0.2)
    plot.setLabel("bottom", bottom)
    if left is not None:
        plot.setLabel("left", left)
    return plot
