"""`gan-studio bench reds`: REDS against its linear baselines, and the forward-mode Jacobian against reverse mode.

For every (seed, fixed/vary pair) each method walks the same number of waypoints with the same latent distance per
waypoint from the same start. Every path gives (varied change, fixed change) per waypoint; a baseline and REDS are
compared at the largest varied change both reach (:mod:`.traversal_curves`). Per pair the table gives the mean
fixed drift of each method at that level and REDS's drift as a fraction of the baseline's (ratio of means); the
target is REDS's drift at most one third of the best baseline's, averaged over the pairs.

``reds`` and ``reds-plain`` recompute the Jacobian at every waypoint (``exact``); ``reds-fast`` is the app's default
(secant updates between refreshes, :mod:`gan_studio.methods.secant`) and is compared with ``reds`` on the same
starts: its fixed drift at the varied change both reach, and its time per waypoint.

Results per (seed, pair) are appended to a JSONL file as they are measured, so a killed run resumes; a record may
hold only some methods (``--methods``), and the records of one (seed, pair) are merged when read back.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from gan_studio.data.output_files import write_text
from gan_studio.methods.features import FeatureContext, build_features
from gan_studio.methods.jacobian import image_jacobian_reverse, image_tangents, shared_tangents
from gan_studio.methods.reds import TraversalSettings, movable_dims, traverse
from gan_studio.methods.restgan import TitleGenerator
from gan_studio.metrics.line_plot import Panel, line_panels
from gan_studio.metrics.report import bench_command, png, write_report
from gan_studio.metrics.results_file import append_result, open_results, read_results
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
    ("reds", "reds", {"exact": True}),
    ("reds-plain", "reds", {"exact": True, "correct": False, "progress_weight": 0.0}),
    ("reds-fast", "reds", {"exact": False}),
    ("linear", "linear", {}),
    ("random", "random", {}),
    ("pca", "pca", {}),
    ("sefa", "sefa", {}),
)
BASELINES = ("linear", "random", "pca", "sefa")
METHOD_NAMES = tuple(name for name, _, _ in METHODS)
FAST, EXACT = "reds-fast", "reds"
FAST_TARGET_MS, FAST_TARGET_DRIFT = 250.0, 1.10


def _log(t0: float, msg: str) -> None:
    print(f"[{time.perf_counter() - t0:7.1f} s] {msg}", flush=True)


def _timed_path(protocol, latent, fixed, vary, settings) -> list[float]:
    """Seconds per waypoint of one path (waypoint 0, the start, left out)."""
    times, t = [], time.perf_counter()
    for point in traverse(protocol, latent, fixed, vary, settings):
        now = time.perf_counter()
        if point.index > 0:
            times.append(now - t)
        t = now
    return times


def measure_speed(protocol, latent, fixed, vary, waypoints: int, chunk: int, reverse: bool = True) -> dict:
    """Milliseconds per REDS waypoint, exact (forward-mode Jacobian + features + eigenproblem + step) and fast
    (secant updates; median and mean over a path of ``max(waypoints, 8)``), and the image Jacobian alone by
    forward mode, finite differences and (unless ``reverse`` is off) reverse mode, all at the same latent."""
    m = movable_dims(protocol)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    settings = TraversalSettings(steps=waypoints, exact=True)
    list(traverse(protocol, latent, fixed, vary, TraversalSettings(steps=1, exact=True)))  # warm up
    list(traverse(protocol, latent, fixed, vary, TraversalSettings(steps=2)))
    t = time.perf_counter()
    list(traverse(protocol, latent, fixed, vary, settings))
    per_waypoint = (time.perf_counter() - t) / waypoints
    fast = _timed_path(protocol, latent, fixed, vary, TraversalSettings(steps=max(waypoints, 8)))
    basis = torch.zeros(m, latent.shape[1])
    basis[:, :m] = torch.eye(m)
    timings = {}
    for mode in ("forward", "finite"):
        image_tangents(protocol.synthesize, latent, basis, mode)
        t = time.perf_counter()
        for _ in range(waypoints):
            _, _tangents, _ = image_tangents(protocol.synthesize, latent, basis, mode)
        timings[mode] = (time.perf_counter() - t) / waypoints
    shared_tangents(protocol.synthesize, latent, basis)
    t = time.perf_counter()
    for _ in range(waypoints):
        shared_tangents(protocol.synthesize, latent, basis)
    timings["shared"] = (time.perf_counter() - t) / waypoints
    common = {
        "movable_dims": m,
        "ms_per_waypoint_reds": 1000 * per_waypoint,
        "ms_per_waypoint_reds_fast_median": 1000 * float(np.median(fast)),
        "ms_per_waypoint_reds_fast_mean": 1000 * float(np.mean(fast)),
        "ms_per_waypoint_reds_fast": [1000 * x for x in fast],
        "ms_jacobian_forward": 1000 * timings["forward"],
        "ms_jacobian_forward_shared_primal": 1000 * timings["shared"],
        "ms_jacobian_finite_difference": 1000 * timings["finite"],
        "torch_threads": torch.get_num_threads(),
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


def run_paths(protocols: dict, seed: int, pair, steps: int, step_size: float, names=METHOD_NAMES) -> dict:
    """The paths of the methods ``names`` for one (seed, pair): name -> {"varied", "fixed", "seconds"}.

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
        if name not in names:
            continue
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
                levels, a, b = drifts_at_equal_change(rows, ours, base)
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
        summary["curves"] = {}
        summary["seconds_per_path"] = {}
        for name in METHOD_NAMES:
            have = [r["paths"][name] for r in rows if name in r["paths"]]
            if have:
                summary["curves"][name] = mean_curve([(p["varied"], p["fixed"]) for p in have])
                summary["seconds_per_path"][name] = float(np.mean([p["seconds"] for p in have]))
        summary["fast_vs_exact"] = fast_vs_exact(rows)
        per_pair[label] = summary
    overall = {}
    for ours in ("reds", "reds-plain"):
        vals = [s[f"{ours}_over_best"] for s in per_pair.values() if f"{ours}_over_best" in s]
        overall[ours] = float(np.mean(vals)) if vals else None
    fast = fast_vs_exact(records)
    return {"pairs": per_pair, "mean_over_pairs_drift_vs_best_baseline": overall, "fast_vs_exact": fast}


def drifts_at_equal_change(records: list[dict], ours: str, base: str) -> tuple[list, list, list]:
    """For every record with both methods' paths that reach a common varied change
    (:func:`~gan_studio.metrics.traversal_curves.compare_at_equal_change`): that change, ``ours``' fixed drift and
    ``base``'s fixed drift there, as three lists in record order."""
    levels, a, b = [], [], []
    for r in records:
        if ours not in r["paths"] or base not in r["paths"]:
            continue
        p, q = r["paths"][ours], r["paths"][base]
        cmp = compare_at_equal_change((p["varied"], p["fixed"]), (q["varied"], q["fixed"]))
        if cmp is not None:
            levels.append(cmp[0])
            a.append(cmp[1])
            b.append(cmp[2])
    return levels, a, b


def fast_vs_exact(records: list[dict]) -> dict | None:
    """``reds-fast`` against ``reds`` (exact) on the same starts: their mean fixed drift at the largest varied change
    both reach (ratio of means; the target is at most 1.10), and their mean seconds per waypoint."""
    fast_s, exact_s = [], []
    for r in records:
        if FAST not in r["paths"] or EXACT not in r["paths"]:
            continue
        p, q = r["paths"][FAST], r["paths"][EXACT]
        n = len(p["varied"]) - 1
        fast_s.append(p["seconds"] / n)
        exact_s.append(q["seconds"] / n)
    if not fast_s:
        return None
    levels, a, b = drifts_at_equal_change(records, FAST, EXACT)
    return {
        "paths": len(fast_s),
        "compared": len(a),
        "mean_level": float(np.mean(levels)) if levels else None,
        "fast_drift": float(np.mean(a)) if a else None,
        "exact_drift": float(np.mean(b)) if b else None,
        "drift_ratio_of_means": float(np.mean(a) / max(np.mean(b), 1e-12)) if a else None,
        "ms_per_waypoint_fast_mean": 1000 * float(np.mean(fast_s)),
        "ms_per_waypoint_exact_mean": 1000 * float(np.mean(exact_s)),
        "speedup_mean": float(np.mean(exact_s) / max(np.mean(fast_s), 1e-12)),
    }


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


def _num(v) -> str:
    return "—" if v is None else f"{v:.2f}"


def _fast_lines(data: dict) -> list[str]:
    """The fast path against the exact one, per pair and overall."""
    s = data["summary"]
    rows = [(label, p.get("fast_vs_exact")) for label, p in s["pairs"].items()]
    rows.append(("all pairs", s.get("fast_vs_exact")))
    if all(f is None for _, f in rows):
        return []
    lines = [
        "",
        "## Fast path (app default) against the exact path, same starts",
        "",
        (
            f"`reds-fast` refreshes the Jacobian every {TraversalSettings.refresh_every} waypoints (the primal "
            "computed once) and carries it by "
            "secant (Broyden) updates from the derivative along each step in between; `reds` recomputes it at "
            "every waypoint. Drift: mean fixed drift at the largest varied change both reach (ratio of means; "
            f"target ≤ {FAST_TARGET_DRIFT:.2f}). Time: mean seconds per path / waypoints, as measured in the runs "
            "(other jobs' load included)."
        ),
        "",
        "| pair | paths | fast drift / exact drift | ratio | ms per waypoint fast / exact | speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for label, f in rows:
        if f is None:
            continue
        drift = "—" if f["fast_drift"] is None else f"{f['fast_drift']:.4f} / {f['exact_drift']:.4f}"
        lines.append(
            f"| {label} | {f['paths']} | {drift} | **{_num(f['drift_ratio_of_means'])}** | "
            f"{f['ms_per_waypoint_fast_mean']:.0f} / {f['ms_per_waypoint_exact_mean']:.0f} | "
            f"{f['speedup_mean']:.1f}x |"
        )
    return lines


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
            f"**{_num(o['reds'])}** — {'met' if met else 'not met'}; reds-plain {_num(o['reds-plain'])}."
        ),
        *_fast_lines(data),
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
        f"| REDS waypoint, exact (forward-mode Jacobian, features, eigenproblem, step) | {sp['ms_per_waypoint_reds']:.0f} |",
        *(
            [
                f"| REDS waypoint, fast (secant updates; median / mean of {len(sp['ms_per_waypoint_reds_fast'])}: "
                + ", ".join(f"{x:.0f}" for x in sp["ms_per_waypoint_reds_fast"])
                + f") | {sp['ms_per_waypoint_reds_fast_median']:.0f} / {sp['ms_per_waypoint_reds_fast_mean']:.0f} |",
                (
                    "| image Jacobian, forward mode, primal once (vmap over the tangents) | "
                    f"{sp['ms_jacobian_forward_shared_primal']:.0f} |"
                ),
            ]
            if "ms_per_waypoint_reds_fast" in sp
            else []
        ),
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


def _method_names(text: str | None) -> tuple[str, ...]:
    """``--methods`` (comma-separated names of METHODS; None or empty = all) -> the names, in METHODS order."""
    if not text or not text.strip():
        return METHOD_NAMES
    asked = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in asked if t not in METHOD_NAMES]
    if unknown:
        raise ValueError(f"unknown method {', '.join(unknown)}; use {', '.join(METHOD_NAMES)}")
    return tuple(n for n in METHOD_NAMES if n in asked)


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
    out = Path(args.out)  # made by open_results or write_report
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
    names = _method_names(getattr(args, "methods", None))
    done: dict[tuple[int, str], dict] = {}
    for r in read_results(
        results, key
    ):  # records of one (seed, pair) written by runs of other --methods merge
        got = done.setdefault((r["seed"], r["pair"]), {**r, "paths": {}})
        got["paths"].update(r["paths"])
    resumed = sum(
        1
        for s in range(args.seeds)
        for p in pairs
        if all(n in done.get((s, p[0]), {"paths": {}})["paths"] for n in names)
    )
    protocols = {title: gen.protocol(title) for title in TITLES}
    with open_results(results) as f:
        for seed in seed_range:
            for pair in pairs:
                have = done.get((seed, pair[0]), {"paths": {}})["paths"]
                missing = tuple(n for n in names if n not in have)
                if not missing:
                    continue
                r = run_paths(protocols, seed, pair, args.steps, args.step_size, missing)
                r["settings"] = key
                append_result(f, r)
                got = done.setdefault((seed, pair[0]), {**r, "paths": {}})
                got["paths"].update(r["paths"])
            _log(t0, f"seed {seed + 1}/{seed_range.stop} done")
    if args.measure_only:
        print(f"measured seeds {seed_range.start}..{seed_range.stop - 1} into {results}; a run without "
              "--measure-only reading all results reports")  # fmt: skip
        return 0
    speed_file = results.with_suffix(".speed.json")
    speed = None
    if speed_file.exists():  # a resumed run keeps the timings its first part measured
        saved = json.loads(speed_file.read_text())
        if (
            saved.get("settings") == {**key, "waypoints": args.speed_waypoints}
            and (args.no_reverse or "ms_jacobian_reverse_full" in saved["speed"])
            and "ms_per_waypoint_reds_fast" in saved["speed"]
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
        write_text(
            speed_file,
            json.dumps({"settings": {**key, "waypoints": args.speed_waypoints}, "speed": speed}),
            make_parents=True,
        )
    _log(t0, f"speed: {json.dumps({k: round(v, 3) for k, v in speed.items() if not isinstance(v, list)})}")
    records = [done[(s, p[0])] for s in range(args.seeds) for p in pairs if (s, p[0]) in done]
    summary = summarize(records, pairs)
    panels = [
        Panel(label, "varied change", "fixed drift", summary["pairs"][label]["curves"])
        for label, _, _ in pairs
    ]
    figure = line_panels(panels)
    data = {
        "command": bench_command(args, "reds"),
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
    figures = {out / "reds_curves.png": png(figure)}
    jpath, mpath = write_report(out, "reds", data, _markdown(data), figures=figures)
    o = summary["mean_over_pairs_drift_vs_best_baseline"]
    print(f"wrote {jpath}, {mpath} and {out / 'reds_curves.png'}")
    print(
        f"REDS drift / best baseline, mean over pairs: reds {_num(o['reds'])}, reds-plain {_num(o['reds-plain'])}"
    )
    if summary["fast_vs_exact"] is not None:
        fe = summary["fast_vs_exact"]
        print(
            f"reds-fast vs reds on {fe['paths']} paths: drift ratio {_num(fe['drift_ratio_of_means'])}, "
            f"{fe['ms_per_waypoint_fast_mean']:.0f} vs {fe['ms_per_waypoint_exact_mean']:.0f} ms per waypoint"
        )
    if "reverse_jacobian_over_reds_waypoint" in speed:
        print(f"reverse-mode Jacobian / REDS waypoint: {speed['reverse_jacobian_over_reds_waypoint']:.1f}x")
    return 0
