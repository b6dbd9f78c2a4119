"""Writing benchmark results: one JSON file and one markdown table per benchmark under docs/benchmarks/, and the
figures that go with them, as one set through the atomic writer (:mod:`gan_studio.data.output_files`)."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO


def machine_info() -> dict:
    """What the numbers were measured on."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count()
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_cores_available": cores,
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info


def bench_command(args: Any, benchmark: str) -> str:
    """``gan-studio bench BENCHMARK …`` with the options as typed (``args.argv``, set by the CLI), for a report."""
    return f"gan-studio bench {benchmark} " + " ".join(getattr(args, "argv", [])[2:])


def png(image: Any) -> Callable[[BinaryIO], None]:
    """The writer of a PIL image as PNG, for ``write_report(figures=...)``."""
    return lambda f: image.save(f, format="PNG")


def write_report(
    out_dir: str | Path,
    name: str,
    data: dict,
    markdown: str,
    figures: Mapping[str | Path, Callable[[BinaryIO], None]] | None = None,
) -> tuple[Path, Path]:
    """Write ``NAME.json`` (data plus machine info and date), ``NAME.md`` and the ``figures`` (path -> writer of the
    file, e.g. :func:`png`); returns the JSON and markdown paths.

    All or nothing: every file is staged under a temporary name and moved into place only once all are written, so a
    full disk leaves the previous report and figures as they were; an unwritable folder is one sentence naming the
    path (:class:`~gan_studio.data.output_files.OutputError`), as for every other output.
    """
    from gan_studio.data.output_files import StagedOutputs

    out = Path(out_dir)
    data = {"benchmark": name, "date": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine_info(), **data}
    jpath, mpath = out / f"{name}.json", out / f"{name}.md"
    with StagedOutputs() as staged:
        for path, write in (figures or {}).items():
            staged.add(path, write)
        staged.add_text(jpath, json.dumps(data, indent=1) + "\n")
        staged.add_text(mpath, markdown.rstrip() + "\n")
    return jpath, mpath
