"""`gan-studio bench soak`: memory over long use — word-by-word generations and REDS waypoints in one process.

The work is the app's own job bodies on one device worker thread, as the workspaces submit them: each
generation is :func:`gan_studio.methods.title_jobs.draw_title` for the next word prefix of a catalog title (the
Generate workspace typing word by word, its incremental session reused), and each traversal is
:func:`gan_studio.methods.traversal_jobs.run_traversal` (the Explore workspace's Run with its default lasso/rest
features). Rounds interleave the two. The resident set size (RSS) is sampled after a garbage collection at
intervals; growth is measured from the end of the warm-up (which fills the session's prefix cache) to the end.
Target: growth at most 50 MB.
"""

from __future__ import annotations

import gc
import os
import resource
import threading
import time
from pathlib import Path

import numpy as np

from gan_studio.metrics.line_plot import Panel, line_panels
from gan_studio.metrics.report import bench_command, machine_info, png, write_report

TARGET_MB = 50.0
HELD_OUT_SEED = 11  # catalog seed of the typed titles: not the training catalog (seed 0)
LASSO = (("add", np.array([(0.3, 0.0), (0.7, 0.0), (0.7, 0.35), (0.3, 0.35)], dtype=np.float64)),)


def rss_bytes() -> int:
    """The process's resident set size now (``/proc/self/statm``), else its peak (``getrusage``)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux; peak, not current


class _Runner:
    """Submits one job at a time to a device worker thread and waits for its result."""

    def __init__(self, device: str) -> None:
        from gan_studio.runtime.worker import DeviceWorker

        self._done = threading.Event()
        self._result = None
        self.worker = DeviceWorker(device, on_result=self._on_result, name="gan-studio-soak")

    def _on_result(self, result) -> None:
        self._result = result
        self._done.set()

    def run(self, kind: str, fn):
        self._done.clear()
        self.worker.submit(kind, fn)
        self._done.wait()
        result, self._result = self._result, None
        if not result.ok:
            raise RuntimeError(f"the {kind} job failed: {result.error}")
        return result.value


def _typed_prefixes(n: int):
    """(title prefix, seed) per generation: catalog titles typed word by word, a new seed per title."""
    from gan_studio.data.catalog import title_of

    index = 0
    while True:
        words = title_of(HELD_OUT_SEED, index).split()
        for k in range(1, len(words) + 1):
            if n <= 0:
                return
            yield " ".join(words[:k]), index
            n -= 1
        index += 1


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _session_cache_mb(runner: _Runner) -> float:
    """MB of images and encoder states in the incremental sessions the worker's model cache holds."""
    entries = (runner.worker.models.get(*key) for key in runner.worker.models)
    return sum(e.session.nbytes() for e in entries if hasattr(e, "session")) / 2**20


def soak(args, log=print) -> dict:
    """Run the rounds; returns the samples, growth and what ran (no files written)."""
    import torch

    from gan_studio.methods.reds import TraversalSettings
    from gan_studio.methods.title_jobs import draw_title
    from gan_studio.methods.traversal_jobs import TraversalOutcome, TraversalRequest, run_traversal

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    path = None if args.model == "builtin" else Path(args.model)
    runner = _Runner("cpu")
    generations = _split(args.generations, args.rounds)
    waypoints = _split(args.waypoints, args.rounds)
    warm_rounds = min(args.rounds - 1, max(1, round(args.warmup * args.rounds)))
    prefixes = _typed_prefixes(args.generations)
    samples: list[dict] = []
    counts = {
        "generations": 0,
        "waypoints": 0,
        "traversals": 0,
        "seconds_generating": 0.0,
        "seconds_walking": 0.0,
    }
    t0 = time.perf_counter()
    image_size = None

    def sample(round_index: int) -> None:
        gc.collect()
        samples.append({
            "round": round_index, "seconds": time.perf_counter() - t0, "rss_mb": rss_bytes() / 2**20,
            "generations": counts["generations"], "waypoints": counts["waypoints"],
        })  # fmt: skip

    try:
        sample(0)
        for r in range(args.rounds):
            every = max(1, generations[r] // max(1, args.samples_per_round))
            t = time.perf_counter()
            for i in range(generations[r]):
                title, seed = next(prefixes)
                value = runner.run(
                    "generate.title", lambda ctx, t_=title, s_=seed: draw_title(ctx, t_, s_, path=path)
                )
                if not hasattr(value, "images"):
                    raise ValueError(value.message)  # the model could not be loaded: one sentence
                image_size = int(value.image.shape[0])
                counts["generations"] += 1
                if (i + 1) % every == 0 and i + 1 < generations[r]:
                    sample(r)
            counts["seconds_generating"] += time.perf_counter() - t
            if waypoints[r]:
                t = time.perf_counter()
                settings = TraversalSettings(steps=waypoints[r], seed=r)
                request = TraversalRequest(title_of_round(r), r, ("lasso",), ("rest",), settings, LASSO)
                outcome = runner.run(
                    "explore.traversal", lambda ctx, q=request: run_traversal(ctx, q, path=path)
                )
                if not isinstance(outcome, TraversalOutcome):
                    raise ValueError(outcome.message)
                counts["waypoints"] += len(outcome.frames) - 1
                counts["traversals"] += 1
                counts["seconds_walking"] += time.perf_counter() - t
            sample(r + 1)
            log(f"[{time.perf_counter() - t0:7.1f} s] round {r + 1}/{args.rounds}: "
                f"{counts['generations']} generations, {counts['waypoints']} waypoints, "
                f"RSS {samples[-1]['rss_mb']:.1f} MB")  # fmt: skip
        cache_mb = _session_cache_mb(runner)
    finally:
        runner.worker.shutdown(timeout=30)
    after_warmup = next(s for s in samples if s["round"] == warm_rounds)
    growth = samples[-1]["rss_mb"] - after_warmup["rss_mb"]
    return {
        "samples": samples,
        "warmup_rounds": warm_rounds,
        "warmup_generations": after_warmup["generations"],
        "warmup_waypoints": after_warmup["waypoints"],
        "rss_start_mb": samples[0]["rss_mb"],
        "rss_after_warmup_mb": after_warmup["rss_mb"],
        "rss_end_mb": samples[-1]["rss_mb"],
        "rss_peak_mb": max(s["rss_mb"] for s in samples),
        "growth_after_warmup_mb": growth,
        "growth_total_mb": samples[-1]["rss_mb"] - samples[0]["rss_mb"],
        "session_cache_mb": cache_mb,
        "image_size": image_size,
        "torch_threads": torch.get_num_threads(),
        **counts,
        "seconds": time.perf_counter() - t0,
    }


def title_of_round(r: int) -> str:
    """The garment walked in round ``r``: a held-out catalog title (different from the typed ones)."""
    from gan_studio.data.catalog import title_of

    return title_of(HELD_OUT_SEED + 1, r)


def _markdown(data: dict) -> str:
    s = data["soak"]
    met = s["growth_after_warmup_mb"] <= TARGET_MB
    per_gen = 1000 * s["seconds_generating"] / max(1, s["generations"])
    per_way = 1000 * s["seconds_walking"] / max(1, s["waypoints"])
    m = data["machine"]
    return "\n".join([
        "# Soak: memory over long use",
        "",
        (f"Command: `{data['command']}` ({s['seconds']:.0f} s). Model: {data['model']} ({s['image_size']} px); "
        f"{m.get('cpu_cores_available', '?')} CPU cores, torch threads {s['torch_threads']}; {m['platform']}."),
        "",
        (f"In one process, on one device worker thread as in the app: {s['generations']} word-by-word generations "
        f"(catalog seed {HELD_OUT_SEED} titles typed one word at a time through the Generate workspace's job, a new "
        f"seed per title, its incremental session reused) and {s['waypoints']} REDS waypoints in "
        f"{s['traversals']} traversals (the Explore workspace's job, lasso held / rest varied), interleaved in "
        f"{data['rounds']} rounds. RSS read from /proc/self/statm after a garbage collection. The warm-up "
        f"({s['warmup_generations']} generations, {s['warmup_waypoints']} waypoints) loads the model and takes the "
        "first traversal's one-time imports; the incremental session keeps up to 1,024 prefixes (full after about "
        "1,100 generations), so a warm-up shorter than that counts the cache filling as growth."),
        "",
        "| | MB |",
        "|---|---|",
        f"| RSS at start (model not yet loaded) | {s['rss_start_mb']:.1f} |",
        f"| RSS after the warm-up ({s['warmup_rounds']} of {data['rounds']} rounds) | {s['rss_after_warmup_mb']:.1f} |",
        f"| RSS at the end | {s['rss_end_mb']:.1f} |",
        f"| peak RSS sampled | {s['rss_peak_mb']:.1f} |",
        f"| **growth after the warm-up** | **{s['growth_after_warmup_mb']:+.1f}** |",
        f"| growth from the start (model load and warm-up included) | {s['growth_total_mb']:+.1f} |",
        f"| incremental session's prefix cache at the end (images + states) | {s['session_cache_mb']:.1f} |",
        "",
        f"**Target** (RSS growth ≤ {TARGET_MB:g} MB after the warm-up): "
        + ("met." if met else f"not met, {s['growth_after_warmup_mb'] - TARGET_MB:.1f} MB over."),
        "",
        f"Speed under this load: {per_gen:.1f} ms per generation, {per_way:.0f} ms per waypoint.",
        "",
        "![RSS over the soak](soak.png)",
    ])  # fmt: skip


def _panel(result: dict) -> Panel:
    """RSS above the start against generations done, with the target line from the end of the warm-up."""
    samples, base = result["samples"], result["rss_start_mb"]
    xs = [s["generations"] for s in samples]
    warm = next(s for s in samples if s["round"] == result["warmup_rounds"])
    limit = warm["rss_mb"] - base + TARGET_MB
    curves = {
        "RSS above the start": (xs, [max(0.0, s["rss_mb"] - base) for s in samples]),
        f"target: warm-up end + {TARGET_MB:g} MB": ([warm["generations"], xs[-1]], [limit, limit]),
    }
    return Panel("RSS over the soak (MB above the start)", "generations done", "MB", curves)


def bench_soak_command(args) -> int:
    if args.generations < 1 or args.waypoints < 0 or args.rounds < 2 or args.samples_per_round < 1:
        raise ValueError("--generations and --samples-per-round must be at least 1, --rounds at least 2, "
                         "--waypoints not negative")  # fmt: skip
    if not 0 < args.warmup < 1:
        raise ValueError(f"--warmup is a fraction of the rounds, between 0 and 1, not {args.warmup:g}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    if args.waypoints and args.waypoints < args.rounds:
        raise ValueError(f"--waypoints ({args.waypoints}) must be 0 or at least --rounds ({args.rounds})")
    out = Path(args.out)
    result = soak(args)
    figure = line_panels([_panel(result)], panel_size=(560, 320))
    from gan_studio.methods.title_jobs import restgan_weights_path
    from gan_studio.models.checkpoint import read_manifest

    weights = restgan_weights_path(None if args.model == "builtin" else args.model)
    data = {
        "weights_sha256": read_manifest(weights).get("sha256"),
        "command": bench_command(args, "soak"),
        "model": args.model,
        "rounds": args.rounds,
        "target_growth_mb": TARGET_MB,
        "soak": result,
        "machine": machine_info(),
    }
    jpath, mpath = write_report(out, "soak", data, _markdown(data), figures={out / "soak.png": png(figure)})
    print(f"wrote {jpath}, {mpath} and {out / 'soak.png'}")
    print(
        f"RSS growth after the warm-up: {result['growth_after_warmup_mb']:+.1f} MB (target ≤ {TARGET_MB:g} MB)"
    )
    return 0
