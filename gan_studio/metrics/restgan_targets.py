"""What `bench restgan` judges its numbers against: the StackGAN baseline, the paper's margins, the issue's targets.

- :func:`compare_with_baseline`: every metric on which ReStGAN must beat StackGAN (higher or lower is better);
- :func:`margins_over_baseline`: ReStGAN's relative margin over StackGAN where the paper reports one
  (``PAPER_MARGINS``);
- :func:`check_targets`: the generator-quality issue's absolute targets (accuracy per attribute, FID, color error,
  the capri row, latency) and "beats the baseline on every metric".
"""

from __future__ import annotations

import numpy as np

IS_HEADS = ("type", "color", "gender")  # the paper's classifiers
# The paper's margins of ReStGAN over the best StackGAN baseline.
PAPER_MARGINS = {"is_type": 0.22, "is_gender": 0.27, "is_color": 1.00, "fid_lower": 0.81}
# The generator-quality issue's targets (1000 held-out titles, 128 px).
TARGET_ACCURACY = {"type": 0.80, "gender": 0.97, "color": 0.90, "length": 0.85, "fit": 0.85}
TARGET_COLOR_ERROR = 7.0
TARGET_FID = 100.0
TARGET_LATENCY_MS = 30.0
TARGET_CAPRI_SEEDS = 0.9  # share of the capri row's seeds that must pass


def margin(ours: float | None, base: float | None, lower_is_better: bool = False) -> float | None:
    """Relative margin of ours over the baseline (0.2 = 20% better); None where either is missing or base is 0."""
    if ours is None or base is None or not base:
        return None
    return (1.0 - ours / base) if lower_is_better else (ours / base - 1.0)


def _better(ours, base, higher: bool) -> bool:
    if ours is None or base is None:
        return False
    return ours > base if higher else ours < base


def margins_over_baseline(res: dict) -> dict:
    """``ours`` (ReStGAN over StackGAN: IS of type, gender, color; FID lower by) beside the paper's."""
    r, s = res["restgan"], res["stackgan"]
    ours = {
        f"is_{h}": margin(r["inception_score"][h]["mean"], s["inception_score"][h]["mean"])
        for h in ("type", "gender", "color")
    }
    ours["fid_lower"] = margin(r["fid"], s["fid"], lower_is_better=True)
    return {"ours": ours, "paper": dict(PAPER_MARGINS)}


def compare_with_baseline(res: dict) -> list[dict]:
    """Every metric ReStGAN must beat the baseline on: (name, restgan, stackgan, higher is better, met)."""
    r, s = res["restgan"], res["stackgan"]
    rows = []

    def add(name, a, b, higher):
        rows.append({"metric": name, "restgan": a, "stackgan": b, "higher_is_better": higher,
                     "met": _better(a, b, higher)})  # fmt: skip

    for h in IS_HEADS:
        add(f"inception score ({h})", r["inception_score"][h]["mean"], s["inception_score"][h]["mean"], True)
    add("FID (classifier features)", r["fid"], s["fid"], False)
    for h in ("type", "gender", "color", "length", "fit"):
        add(
            f"attribute accuracy ({h})",
            r["attribute_accuracy"][h]["accuracy"],
            s["attribute_accuracy"][h]["accuracy"],
            True,
        )
    add("median color error (CIEDE2000)", r["color_error"]["median"], s["color_error"]["median"], False)
    if r.get("capri") and s.get("capri"):
        add("capri row: seeds passing", r["capri"]["passed"], s["capri"]["passed"], True)
    ri, si = r["incremental"], s["incremental"]
    add("kept: stated attributes stay", ri["kept"]["value"], si["kept"]["value"], True)
    add("takes effect: new attribute shows", ri["takes_effect"]["value"], si["takes_effect"]["value"], True)
    add(
        "pixel change from words stating nothing new",
        ri["change"]["nothing"]["pixel"],
        si["change"]["nothing"]["pixel"],
        False,
    )
    add(
        "feature change ratio nothing-new / attribute words",
        ri["change"]["ratio_nothing_to_attribute_feature"],
        si["change"]["ratio_nothing_to_attribute_feature"],
        False,
    )
    return rows


def check_targets(res: dict, comparisons: list[dict]) -> list[dict]:
    """The issue's targets, each ``{"target": words, "value": measured, "met": bool}``, in the report's order."""
    r = res["restgan"]
    out = [
        {
            "target": "ReStGAN beats the StackGAN baseline on every metric",
            "value": f"{sum(c['met'] for c in comparisons)} of {len(comparisons)}",
            "met": all(c["met"] for c in comparisons),
        }
    ]
    for h, least in TARGET_ACCURACY.items():
        acc = r["attribute_accuracy"][h]["accuracy"]
        out.append(
            {
                "target": f"generated attribute accuracy ({h}) >= {least:.0%}",
                "value": acc,
                "met": acc is not None and acc >= least,
            }
        )
    out.append(
        {
            "target": f"FID (classifier features) <= {TARGET_FID:g}",
            "value": r["fid"],
            "met": r["fid"] is not None and r["fid"] <= TARGET_FID,
        }
    )
    capri = r.get("capri")
    if capri and capri["seeds"]:
        need = int(np.ceil(TARGET_CAPRI_SEEDS * len(capri["seeds"])))
        out.append(
            {
                "target": f"capri row: shorter by >= 15% with color difference <= 10 in >= {need} of "
                f"{len(capri['seeds'])} seeds",
                "value": f"{capri['passed']} of {len(capri['seeds'])}",
                "met": capri["passed"] >= need,
            }
        )
    med = r["color_error"]["median"]
    out.append(
        {
            "target": f"median color error <= {TARGET_COLOR_ERROR:g}",
            "value": med,
            "met": med is not None and med <= TARGET_COLOR_ERROR,
        }
    )
    lat = r["latency"]["incremental_median_ms"]
    out.append(
        {
            "target": f"word-to-image latency median <= {TARGET_LATENCY_MS:g} ms (incremental)",
            "value": lat,
            "met": lat is not None and lat <= TARGET_LATENCY_MS,
        }
    )
    return out
