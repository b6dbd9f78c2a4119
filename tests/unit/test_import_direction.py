"""Imports point down the layers of DESIGN.md; the test reads every module's source with ``ast``.

Layers, lowest first (a module may import its own layer and any layer below it):

0. ``gan_studio`` (the package), ``resources``, ``runtime``: jobs, cancel, progress, the worker; the standard
   library only, and each other.
1. ``data``: the catalog, layouts, readers and writers (uses runtime's cancel token).
2. ``models``: torch modules and checkpoint I/O.
3. ``methods``: ReStGAN, REDS, HandsOff, retrieval over the models.
4. ``train``: training loops, their configs and the Train workspace's run settings.
5. ``metrics``: scores and benchmarks; a benchmark trains its baselines and classifiers with ``train``, so metrics
   sits above train (and train never imports metrics).
6. ``qt``: the GUI.
7. ``commands`` (the sub-commands, which may run a Qt benchmark offscreen) and ``selftest`` (which opens the window
   offscreen).
8. ``cli``: builds the parser from ``commands`` and dispatches.

Two more rules: a private name (``_x``) is imported only inside its own package, and ``argparse`` only in
``commands`` and ``cli``. Imports inside functions count (``ast.walk`` sees them), and so does
``importlib.import_module("gan_studio.…")`` with a literal (or f-string) name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "gan_studio"

LAYERS: dict[str, int] = {
    "": 0,  # gan_studio/__init__.py
    "resources": 0,
    "runtime": 0,
    "data": 1,
    "models": 2,
    "methods": 3,
    "train": 4,
    "metrics": 5,
    "qt": 6,
    "commands": 7,
    "selftest": 7,
    "cli": 8,
}
ARGPARSE_ALLOWED = ("commands", "cli")


def part_of(module: str) -> str:
    """``gan_studio.data.layout`` -> ``data``; ``gan_studio`` -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(node: ast.AST, module: str, is_package: bool) -> list[tuple[str, list[str]]]:
    """(imported module, names taken from it) for one node; relative imports resolved against ``module``."""
    if isinstance(node, ast.Import):
        return [(a.name, []) for a in node.names]
    if isinstance(node, ast.ImportFrom):
        target = node.module or ""
        if node.level:
            base = module.split(".")
            base = base if is_package else base[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join([*base, target] if target else base)
        return [(target, [a.name for a in node.names])]
    if isinstance(node, ast.Call) and node.args:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        arg = node.args[0]
        if name == "import_module":
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                return [(arg.value, [])]
            if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
                return [(str(arg.values[0].value).rstrip("."), [])]
    return []


def problems(source: str, module: str, filename: str, is_package: bool = False) -> list[str]:
    """Every import of ``source`` (the module ``module``) that breaks the rules, as "file:line: arrow (why)"."""
    here = part_of(module)
    if here not in LAYERS:
        return [f"{filename}:1: {module} is in no layer; add {here!r} to LAYERS"]
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        for target, names in _imported(node, module, is_package):
            where = f"{filename}:{node.lineno}"
            if target == "argparse" and here not in ARGPARSE_ALLOWED:
                found.append(f"{where}: {module} -> argparse (only commands/ and cli.py parse arguments)")
            if target != "gan_studio" and not target.startswith("gan_studio."):
                continue
            there = part_of(target)
            if there not in LAYERS:
                found.append(f"{where}: {module} -> {target} (no layer {there!r})")
                continue
            if LAYERS[there] > LAYERS[here]:
                found.append(
                    f"{where}: {module} -> {target} points up ({here or 'gan_studio'} is layer {LAYERS[here]}, "
                    f"{there} is layer {LAYERS[there]})"
                )
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and there != here:
                found.append(f"{where}: {module} -> {target}.{', '.join(private)} (private to {there})")
    return found


def test_every_import_points_down() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found += problems(
            path.read_text(encoding="utf-8"),
            module_name(path),
            str(path.relative_to(PACKAGE.parent)),
            is_package=path.name == "__init__.py",
        )
    assert not found, "imports that break the layers:\n" + "\n".join(found)


# The arrows issue 14 found, as they were written; the checker must refuse each.
KNOWN_ARROWS = [
    (
        "gan_studio.data.dataset_command",
        "def fit_command(args):\n    from gan_studio.models.classifier import load_classifier\n",
        "-> gan_studio.models.classifier points up",
    ),
    (
        "gan_studio.data.dataset_command",
        "from gan_studio.train.progress import ProgressBar\n",
        "-> gan_studio.train.progress points up",
    ),
    (
        "gan_studio.data.dataset_command",
        "import argparse\n",
        "-> argparse",
    ),
    (
        "gan_studio.runtime.train_settings",
        "def planned_steps(s):\n    from gan_studio.train.restgan import GanTrainConfig\n",
        "-> gan_studio.train.restgan points up",
    ),
    (
        "gan_studio.runtime.train_settings",
        "def check_catalog_folder(folder):\n    from gan_studio.data.layout import read_catalog\n",
        "-> gan_studio.data.layout points up",
    ),
    (
        "gan_studio.models.dense_net",
        "from gan_studio.methods.label_heads import decode_heatmaps\n",
        "-> gan_studio.methods.label_heads points up",
    ),
    (
        "gan_studio.methods.traverse_command",
        "from gan_studio.train.progress import ProgressBar\n",
        "-> gan_studio.train.progress points up",
    ),
    (
        "gan_studio.metrics.bench_restgan",
        "def _real(n, size):\n    from gan_studio.train.classifier import _resize_uint8\n",
        "-> gan_studio.train.classifier._resize_uint8 (private to train)",
    ),
    (
        "gan_studio.train.inversion_command",
        "def _train(args):\n    from gan_studio.metrics.inversion_quality import score\n",
        "-> gan_studio.metrics.inversion_quality points up",
    ),
    (
        "gan_studio.metrics.bench_gui_stalls",
        "def run(args):\n    from gan_studio.qt.stall_bench import measure_stalls\n",
        "-> gan_studio.qt.stall_bench points up",
    ),
    (
        "gan_studio.models.dense_net",
        "from ..methods import label_heads\n",
        "-> gan_studio.methods points up",
    ),
    (
        "gan_studio.metrics.bench_x",
        'import importlib\nimportlib.import_module(f"gan_studio.commands.{name}")\n',
        "-> gan_studio.commands points up",
    ),
]


@pytest.mark.parametrize(("module", "source", "expected"), KNOWN_ARROWS)
def test_the_checker_refuses_the_arrows_issue_14_found(module: str, source: str, expected: str) -> None:
    filename = module.replace(".", "/") + ".py"
    found = problems(source, module, filename)
    assert len(found) == 1 and expected in found[0], found
    line = len(source.splitlines())  # each snippet's last line is the arrow
    assert found[0].startswith(f"{filename}:{line}: {module} ")


def test_the_checker_allows_downward_and_sibling_imports() -> None:
    source = (
        "import argparse\n"
        "from gan_studio.runtime.progress import ProgressBar\n"
        "from gan_studio.commands.train import DEFAULT_EVAL_N\n"
        "def run():\n    from gan_studio.qt.stall_bench import measure_stalls\n"
    )
    assert problems(source, "gan_studio.commands.bench", "gan_studio/commands/bench.py") == []
    same_package_private = "from gan_studio.data.image_file import _open_image\n"
    assert problems(same_package_private, "gan_studio.data.label_formats", "f.py") == []
