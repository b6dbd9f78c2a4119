"""`gan-studio colortable`: measure the catalog's garment colors and rebuild the LAB color table
(the work is :func:`gan_studio.data.colortable.colortable_command`)."""

from __future__ import annotations

import argparse


def add_arguments(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("colortable", help="measure catalog colors and rebuild the LAB color table")
    p.add_argument("--n", type=int, default=3000, help="items measured")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--k", type=int, default=14, help="number of clusters")
    p.add_argument("--out", default=None, help="JSON path (default: the shipped resources/color_table.json)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from gan_studio.data.colortable import colortable_command

    return colortable_command(args)
