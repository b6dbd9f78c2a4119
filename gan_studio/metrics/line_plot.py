"""Small line plots drawn with PIL, so headless benchmarks need neither Qt nor matplotlib.

``line_panels`` draws a row of panels, each with its own axes and several named curves sharing one legend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

PALETTE = [(214, 39, 40), (31, 119, 180), (44, 160, 44), (255, 127, 14), (148, 103, 189), (140, 86, 75)]


@dataclass
class Panel:
    title: str
    x_label: str
    y_label: str
    curves: dict[str, tuple[Sequence[float], Sequence[float]]]  # name -> (xs, ys)


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    import math

    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * e >= v:
            return m * e
    return 10 * e


def _draw_panel(draw: ImageDraw.ImageDraw, box, panel: Panel, colors: dict, font) -> None:
    x0, y0, x1, y1 = box
    left, bottom, top, right = x0 + 58, y1 - 40, y0 + 24, x1 - 10
    draw.text((x0 + 6, y0 + 4), panel.title, fill=(0, 0, 0), font=font)
    xs_all = [x for xs, _ in panel.curves.values() for x in xs]
    ys_all = [y for _, ys in panel.curves.values() for y in ys]
    xmax = _nice_max(max(xs_all, default=1.0))
    ymax = _nice_max(max(ys_all, default=1.0))
    draw.rectangle((left, top, right, bottom), outline=(0, 0, 0))
    for i in range(5):
        gx = left + (right - left) * i / 4
        gy = bottom - (bottom - top) * i / 4
        draw.line((gx, top, gx, bottom), fill=(225, 225, 225))
        draw.line((left, gy, right, gy), fill=(225, 225, 225))
        draw.text((gx - 12, bottom + 4), f"{xmax * i / 4:.3g}", fill=(60, 60, 60), font=font)
        draw.text((x0 + 4, gy - 6), f"{ymax * i / 4:.3g}", fill=(60, 60, 60), font=font)
    draw.text(((left + right) / 2 - 40, bottom + 20), panel.x_label, fill=(0, 0, 0), font=font)
    draw.text((left + 4, top + 2), panel.y_label, fill=(0, 0, 0), font=font)
    for name, (xs, ys) in panel.curves.items():
        pts = [
            (left + (right - left) * x / xmax, bottom - (bottom - top) * min(y, ymax) / ymax)
            for x, y in zip(xs, ys, strict=True)
        ]
        if len(pts) > 1:
            draw.line(pts, fill=colors[name], width=2)
        for px, py in pts:
            draw.ellipse((px - 2, py - 2, px + 2, py + 2), fill=colors[name])


def line_panels(panels: Sequence[Panel], panel_size: tuple[int, int] = (330, 280)) -> Image.Image:
    """Draw ``panels`` side by side with one legend underneath; the benchmark writes it with its report
    (``write_report(figures={path: png(image)})``)."""
    names: list[str] = []
    for p in panels:
        names += [n for n in p.curves if n not in names]
    colors = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    w, h = panel_size
    legend_h = 26
    image = Image.new("RGB", (w * len(panels), h + legend_h), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for i, panel in enumerate(panels):
        _draw_panel(draw, (i * w, 0, (i + 1) * w, h), panel, colors, font)
    x = 10
    for n in names:
        draw.line((x, h + 13, x + 20, h + 13), fill=colors[n], width=3)
        draw.text((x + 24, h + 6), n, fill=(0, 0, 0), font=font)
        x += 30 + int(draw.textlength(n, font=font)) + 14
    return image
