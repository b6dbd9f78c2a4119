"""Writing benchmark results: one JSON file and one markdown table per benchmark under docs/benchmarks/."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path


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


def write_report(out_dir: str | Path, name: str, data: dict, markdown: str) -> tuple[Path, Path]:
    """Write ``NAME.json`` (data plus machine info and date) and ``NAME.md``; returns both paths."""
    from gan_studio.data.output_files import write_text

    out = Path(out_dir)
    data = {"benchmark": name, "date": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine_info(), **data}
    jpath, mpath = out / f"{name}.json", out / f"{name}.md"
    # Atomic, and an unwritable folder is one sentence naming it (OutputError), as for every other output.
    write_text(jpath, json.dumps(data, indent=1) + "\n", make_parents=True)
    write_text(mpath, markdown.rstrip() + "\n", make_parents=True)
    return jpath, mpath
