"""The results file of a resumable benchmark: one JSON line per measured run, read back when the settings match.

A long benchmark appends each run's record to a JSONL file as soon as it is measured, tagged with the settings
that produced it (``record["settings"]``); a rerun reads back the records written under the same settings and
measures only what is missing, so a killed run resumes. A line cut short by the kill is skipped; records written
under other settings (another model, another step budget) are never read back. A record that does not fit (a full
disk) is cut off again and reported as one sentence naming the file, so the next run appends after whole lines only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from gan_studio.data.output_files import append_line, output_errors


def read_results(path: Path, settings: dict) -> list[dict]:
    """The records of ``path`` written under ``settings``, in file order; [] when there is no such file."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
        if record.get("settings") == settings:
            records.append(record)
    return records


@contextmanager
def open_results(path: Path) -> Iterator[TextIO]:
    """``path`` opened to append records to (its folders made if missing); a file that this run created and left
    empty is removed again, and so are the folders made for it."""
    path = Path(path)
    existed = path.exists()
    missing = [p for p in path.parents if not p.exists()]  # innermost first
    with output_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        f = path.open("a", encoding="utf-8")
    try:
        with f:
            yield f
    finally:
        try:
            if not existed and path.stat().st_size == 0:
                path.unlink()
                for folder in missing:
                    folder.rmdir()
        except OSError:
            pass


def append_result(f: TextIO, record: dict) -> None:
    """Append ``record`` as one JSON line, written through at once: a kill loses at most the run being measured. On a
    write error (a full disk) the file is cut back to its whole lines and an ``OutputError`` names it."""
    append_line(f, json.dumps(record))
