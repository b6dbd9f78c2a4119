"""`gan-studio bench handsoff`: HandsOff's generated datasets against training on the few real labels directly.

The paper's protocol: for each number of labeled items n and each seed, the same downstream dense network
(:mod:`gan_studio.models.dense_net`, trained by :mod:`gan_studio.train.dense_training` with the same recipe and step
budget) is trained three ways and tested on the same held-out real catalog items:

- ``handsoff``: HandsOff is fitted on the n labeled items (:func:`~gan_studio.methods.handsoff.fit_handsoff` with
  the shipped generator and inversion encoder), generates a labeled dataset (the most uncertain ``--drop`` of the
  candidates dropped, as HandsOff does) and the network (own encoder) is trained **only** on that dataset;
- ``real``: the network (own encoder) is trained on the n real items with augmentation;
- ``transfer``: the network with the shipped attribute classifier's blocks as its encoder, initialized from the
  classifier and fine-tuned, trained on the same n items with the same augmentation;
- ``handsoff_ft``: the ``handsoff`` network (trained on the generated dataset) fine-tuned for ``--finetune-steps``
  more steps on the n real items with the same augmentation, at ``--finetune-lr``: the generated dataset used as
  pretraining for the few real labels rather than in their place. It costs those extra steps on top of the
  ``handsoff`` row's budget; the report says so beside it.

Data: labeled items are built-in catalog seed 1006, items [100 * seed, 100 * seed + n) for benchmark seed ``seed``
(each seed its own labeled set); test items are catalog seed 1005, items [0, --test-items), used nowhere else
(the shipped HandsOff model was fitted on seed 1004; the generator and classifier train on other seeds). Scores:
:mod:`gan_studio.metrics.dense_scores` (mIoU with background is the headline, mIoU without it beside it; PCK@0.05;
depth RMSE and AbsRel). Each table cell is the mean ± sample standard deviation over seeds.

Results per (labels, seed, method) are appended to a JSONL file as they are measured, so a killed run resumes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from gan_studio.data.attributes import KEYPOINTS, PART_NAMES
from gan_studio.data.catalog import item_id, render_item
from gan_studio.data.dataset_export import latent_seed
from gan_studio.data.dataset_plan import candidate_count, keep_lowest
from gan_studio.data.output_files import write_text
from gan_studio.methods.label_generator import LabelGeneratorConfig
from gan_studio.metrics.dense_scores import dense_scores
from gan_studio.metrics.report import write_report
from gan_studio.metrics.results_file import append_result, open_results, read_results

TEST_SEED = 1005
LABELED_SEED = 1006
SYNTHETIC_SEED = 7000  # + benchmark seed: the latent seeds of the generated dataset
METHODS = ("handsoff", "handsoff_ft", "real", "transfer")
METHOD_NAMES = {
    "handsoff": "HandsOff (generated dataset only)",
    "handsoff_ft": "HandsOff pretraining, fine-tuned on the real items",
    "real": "real items + augmentation",
    "transfer": "transfer (classifier backbone) + augmentation",
}
BASELINES = ("real", "transfer")
OURS = ("handsoff", "handsoff_ft")
TARGET_POINTS = 3.0  # mIoU points HandsOff must beat the best baseline by at 16 labels
SCORES = ("miou", "miou_no_background", "pck", "depth_rmse", "depth_absrel")


# ---------------------------------------------------------------------------------------------------------------
# Data


def labeled_items(seed: int, n: int, size: int) -> list:
    """The n labeled real items of benchmark seed ``seed``: catalog seed 1006, items [100 seed, 100 seed + n)."""
    return [render_item(LABELED_SEED, 100 * seed + i, size) for i in range(n)]


def test_set(n: int, size: int) -> dict:
    """The held-out real items stacked: ``image`` (n, S, S, 3), ``mask``, ``keypoints``, ``depth``."""
    items = [render_item(TEST_SEED, i, size) for i in range(n)]
    return {
        "image": np.stack([it.image for it in items]),
        "mask": np.stack([it.mask for it in items]),
        "keypoints": np.stack([it.keypoints for it in items]),
        "depth": np.stack([it.depth for it in items]),
    }


# ---------------------------------------------------------------------------------------------------------------
# Memory: the peak resident set of one phase


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (Linux: VmHWM, by writing 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _status_mb(field: str) -> float | None:
    """A memory line of /proc/self/status (``VmRSS``, ``VmHWM``; kB there) in MB; None where there is none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _peak_rss_mb() -> float | None:
    """Peak resident memory in MB: VmHWM since the last reset on Linux, else the process's max RSS."""
    peak_mb = _status_mb("VmHWM")
    if peak_mb is not None:
        return peak_mb
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


def _rss_mb() -> float | None:
    """Resident memory now in MB (Linux); None elsewhere."""
    return _status_mb("VmRSS")


# ---------------------------------------------------------------------------------------------------------------
# The three methods


class Shared:
    """Models loaded once for the whole run: generator, inversion encoder, perceptual distance, classifier."""

    def __init__(self, device: str):
        from gan_studio.methods.handsoff import open_encoder, open_generator
        from gan_studio.models.classifier import load_classifier
        from gan_studio.models.perceptual import load_perceptual

        self.device = torch.device(device)
        self.generator, self.generator_spec = open_generator(None, self.device)
        self.encoder, self.encoder_spec = open_encoder(None, self.device)
        self.perceptual = load_perceptual(device=self.device)
        self.classifier = load_classifier(device=self.device)
        self.size = int(self.generator.image_size)


def fit_and_generate(shared: Shared, items: list, seed: int, args, log) -> tuple[list[dict], dict]:
    """Fit HandsOff on ``items`` and generate its dataset; returns (items as dicts, record of times and memory)."""
    from gan_studio.data.label_import import ImportReport, LabeledImage
    from gan_studio.methods.handsoff import fit_handsoff

    report = ImportReport(
        items=[
            LabeledImage(it.id, f"catalog seed {LABELED_SEED}", it.image, it.mask, it.keypoints, it.depth)
            for it in items
        ],
        format="catalog",
    )
    config = LabelGeneratorConfig(steps=args.fit_steps, seed=seed, ensemble_size=args.ensemble)
    reset = _reset_peak_rss()
    rss_before = _rss_mb() if reset else _peak_rss_mb()
    started = time.perf_counter()
    model = fit_handsoff(
        report,
        None,
        generator=shared.generator,
        encoder=shared.encoder,
        config=config,
        refine_steps=args.refine_steps,
        perceptual=shared.perceptual,
        device=shared.device,
    )
    fit_seconds = time.perf_counter() - started
    peak = _peak_rss_mb()
    lg_record = model.label_generator.training_record
    log(f"fitted HandsOff on {len(items)} items in {fit_seconds:.1f} s")

    # Generate: candidates in chunks, the most uncertain dropped (as `dataset export` does).
    n = args.synthetic
    candidates = candidate_count(n, args.drop)
    chunk = 16
    started = time.perf_counter()
    results: list[dict] = []
    for c, start in enumerate(range(0, candidates, chunk)):
        count = min(chunk, candidates - start)
        with torch.no_grad():
            latents = shared.generator.sample_latent(count, latent_seed(SYNTHETIC_SEED + seed, c))
        for r in model.predict(shared.generator, latents.to(shared.device), batch_size=count):
            results.append(
                {k: r[k] for k in ("image", "mask", "keypoints", "depth", "uncertainty")}
            )  # the per-pixel uncertainty map is not needed: let it go
    keep = keep_lowest([r["uncertainty"] for r in results], n)
    generated = [r for r, k in zip(results, keep, strict=True) if k]
    gen_seconds = time.perf_counter() - started
    log(f"generated {len(generated)} labeled images ({candidates} candidates) in {gen_seconds:.1f} s")
    record = {
        "fit_seconds": round(fit_seconds, 3),
        "label_generator_seconds": lg_record.get("seconds"),
        "fit_peak_rss_mb": None if peak is None else round(peak, 1),
        "fit_peak_rss_growth_mb": None if peak is None or rss_before is None else round(peak - rss_before, 1),
        "fit_peak_rss_is_phase_peak": reset,
        "fit_hypercolumn_peak_bytes": lg_record.get("memory", {}).get("peak_bytes"),
        "inversion": model.info.get("inversion"),
        "generated": len(generated),
        "candidates": candidates,
        "generate_seconds": round(gen_seconds, 3),
        "labeled_images_per_second": round(candidates / gen_seconds, 3) if gen_seconds > 0 else None,
        "kept_images_per_second": round(len(generated) / gen_seconds, 3) if gen_seconds > 0 else None,
    }
    return generated, record


def train_and_score(
    method: str, train_items: list, test: dict, seed: int, shared: Shared, args, net=None
) -> tuple[dict, torch.nn.Module]:
    """Train the downstream network for ``method`` on ``train_items`` and score it on ``test``; returns the record
    and the trained network. ``handsoff_ft`` fine-tunes a copy of ``net`` (the ``handsoff`` row's network)."""
    import copy

    from gan_studio.models.dense_net import DenseNet, DenseNetConfig
    from gan_studio.train.dense_training import DenseTrainingConfig, stack_items, train_dense

    if method == "handsoff_ft":
        net = copy.deepcopy(net)
        config = DenseTrainingConfig(
            steps=args.finetune_steps, batch=args.batch, seed=seed, lr=args.finetune_lr
        )
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if method == "transfer":
                net = DenseNet.with_classifier_encoder(shared.classifier, image_size=shared.size)
            else:
                net = DenseNet(DenseNetConfig(image_size=shared.size))
        config = DenseTrainingConfig(steps=args.steps, batch=args.batch, seed=seed)
    net.to(shared.device)
    record = train_dense(net, stack_items(train_items), config)
    started = time.perf_counter()
    pred = net.predict(test["image"])
    scores = dense_scores(test, pred, len(PART_NAMES), PART_NAMES)
    return {
        "training": record,
        "predict_seconds": round(time.perf_counter() - started, 3),
        "scores": scores,
    }, net


def time_training_step(shared: Shared, batch: int, steps: int = 3) -> dict:
    """Seconds per downstream training step (batch ``batch``, after one warm-up step) for each encoder."""
    from gan_studio.models.dense_net import DenseNet, DenseNetConfig
    from gan_studio.train.dense_training import DenseTrainingConfig, stack_items, train_dense

    items = labeled_items(0, 4, shared.size)
    data = stack_items(items)
    out = {}
    for method in ("real", "transfer"):
        net = (
            DenseNet.with_classifier_encoder(shared.classifier, image_size=shared.size)
            if method == "transfer"
            else DenseNet(DenseNetConfig(image_size=shared.size))
        ).to(shared.device)
        train_dense(net, data, DenseTrainingConfig(steps=1, batch=batch))
        record = train_dense(net, data, DenseTrainingConfig(steps=steps, batch=batch))
        out["own" if method == "real" else "classifier"] = record["seconds_per_step"]
    return out


# ---------------------------------------------------------------------------------------------------------------
# Summary and report


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    v = [x for x in values if x is not None and np.isfinite(x)]
    if not v:
        return None, None
    return float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0


def _target_check(ours: float | None, base: dict[str, float], n: int) -> dict:
    """One of our rows against the best baseline: the issue's target is >= 3 points at 16 labels, >= both else."""
    if ours is None or not base:
        return {"best_baseline": None, "margin_points": None, "beats_both": None, "met": None}
    best = max(base, key=lambda b: base[b])
    margin = 100 * (ours - base[best])
    met = margin >= TARGET_POINTS if n == 16 else margin >= 0
    return {"best_baseline": best, "margin_points": margin, "beats_both": margin > 0, "met": met}


def summarize(records: dict, labels: list[int], seeds: int) -> dict:
    """Per label count and method: mean and std over seeds of every score; HandsOff against the best baseline."""
    out: dict = {}
    for n in labels:
        per_method = {}
        for method in METHODS:
            rows = [records[(n, s, method)] for s in range(seeds) if (n, s, method) in records]
            entry = {"seeds": len(rows)}
            for key in SCORES:
                mean, std = _mean_std([r["scores"][key] for r in rows])
                entry[key] = {"mean": mean, "std": std}
            entry["train_seconds"] = _mean_std([r["training"]["seconds"] for r in rows])[0]
            if method == "handsoff" and rows:
                for key in (
                    "fit_seconds",
                    "fit_peak_rss_mb",
                    "fit_peak_rss_growth_mb",
                    "fit_hypercolumn_peak_bytes",
                    "generate_seconds",
                    "labeled_images_per_second",
                    "kept_images_per_second",
                ):
                    entry[key] = _mean_std([r["handsoff"][key] for r in rows])[0]
            per_method[method] = entry
        base = {
            b: per_method[b]["miou"]["mean"] for b in BASELINES if per_method[b]["miou"]["mean"] is not None
        }
        targets = {m: _target_check(per_method[m]["miou"]["mean"], base, n) for m in OURS}
        out[str(n)] = {"methods": per_method, "target": targets["handsoff"], "targets": targets}
    return out


def _cell(entry: dict, key: str, scale: float = 1.0, digits: int = 1) -> str:
    v = entry[key]
    if v["mean"] is None:
        return "—"
    return f"{scale * v['mean']:.{digits}f} ± {scale * v['std']:.{digits}f}"


def _num(value, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def _features_text(extras) -> str:
    names = {"image": "the rendered image", "position": "each pixel's position"}
    return "".join(f" + {names.get(e, e)}" for e in extras)


def _home_as_tilde(text: str) -> str:
    """``text`` with this user's home folder written ``~``: a report names no one's machine."""
    home = str(Path.home())
    return text.replace(home, "~") if home not in ("", "/") else text


def _markdown(data: dict) -> str:
    s = data["summary"]
    lines = [
        "# HandsOff: a downstream network trained on the generated dataset vs on the few real labels",
        "",
        f"Command: `{_home_as_tilde(data['command'])}` ({data['seconds']:.0f} s, torch threads {data['threads']}"
        + (
            f"; {data['runs_read_back']} runs read back from `{_home_as_tilde(data['results_file'])}`"
            if data.get("runs_read_back")
            else ""
        )
        + f"). Fitting, generating and training of all runs: {data.get('run_seconds', 0) / 60:.0f} min.",
        "",
        (
            f"Labeled items: catalog seed {LABELED_SEED}, items [100·seed, 100·seed + n) for benchmark seeds "
            f"0..{data['seeds'] - 1}. Test: {data['test_items']} held-out real items of catalog seed {TEST_SEED} "
            f"at {data['image_size']} px. HandsOff: label generator on hypercolumns of every generator block"
            f"{_features_text(data.get('label_generator_features', []))}, {data['fit_steps']} steps, "
            f"{data['ensemble']} segmentation members, inversion refined {data['refine_steps']} steps; "
            f"{data['synthetic']} generated items kept per dataset (the most uncertain {data['drop']:.0%} of the "
            f"candidates dropped). Downstream: the same U-Net for every method, {data['steps']} steps of batch "
            f"{data['batch']}, the same label-consistent augmentation (flip with left/right swap, scale/shift, "
            "brightness, cutout)."
        ),
        "",
        (
            "mIoU is over the whole test set (one confusion matrix), background included (headline) and excluded; "
            "PCK@0.05 counts visible ground-truth keypoints within 0.05 × image size; depth RMSE (m) and AbsRel "
            "on pixels with defined depth. Cells: mean ± sample std over seeds."
        ),
        "",
        "| labels | method | mIoU (%) | mIoU w/o bg (%) | PCK@0.05 (%) | depth RMSE (cm) | AbsRel (%) | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, block in s.items():
        for method in METHODS:
            e = block["methods"][method]
            lines.append(
                f"| {n} | {METHOD_NAMES[method]} | {_cell(e, 'miou', 100)} | "
                f"{_cell(e, 'miou_no_background', 100)} | {_cell(e, 'pck', 100)} | "
                f"{_cell(e, 'depth_rmse', 100, 2)} | {_cell(e, 'depth_absrel', 100, 2)} | {e['seeds']} |"
            )
    lines += ["", "## Target", ""]
    for n, block in s.items():
        goal = f"≥ {TARGET_POINTS:g} points" if n == "16" else "≥ both"
        for method in OURS:
            t = block["targets"][method]
            if t["margin_points"] is None:
                lines.append(f"- {n} labels, {METHOD_NAMES[method]}: not measured.")
                continue
            lines.append(
                f"- {n} labels, {METHOD_NAMES[method]} − best baseline ({t['best_baseline']}) = "
                f"**{t['margin_points']:+.1f}** mIoU points (goal {goal}): **{'met' if t['met'] else 'not met'}**."
            )
    if data.get("finetune_steps"):
        lines += [
            "",
            (
                f"The fine-tuned row trains {data['finetune_steps']} more steps (learning rate "
                f"{data['finetune_lr']:g}) on the real items after the generated-only row's {data['steps']}: "
                f"{data['steps'] + data['finetune_steps']} downstream steps against the baselines' {data['steps']}."
            ),
        ]
    lines += [
        "",
        "## Cost of HandsOff",
        "",
        (
            "| labels | fit (s) | fit peak RSS (MB) | RSS growth while fitting (MB) | hypercolumn peak (MB) | "
            "generation (s) | labeled images / s | kept / s |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, block in s.items():
        e = block["methods"]["handsoff"]
        if not e["seeds"]:
            continue
        hyper = e.get("fit_hypercolumn_peak_bytes")
        lines.append(
            f"| {n} | {_num(e.get('fit_seconds'), '.1f')} | {_num(e.get('fit_peak_rss_mb'), '.0f')} | "
            f"{_num(e.get('fit_peak_rss_growth_mb'), '.0f')} | "
            f"{_num(None if hyper is None else hyper / 1024**2, '.1f')} | {_num(e.get('generate_seconds'), '.1f')} | "
            f"{_num(e.get('labeled_images_per_second'), '.2f')} | {_num(e.get('kept_images_per_second'), '.2f')} |"
        )
    st = data.get("step_seconds", {})
    lines += [
        "",
        (
            "Fit time includes inverting the labeled items. Peak RSS is the process's resident peak during the fit "
            "(Linux VmHWM, reset before it); it includes the loaded models. Labeled images / s counts every "
            "generated candidate (render + label); kept / s only those left after the uncertainty drop. One "
            f"downstream training step (batch {data['batch']}): own encoder {_num(st.get('own'), '.3f')} s, "
            f"classifier encoder {_num(st.get('classifier'), '.3f')} s."
        ),
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# The command


def bench_handsoff_command(args) -> int:
    if args.seeds < 1 or args.test_items < 1 or args.synthetic < 1 or args.steps < 1 or args.fit_steps < 1:
        raise ValueError("--seeds, --test-items, --synthetic, --steps and --fit-steps must be at least 1")
    if args.finetune_steps < 1 or not args.finetune_lr > 0:
        raise ValueError("--finetune-steps must be at least 1 and --finetune-lr positive")
    if max(args.labels) > 100:
        raise ValueError("--labels must be at most 100 (each seed's labeled items are 100 apart)")
    if not 0 <= args.drop < 1:
        raise ValueError("--drop must be in [0, 1)")
    seed_range = range(args.seeds)
    if getattr(args, "measure_only", None):
        a, sep, b = args.measure_only.partition(":")
        if not (sep and a.isdigit() and b.isdigit() and int(a) < int(b) <= args.seeds):
            raise ValueError(f"--measure-only takes A:B with A < B <= --seeds, not {args.measure_only!r}")
        seed_range = range(int(a), int(b))
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - t0:7.1f} s] {msg}", flush=True)

    out = Path(args.out)  # made by open_results or write_report
    results = Path(args.results) if args.results else out / "handsoff_runs.jsonl"
    key = {
        "steps": args.steps,
        "batch": args.batch,
        "fit_steps": args.fit_steps,
        "refine_steps": args.refine_steps,
        "ensemble": args.ensemble,
        "synthetic": args.synthetic,
        "drop": args.drop,
        "test_items": args.test_items,
    }
    # The fine-tuned row also depends on the fine-tuning settings; the other rows are read back without them.
    ft_key = {**key, "finetune_steps": args.finetune_steps, "finetune_lr": args.finetune_lr}

    def settings_of(method: str) -> dict:
        return ft_key if method == "handsoff_ft" else key

    done: dict[tuple[int, int, str], dict] = {}
    read_back = 0
    for r in [*read_results(results, key), *read_results(results, ft_key)]:
        if (
            r["labels"] in args.labels
            and r["seed"] < args.seeds
            and r["settings"] == settings_of(r["method"])
        ):
            read_back += (r["labels"], r["seed"], r["method"]) not in done
            done[(r["labels"], r["seed"], r["method"])] = r

    shared = Shared(args.device)
    log(f"loaded the shipped generator, encoder and classifier; rendering {args.test_items} test items")
    test = test_set(args.test_items, shared.size)
    speed_file = results.with_suffix(".speed.json")
    speed_key = {"batch": args.batch, "threads": torch.get_num_threads(), "device": str(shared.device)}
    step_seconds = None
    if speed_file.exists():  # a resumed run keeps the timings its first part measured
        saved = json.loads(speed_file.read_text())
        if saved.get("settings") == speed_key:
            step_seconds = saved["step_seconds"]
    if step_seconds is None:
        step_seconds = time_training_step(shared, args.batch, steps=min(3, args.steps))
        record = json.dumps({"settings": speed_key, "step_seconds": step_seconds}) + "\n"
        write_text(speed_file, record, make_parents=True)
    log(f"one training step: {json.dumps(step_seconds)}")
    with open_results(results) as f:
        for n in args.labels:
            for seed in seed_range:
                items = labeled_items(seed, n, shared.size)
                for method in ("real", "transfer", "handsoff"):
                    # The fine-tuned row starts from the handsoff row's network: both are measured together.
                    methods = OURS if method == "handsoff" else (method,)
                    if all((n, seed, m) in done for m in methods):
                        continue
                    extra: dict = {}
                    if method == "handsoff":
                        train_items, extra = fit_and_generate(shared, items, seed, args, log)
                    else:
                        train_items = items
                    net = None
                    for m in methods:
                        r, net = train_and_score(m, items if m == "handsoff_ft" else train_items, test, seed,
                                                 shared, args, net)  # fmt: skip
                        r.update(labels=n, seed=seed, method=m, settings=settings_of(m))
                        if m == "handsoff":  # fitting and generating are the handsoff row's cost
                            r["handsoff"] = extra
                        r["labeled_ids"] = [items[0].id, items[-1].id]
                        done[(n, seed, m)] = r
                        append_result(f, r)
                        sc = r["scores"]
                        log(
                            f"labels {n} seed {seed} {m}: mIoU {100 * sc['miou']:.1f}, PCK {100 * sc['pck']:.1f}, "
                            f"RMSE {100 * sc['depth_rmse']:.2f} cm ({r['training']['seconds']:.0f} s training)"
                        )

    if getattr(args, "measure_only", None):
        print(f"measured seeds {seed_range.start}..{seed_range.stop - 1} into {results}; a run without "
              "--measure-only reading all results reports")  # fmt: skip
        return 0
    summary = summarize(done, args.labels, args.seeds)
    data = {
        "command": "gan-studio " + " ".join(getattr(args, "argv", [])),
        "labels": args.labels,
        "seeds": args.seeds,
        **ft_key,
        "image_size": shared.size,
        "label_generator_features": list(LabelGeneratorConfig().extra_features),
        "threads": torch.get_num_threads(),
        "device": str(shared.device),
        "data": {
            "labeled": f"catalog seed {LABELED_SEED}, items [100*seed, 100*seed + n)",
            "test": f"catalog seed {TEST_SEED}, items [0, {args.test_items}) "
            f"({item_id(TEST_SEED, 0)} .. {item_id(TEST_SEED, args.test_items - 1)})",
            "synthetic_latents": f"chunk c of 16 latents: sample_latent(16, latent_seed({SYNTHETIC_SEED} + seed, c))",
        },
        "generator": shared.generator_spec,
        "inversion_encoder": shared.encoder_spec,
        "classes": list(PART_NAMES),
        "keypoints": list(KEYPOINTS),
        "step_seconds": step_seconds,
        "summary": summary,
        "runs": [
            {k: v for k, v in done[(n, s, m)].items() if k != "settings"}
            for n in args.labels
            for s in range(args.seeds)
            for m in METHODS
            if (n, s, m) in done
        ],
        "seconds": time.perf_counter() - t0,
        "runs_read_back": read_back,
        "results_file": str(results),
        "run_seconds": round(
            sum(
                r["training"]["seconds"]
                + (
                    r["handsoff"]["fit_seconds"] + r["handsoff"]["generate_seconds"]
                    if r["method"] == "handsoff"
                    else 0
                )
                for r in done.values()
            ),
            1,
        ),
    }
    jpath, mpath = write_report(out, "handsoff", data, _markdown(data))
    print(f"wrote {jpath} and {mpath}")
    for n, block in summary.items():
        for method in OURS:
            t = block["targets"][method]
            if t["margin_points"] is not None:
                print(
                    f"{n} labels: {METHOD_NAMES[method]} - best baseline ({t['best_baseline']}) = "
                    f"{t['margin_points']:+.1f} mIoU points"
                )
    return 0
