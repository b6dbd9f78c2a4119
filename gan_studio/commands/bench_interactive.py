"""`gan-studio bench interactive`: what a designer waits for, measured on the real workspaces (offscreen).

Two phases, each optional:

- ``generate``: word to pixels on screen in the Generate workspace, from the Enter key to the paint of the new
  image, with the incremental session (one new image per word) and redrawing every prefix from scratch; median
  and p95 against the goal (16 / 30 ms). Beside it, the generator alone (one image drawn, no Qt), so the report
  says what part of the wait is the network and what part the GUI.
- ``explore``: in the Explore workspace, a lasso held, ``--waypoints`` REDS waypoints from pressing Run to the
  last frame on screen, for the fast Jacobian (the app's default) and the exact one; then the frame rate of
  scrubbing the slider over the finished path.

The measurements live in :mod:`gan_studio.qt.latency` and :mod:`gan_studio.qt.explore_bench` (imported only when
this runs, so the parser needs neither torch nor PySide6).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from pathlib import Path

from gan_studio.commands import workspace_bench

PHASES = ("generate", "explore")
TITLE_SEED = 1001  # held-out catalog titles (gan_studio.metrics.bench_restgan.HELD_OUT_SEED)
# Explore's goal is 8 waypoints in 3 s: other --waypoints are held to the same time per waypoint.
GOALS = {"word_median_ms": 16.0, "word_p95_ms": 30.0, "explore_last_ms_per_8": 3000.0}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--titles", type=int, default=20, help="held-out titles typed word by word in Generate")
    p.add_argument("--waypoints", type=int, default=8, help="REDS waypoints per Run in Explore")
    p.add_argument("--runs", type=int, default=3, help="Runs per Jacobian mode in Explore (median reported)")
    p.add_argument("--scrub-passes", type=int, default=20, help="passes of the slider over the finished path")
    workspace_bench.add_phases_argument(p, PHASES)
    workspace_bench.add_run_arguments(p)


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation between order statistics; nan for no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def generator_alone(generator, titles: list[str], repeats: int = 3) -> dict:
    """Milliseconds of one image drawn for one more word (LSTM step, conditioning, both stages, to uint8),
    without Qt: the session's per-word compute, the floor of word to pixels."""
    from gan_studio.methods.restgan import IncrementalSession

    session = IncrementalSession(generator)
    times = []
    for r in range(repeats):
        for i, title in enumerate(titles):
            words = str(title).split()
            session.run("", 100 + r * len(titles) + i)  # the empty prefix, unmeasured (as in the GUI probe)
            for k in range(1, len(words) + 1):
                t = time.perf_counter()
                session.run(" ".join(words[:k]), 100 + r * len(titles) + i)
                times.append((time.perf_counter() - t) * 1000.0)
    return {"n": len(times), "median_ms": statistics.median(times), "p95_ms": percentile(times, 0.95)}


def _phase_generate(generator, titles: list[str]) -> dict:
    from gan_studio.qt.latency import measure_word_to_pixels

    alone = generator_alone(generator, titles)
    r = measure_word_to_pixels(titles, generator, seed=0)
    for mode in ("incremental", "scratch"):
        r[f"{mode}_p95_ms"] = percentile(r[f"{mode}_ms"], 0.95)
    r["generator_alone"] = alone
    return r


def _cell(v: float | None, digits: int = 1) -> str:
    return "—" if v is None or math.isnan(v) else f"{v:.{digits}f}"


def _verdict(value: float, goal: float) -> str:
    return "met" if value <= goal else f"**not met** ({value / goal:.2f}× the goal)"


def _markdown(data: dict) -> str:
    m = data["machine"]
    lines = [
        "# Interactive speed: word to pixels, and REDS in Explore",
        "",
        (
            f"Command: `{data['command']}` ({data['seconds']:.0f} s). Model: {data['model']} "
            f"({data['image_size']} px); {m.get('cpu_cores_available', '?')} CPU cores, torch threads "
            f"{data['torch_threads']}; {m['platform']}. {workspace_bench.load_text(data['load_average_1min'])}. "
            "The real workspaces, offscreen."
        ),
    ]
    g = data.get("generate")
    if g:
        a = g["generator_alone"]
        lines += [
            "",
            "## Generate: word to pixels on screen",
            "",
            (
                f"{len(g['words'])} held-out titles (catalog seed {data['titles_seed']}) typed word by word; each word "
                f"committed with Enter and timed to the paint of its image ({g['n']} words per mode; the "
                f"{g['debounce_ms']} ms typing debounce is not part of it). Goal: median ≤ "
                f"{GOALS['word_median_ms']:g} ms, p95 ≤ {GOALS['word_p95_ms']:g} ms."
            ),
            "",
            "| what | median ms | p95 ms | median goal | p95 goal |",
            "|---|---|---|---|---|",
        ]
        for mode, what in (
            ("incremental", "incremental session (the app)"),
            ("scratch", "every prefix redrawn"),
        ):
            med, p95 = g[f"{mode}_median_ms"], g[f"{mode}_p95_ms"]
            lines.append(
                f"| {what} | {_cell(med)} | {_cell(p95)} | {_verdict(med, GOALS['word_median_ms'])} | "
                f"{_verdict(p95, GOALS['word_p95_ms'])} |"
            )
        lines.append(
            f"| the generator alone, one word (no Qt) | {_cell(a['median_ms'])} | {_cell(a['p95_ms'])} | | |"
        )
        gui = g["incremental_median_ms"] - a["median_ms"]
        lines += [
            "",
            (
                f"Incremental vs scratch: {g['scratch_median_ms'] / g['incremental_median_ms']:.2f}× faster at the "
                f"median. Of the incremental median, the network is {a['median_ms']:.1f} ms and the rest "
                f"({gui:.1f} ms) is the hand-over to the GUI thread, the smooth upscale to the view and the paint."
            ),
        ]
    e = data.get("explore")
    if e:
        goal = GOALS["explore_last_ms_per_8"] * e["steps"] / 8
        lines += [
            "",
            "## Explore: Run to the last frame, and scrubbing",
            "",
            (
                f'"{e["title"]}", seed {e["seed"]}, a lasso square held, the rest varied; {e["steps"]} waypoints per '
                f"Run, {data['runs']} Runs per mode after one unmeasured warm-up walk, modes interleaved. Times are "
                "from the Run press to the paint of the first and the last waypoint's image; stalls are the GUI "
                f"event loop's longest lateness meanwhile. Goal: {e['steps']} waypoints ≤ {goal / 1000:g} s "
                "(8 in 3 s)."
            ),
            "",
            (
                "| Jacobian | Run → first frame ms (median) | Run → last frame ms (median) | per waypoint ms | "
                "all Runs → last ms | longest stall ms | scrub frames/s | scrub ms/frame (median) | goal |"
            ),
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for mode in data["modes"]:
            r = e[mode]
            last = r["run_to_last_median_ms"]
            runs = ", ".join(f"{x['run_to_last_ms']:.0f}" for x in r["runs"])
            s = r["scrub"]
            lines.append(
                f"| {mode} | {_cell(r['run_to_first_median_ms'], 0)} | {_cell(last, 0)} | "
                f"{_cell(last / e['steps'], 0)} | {runs} | {_cell(r['max_stall_ms'], 0)} | "
                f"{_cell(s['frames_per_second'], 0)} | {_cell(s['median_ms_per_frame'], 2)} | "
                f"{_verdict(last, goal)} |"
            )
        if "fast" in e and "exact" in e:
            ratio = e["exact"]["run_to_last_median_ms"] / e["fast"]["run_to_last_median_ms"]
            lines += ["", f"The fast Jacobian reaches the last frame {ratio:.1f}× sooner than the exact one."]
    return "\n".join(lines)


def bench_interactive_command(args: argparse.Namespace) -> int:
    phases = workspace_bench.phases_from(args.phases, PHASES)
    if min(args.titles, args.waypoints, args.runs, args.scrub_passes) < 1:
        raise ValueError("--titles, --waypoints, --runs and --scrub-passes must be at least 1")
    if args.waypoints > 200:
        raise ValueError("--waypoints must be at most 200")
    workspace_bench.require_gui("bench interactive")
    path = None if args.model == "builtin" else Path(args.model)
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"--model {path} does not exist")
    import torch

    workspace_bench.set_torch_threads(args.threads)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from gan_studio.data.catalog import title_of
    from gan_studio.methods.restgan import TitleGenerator
    from gan_studio.metrics.report import bench_command, machine_info, write_report

    out = Path(args.out)
    t0 = time.perf_counter()
    load = workspace_bench.LoadAverage()
    generator = TitleGenerator.load(path)
    data: dict = {
        "command": bench_command(args, "interactive"),
        "model": args.model,
        "image_size": int(generator.image_size),
        "titles_seed": TITLE_SEED,
        "runs": args.runs,
        "modes": ["fast", "exact"],
        "goals": GOALS,
    }
    if "generate" in phases:
        titles = [title_of(TITLE_SEED, i) for i in range(args.titles)]
        data["generate"] = _phase_generate(generator, titles)
    if "explore" in phases:
        from gan_studio.qt.explore_bench import measure_explore

        data["explore"] = measure_explore(
            steps=args.waypoints, runs=args.runs, scrub_passes=args.scrub_passes, model_path=path
        )
    data["torch_threads"] = torch.get_num_threads()
    data["seconds"] = time.perf_counter() - t0
    data["load_average_1min"] = load.span()
    data["machine"] = machine_info()
    jpath, mpath = write_report(out, "interactive", data, _markdown(data))
    print(f"wrote {jpath} and {mpath}")
    return 0
