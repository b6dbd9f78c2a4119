"""The word-by-word figure of `bench restgan`: per title, ReStGAN's prefix images over StackGAN's, one column a word.

Drawn with Pillow only (no plotting library): a header line with the title, a line naming the word each column
appends, then one row of 64 px cells per model. `bench restgan` writes it with its report, through the atomic
writer, so a reader never sees half a PNG.
"""

from __future__ import annotations

import numpy as np

FIGURE_TITLES = 4  # titles shown
FIGURE_COLUMNS = 12  # prefixes shown per title, the empty one first


def rows_figure(rows: list[tuple[str, list[str], np.ndarray, np.ndarray]]):
    """A PIL image, written as a PNG with the report: per title, a header line, the ReStGAN prefix images over the StackGAN ones, one column per word."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    cell, gap, label_w, line = 64, 2, 70, 14
    n_cols = max((min(len(a), FIGURE_COLUMNS) for _, _, a, _ in rows), default=1)
    block = line * 2 + 2 * (cell + gap) + 8
    img = Image.new("RGB", (label_w + n_cols * (cell + gap), max(1, block * len(rows))), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    y = 0
    for title, words, ours, base in rows:
        draw.text((2, y + 1), title[:110], fill=(0, 0, 0), font=font)
        y += line
        cols = min(len(ours), len(base), FIGURE_COLUMNS)
        for k in range(cols):
            word = "(empty)" if k == 0 else "+" + words[k - 1]
            draw.text((label_w + k * (cell + gap), y + 1), word[:10], fill=(90, 90, 90), font=font)
        y += line
        for name, images in (("ReStGAN", ours), ("StackGAN", base)):
            draw.text((2, y + cell // 2 - 6), name, fill=(0, 0, 0), font=font)
            for k in range(cols):
                im = Image.fromarray(images[k])
                if im.size != (cell, cell):
                    im = im.resize((cell, cell), Image.BILINEAR)
                img.paste(im, (label_w + k * (cell + gap), y))
            y += cell + gap
        y += 8
    return img
