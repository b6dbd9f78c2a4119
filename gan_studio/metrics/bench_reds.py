"""`gan-studio bench reds`: REDS against its linear baselines, and the forward-mode Jacobian against reverse mode.

For every (seed, fixed/vary pair) each method walks the same number of waypoints with the same latent distance per
waypoint from the same start. Every path gives (varied change, fixed change) per waypoint; a baseline and REDS are
compared at the largest varied change both reach (:mod:`.traversal_curves`). Per pair the table gives the mean
fixed drift of each method at that level and REDS's drift as a fraction of the baseline's (ratio of means); the
target is REDS's drift at most one third of the best baseline's, averaged over the pairs.

Results per (seed, pair) are appended to a JSONL file as they are measured, so a killed run resumes.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from gan_studio.methods.features import FeatureContext, build_features
from gan_studio.methods.jacobian import image_jacobian_reverse, image_tangents
from gan_studio.methods.reds import TraversalSettings, movable_dims, traverse
from gan_studio.methods.restgan import TitleGenerator
from gan_studio.metrics.line_plot import Panel, line_panels
from gan_studio.metrics.report import write_report
from gan_studio.metrics.results_file import append_result, read_results
from gan_studio.metrics.traversal_curves import compare_at_equal_change, mean_curve
from gan_studio.models.text_to_image import to_uint8

TITLES = (
    "men's blue jeans",
    "women's black skinny pants",
    "women's khaki cargo shorts",
    "men's gray joggers",
    "women's red wide leg pants",
)
PAIRS = (
    ("waist held, rest varies", ("box:0.3,0.0,0.7,0.35",), ("rest",)),
    ("low frequencies held, high vary", ("low:3",), ("high:3",)),
    ("high frequencies held, low vary", ("high:3",), ("low:3",)),
    ("color held, length varies", ("color:garment",), ("attr:length",)),
    ("legs held, rest varies", ("box:0.15,0.45,0.85,1.0",), ("rest",)),
)
# (row name, method, reds extras)
METHODS = (
    ("reds", "reds", {}),
    ("reds-plain", "reds", {"correct": False, "progress_weight": 0.0}),
    ("linear", "linear", {}),
    ("random", "random", {}),
    ("pca", "pca", {}),
    ("sefa", "sefa", {}),
)
BASELINES = ("linear", "random", "pca", "sefa")


def _log(t0: float, msg: str) -> None:
    print(f"[{time.perf_counter() - t0:7.1f} s] {msg}", flush=True)


def measure_speed(protocol, latent, fixed, vary, waypoints: int, chunk: int, reverse: bool = True) -> dict:
    """Milliseconds per REDS waypoint (forward-mode Jacobian + features + eigenproblem + step), and the image
    Jacobian alone by forward mode, finite differences and (unless ``reverse`` is off) reverse mode, all at the
    same latent."""
    m = movable_dims(protocol)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    settings = TraversalSettings(steps=waypoints)
    list(traverse(protocol, latent, fixed, vary, TraversalSettings(steps=1)))  # warm up
    t = time.perf_counter()
    list(traverse(protocol, latent, fixed, vary, settings))
    per_waypoint = (time.perf_counter() - t) / waypoints
    basis = torch.zeros(m, latent.shape[1])
    basis[:, :m] = torch.eye(m)
    timings = {}
    for mode in ("forward", "finite"):
        image_tangents(protocol.synthesize, latent, basis, mode)
        t = time.perf_counter()
        for _ in range(waypoints):
            _, _tangents, _ = image_tangents(protocol.synthesize, latent, basis, mode)
        timings[mode] = (time.perf_counter() - t) / waypoints
    common = {
        "movable_dims": m,
        "ms_per_waypoint_reds": 1000 * per_waypoint,
        "ms_jacobian_forward": 1000 * timings["forward"],
        "ms_jacobian_finite_difference": 1000 * timings["finite"],
        **({} if load is None else {"load_average_1min": load}),
    }
    if not reverse:
        return common
    t = time.perf_counter()
    full = image_jacobian_reverse(protocol.synthesize, latent, chunk)
    timings["reverse"] = time.perf_counter() - t
    _, forward, _ = image_tangents(protocol.synthesize, latent, basis, "forward")
    agree = float(
        (full[:, :m] - forward.reshape(m, -1).T).norm() / full[:, :m].norm().clamp_min(1e-12)
    )  # forward vs reverse on the movable coordinates
    return {
        **common,
        "image_outputs": int(full.shape[0]),
        "ms_jacobian_reverse_full": 1000 * timings["reverse"],
        "reverse_over_forward_jacobian": timings["reverse"] / timings["forward"],
        "reverse_jacobian_over_reds_waypoint": timings["reverse"] / per_waypoint,
        "forward_vs_reverse_relative_error": agree,
    }


def run_paths(protocols: dict, seed: int, pair, steps: int, step_size: float) -> dict:
    """Every method's path for one (seed, pair): name -> {"varied": [...], "fixed": [...], "seconds": s}.

    ``protocols`` maps each title to its generator protocol, kept for the whole run so that PCA directions
    computed for a start are reused by every pair from that start.
    """
    title = TITLES[seed % len(TITLES)]
    protocol = protocols[title]
    latent = protocol.sample_latent(1, seed)
    with torch.no_grad():
        start = to_uint8(protocol.synthesize(latent))[0]
    ctx = FeatureContext(protocol.image_size, start_image=start)
    fixed, vary = build_features(pair[1], pair[2], ctx)
    out = {}
    for name, method, extra in METHODS:
        settings = TraversalSettings(method=method, steps=steps, step_size=step_size, seed=seed, **extra)
        t = time.perf_counter()
        points = list(traverse(protocol, latent, fixed, vary, settings))
        out[name] = {
            "varied": [p.varied_total for p in points],
            "fixed": [p.fixed_total for p in points],
            "seconds": time.perf_counter() - t,
        }
    return {"seed": seed, "title": title, "pair": pair[0], "paths": out}


def summarize(records: list[dict], pairs) -> dict:
    per_pair = {}
    for label, _, _ in pairs:
        rows = [r for r in records if r["pair"] == label]
        summary = {"seeds": len(rows), "vs": {}}
        for ours in ("reds", "reds-plain"):
            summary["vs"][ours] = {}
            for base in BASELINES:
                levels, a, b = [], [], []
                for r in rows:
                    p, q = r["paths"][ours], r["paths"][base]
                    cmp = compare_at_equal_change((p["varied"], p["fixed"]), (q["varied"], q["fixed"]))
                    if cmp is not None:
                        levels.append(cmp[0])
                        a.append(cmp[1])
                        b.append(cmp[2])
                if not a:
                    summary["vs"][ours][base] = None
                    continue
                per_seed = [x / y for x, y in zip(a, b, strict=True) if y > 0]
                summary["vs"][ours][base] = {
                    "compared": len(a),
                    "mean_level": float(np.mean(levels)),
                    "ours_drift": float(np.mean(a)),
                    "baseline_drift": float(np.mean(b)),
                    "ratio_of_means": float(np.mean(a) / max(np.mean(b), 1e-12)),
                    "median_ratio": float(np.median(per_seed)) if per_seed else None,
                }
        for ours in ("reds", "reds-plain"):
            valid = {k: v for k, v in summary["vs"][ours].items() if v is not None}
            if valid:
                best = min(
                    valid, key=lambda k: valid[k]["baseline_drift"] / max(valid[k]["ours_drift"], 1e-12)
                )
                summary[f"{ours}_best_baseline"] = best
                summary[f"{ours}_over_best"] = valid[best]["ratio_of_means"]
        summary["curves"] = {
            name: mean_curve([(r["paths"][name]["varied"], r["paths"][name]["fixed"]) for r in rows])
            for name, _, _ in METHODS
        } if rows else {}  # fmt: skip
        summary["seconds_per_path"] = {
            name: float(np.mean([r["paths"][name]["seconds"] for r in rows])) for name, _, _ in METHODS
        } if rows else {}  # fmt: skip
        per_pair[label] = summary
    overall = {}
    for ours in ("reds", "reds-plain"):
        vals = [s[f"{ours}_over_best"] for s in per_pair.values() if f"{ours}_over_best" in s]
        overall[ours] = float(np.mean(vals)) if vals else None
    return {"pairs": per_pair, "mean_over_pairs_drift_vs_best_baseline": overall}


def _reverse_lines(sp: dict) -> list[str]:
    return [
        (
            f"| image Jacobian, reverse mode (one VJP per output, {sp['image_outputs']} outputs) | "
            f"{sp['ms_jacobian_reverse_full']:.0f} |"
        ),
        "",
        (
            f"Reverse-mode full Jacobian / forward-mode Jacobian: **{sp['reverse_over_forward_jacobian']:.0f}x**; "
            f"reverse-mode Jacobian alone / a whole REDS waypoint: **{sp['reverse_jacobian_over_reds_waypoint']:.0f}x** "
            f"(target ≥ 5x: {'met' if sp['reverse_jacobian_over_reds_waypoint'] >= 5 else 'not met'}). Forward and "
            f"reverse Jacobians agree to {sp['forward_vs_reverse_relative_error']:.1e} (relative)."
        ),
    ]


def _markdown(data: dict) -> str:
    s = data["summary"]
    sp = data["speed"]
    lines = [
        "# REDS: fixed-feature drift at equal varied change, and Jacobian speed",
        "",
        (
            f"Command: `{data['command']}` ({data['seconds']:.0f} s in this invocation; "
            f"{data['paths_resumed_from_results']} (seed, pair) results read back from the results file of earlier "
            f"invocations, {data['paths_measured']} measured now). Model: {data['model']}; "
            f"{data['seeds']} starting latents (seeds 0..{data['seeds'] - 1}, titles cycled: "
            f"{', '.join(repr(t) for t in TITLES)}); {data['steps']} waypoints of latent distance "
            f"{data['step_size']:g} for every method."
        ),
        "",
        (
            "Each cell: mean fixed-feature drift of REDS / of the baseline, at the largest varied change both paths "
            "reach from the same start (fixed and varied change = RMS pixel change in [0, 1] units for regions and "
            "bands, delta E for color, probability L2 for attributes), and REDS's drift as a fraction of the "
            "baseline's (ratio of means; lower is better for REDS; n = paths compared). `reds` is the app's "
            "default (eigendirection + drift corrector + progress term); `reds-plain` is the paper's plain "
            "eigendirection path."
        ),
        "",
        "| pair | ours | vs linear | vs random | vs pca | vs sefa | best baseline | ours / best |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, p in s["pairs"].items():
        for ours in ("reds", "reds-plain"):
            cells = []
            for base in BASELINES:
                v = p["vs"][ours].get(base)
                cells.append(
                    "—"
                    if v is None
                    else f"{v['ours_drift']:.4f} / {v['baseline_drift']:.4f} = **{v['ratio_of_means']:.2f}** "
                    f"(n={v['compared']})"
                )
            best = p.get(f"{ours}_best_baseline", "—")
            over = p.get(f"{ours}_over_best")
            lines.append(
                f"| {label} | {ours} | " + " | ".join(cells) + f" | {best} | "
                f"{'—' if over is None else f'{over:.2f}'} |"
            )
    o = s["mean_over_pairs_drift_vs_best_baseline"]
    met = o["reds"] is not None and o["reds"] <= 1 / 3
    lines += [
        "",
        (
            f"**Target** (REDS's drift ≤ 1/3 of the best baseline's, averaged over the pairs): reds "
            f"**{o['reds']:.2f}** — {'met' if met else 'not met'}; reds-plain {o['reds-plain']:.2f}."
        ),
        "",
        "## Speed (one waypoint at the shipped resolution)",
        "",
        (
            f"Movable latent coordinates m = {sp['movable_dims']}; "
            f"torch threads {data['machine'].get('torch_threads', '?')}."
            + (
                f" The machine's 1-minute load average when the timing started: {sp['load_average_1min']:.1f} "
                f"({data['machine'].get('cpu_cores_available', '?')} CPUs); above that count, other jobs shared the cores and "
                "the times are inflated."
                if "load_average_1min" in sp
                else ""
            )
        ),
        "",
        "| what | ms |",
        "|---|---|",
        f"| REDS waypoint (forward-mode Jacobian, features, eigenproblem, step) | {sp['ms_per_waypoint_reds']:.0f} |",
        f"| image Jacobian, forward mode (m directions in one batch) | {sp['ms_jacobian_forward']:.0f} |",
        f"| image Jacobian, central finite differences | {sp['ms_jacobian_finite_difference']:.0f} |",
    ]
    if "ms_jacobian_reverse_full" not in sp:
        lines += ["", "The full reverse-mode Jacobian was not timed in this run (`--no-reverse`)."]
    else:
        lines += _reverse_lines(sp)
    lines += [
        "",
        "Mean seconds per path: "
        + "; ".join(
            f"{label}: " + ", ".join(f"{k} {v:.2f}" for k, v in p["seconds_per_path"].items())
            for label, p in s["pairs"].items()
        ),
        "",
        "![fixed vs varied change](reds_curves.png)",
        "",
        (
            "Curves: waypoint-wise mean over seeds of (varied change, fixed change) per method; lower and further right "
            "is better."
        ),
    ]
    return "\n".join(lines)


def bench_reds_command(args) -> int:
    if args.seeds < 1 or args.steps < 1 or not 1 <= args.pairs <= len(PAIRS):
        raise ValueError(f"--seeds and --steps must be at least 1 and --pairs 1..{len(PAIRS)}")
    seed_range = range(args.seeds)
    if args.measure_only:
        a, sep, b = args.measure_only.partition(":")
        if not (sep and a.isdigit() and b.isdigit() and int(a) < int(b)):
            raise ValueError(f"--measure-only takes A:B with A < B, not {args.measure_only!r}")
        seed_range = range(int(a), int(b))
    t0 = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = Path(args.results) if args.results else out / "reds_paths.jsonl"
    from gan_studio.methods.restgan import default_model_path
    from gan_studio.models.checkpoint import read_manifest

    path = None if args.model == "builtin" else Path(args.model)
    gen = TitleGenerator.load(path)
    weights_sha = read_manifest(path or default_model_path("restgan"))["sha256"]
    pairs = PAIRS[: args.pairs]
    protocol = gen.protocol(TITLES[0])
    latent = protocol.sample_latent(1, 0)
    with torch.no_grad():
        start = to_uint8(protocol.synthesize(latent))[0]
    fixed, vary = build_features(
        pairs[0][1], pairs[0][2], FeatureContext(protocol.image_size, start_image=start)
    )
    # The weights' hash is part of the key: results of another model are never read back.
    key = {"steps": args.steps, "step_size": args.step_size, "model": args.model, "sha256": weights_sha}
    done: dict[tuple[int, str], dict] = {(r["seed"], r["pair"]): r for r in read_results(results, key)}
    resumed = sum(1 for s in range(args.seeds) for p in pairs if (s, p[0]) in done)
    protocols = {title: gen.protocol(title) for title in TITLES}
    with results.open("a") as f:
        for seed in seed_range:
            for pair in pairs:
                if (seed, pair[0]) in done:
                    continue
                r = run_paths(protocols, seed, pair, args.steps, args.step_size)
                r["settings"] = key
                done[(seed, pair[0])] = r
                append_result(f, r)
            _log(t0, f"seed {seed + 1}/{seed_range.stop} done")
    if args.measure_only:
        print(f"measured seeds {seed_range.start}..{seed_range.stop - 1} into {results}; a run without "
              "--measure-only reading all results reports")  # fmt: skip
        return 0
    speed_file = results.with_suffix(".speed.json")
    speed = None
    if speed_file.exists():  # a resumed run keeps the timings its first part measured
        saved = json.loads(speed_file.read_text())
        if saved.get("settings") == {**key, "waypoints": args.speed_waypoints} and (
            args.no_reverse or "ms_jacobian_reverse_full" in saved["speed"]
        ):
            speed = saved["speed"]
    if speed is None:
        _log(t0, "timing the Jacobians")
        speed = measure_speed(
            protocol,
            latent,
            fixed,
            vary,
            args.speed_waypoints,
            args.reverse_chunk,
            reverse=not args.no_reverse,
        )
        speed_file.write_text(
            json.dumps({"settings": {**key, "waypoints": args.speed_waypoints}, "speed": speed})
        )
    _log(t0, f"speed: {json.dumps({k: round(v, 3) for k, v in speed.items()})}")
    records = [done[(s, p[0])] for s in range(args.seeds) for p in pairs]
    summary = summarize(records, pairs)
    panels = [
        Panel(label, "varied change", "fixed drift", summary["pairs"][label]["curves"])
        for label, _, _ in pairs
    ]
    line_panels(out / "reds_curves.png", panels)
    data = {
        "command": "gan-studio bench reds " + " ".join(getattr(args, "argv", [])[2:]),
        "model": args.model,
        "seeds": args.seeds,
        "steps": args.steps,
        "step_size": args.step_size,
        "titles": list(TITLES),
        "pairs": [{"label": a, "fixed": list(b), "vary": list(c)} for a, b, c in pairs],
        "speed": speed,
        "summary": summary,
        "seconds": time.perf_counter() - t0,
        "paths_resumed_from_results": resumed,
        "paths_measured": args.seeds * len(pairs) - resumed,
    }
    from gan_studio.metrics.report import machine_info

    data["machine"] = machine_info()
    jpath, mpath = write_report(out, "reds", data, _markdown(data))
    o = summary["mean_over_pairs_drift_vs_best_baseline"]
    print(f"wrote {jpath}, {mpath} and {out / 'reds_curves.png'}")
    print(
        f"REDS drift / best baseline, mean over pairs: reds {o['reds']:.3f}, reds-plain {o['reds-plain']:.3f}"
    )
    if "reverse_jacobian_over_reds_waypoint" in speed:
        print(f"reverse-mode Jacobian / REDS waypoint: {speed['reverse_jacobian_over_reds_waypoint']:.1f}x")
    return 0
