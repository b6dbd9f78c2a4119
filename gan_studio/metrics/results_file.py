"""The results file of a resumable benchmark: one JSON line per measured run, read back when the settings match.

A long benchmark appends each run's record to a JSONL file as soon as it is measured, tagged with the settings
that produced it (``record["settings"]``); a rerun reads back the records written under the same settings and
measures only what is missing, so a killed run resumes. A line cut short by the kill is skipped; records written
under other settings (another model, another step budget) are never read back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO


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


def append_result(f: TextIO, record: dict) -> None:
    """Append ``record`` as one JSON line and flush it: a kill loses at most the run being measured."""
    f.write(json.dumps(record) + "\n")
    f.flush()
