"""Draw the app icon, ``resources/icons/gan-studio.png`` (a pair of jeans on a rounded tile): ``python make_icon.py``.

Drawn at 4x and scaled down for smooth edges, then stored with a small palette so that the committed PNG stays
a few kilobytes. Deterministic: running it again gives the same file.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 256
SCALE = 4
OUT = Path(__file__).resolve().parents[1] / "resources" / "icons" / "gan-studio.png"

TILE = (38, 70, 124, 255)  # deep denim blue
GARMENT = (236, 240, 246, 255)
STITCH = (242, 176, 64, 255)  # contrast stitching
SHADE = (196, 206, 222, 255)


def draw_icon(size: int = SIZE) -> Image.Image:
    s = size * SCALE
    im = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)

    def p(x: float, y: float) -> tuple[float, float]:  # fractions of the tile -> pixels
        return x * s, y * s

    d.rounded_rectangle([p(0.04, 0.04), p(0.96, 0.96)], radius=0.2 * s, fill=TILE)
    # the trousers: waistband, then two legs that part below the crotch
    legs = [
        p(0.30, 0.24),
        p(0.70, 0.24),
        p(0.76, 0.86),
        p(0.55, 0.86),
        p(0.50, 0.44),
        p(0.45, 0.86),
        p(0.24, 0.86),
    ]
    d.polygon(legs, fill=GARMENT)
    d.rectangle([p(0.30, 0.16), p(0.70, 0.25)], fill=GARMENT)
    d.rectangle([p(0.30, 0.245), p(0.70, 0.27)], fill=SHADE)
    # fly, pockets and hems in contrast stitching
    w = max(1, round(0.012 * s))
    d.line([p(0.50, 0.27), p(0.50, 0.40)], fill=STITCH, width=w)
    d.arc([p(0.24, 0.18), p(0.42, 0.40)], start=0, end=90, fill=STITCH, width=w)
    d.arc([p(0.58, 0.18), p(0.76, 0.40)], start=90, end=180, fill=STITCH, width=w)
    d.line([p(0.25, 0.82), p(0.45, 0.82)], fill=STITCH, width=w)
    d.line([p(0.55, 0.82), p(0.75, 0.82)], fill=STITCH, width=w)
    d.line([p(0.32, 0.205), p(0.68, 0.205)], fill=STITCH, width=w)
    return im.resize((size, size), Image.Resampling.LANCZOS)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else OUT
    icon = draw_icon()
    icon.quantize(colors=48, method=Image.Quantize.FASTOCTREE).save(out, optimize=True)
    # The app refuses an icon whose sha256 is not the recorded one (gan_studio.resources.checked_icon).
    manifest = out.parent / "icons.json"
    recorded = json.loads(manifest.read_text()) if manifest.is_file() else {}
    recorded[out.name] = hashlib.sha256(out.read_bytes()).hexdigest()
    manifest.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes) and its sha256 in {manifest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
