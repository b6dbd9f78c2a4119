"""The GUI-stall probe and `gan-studio bench gui-stalls` on tiny models: every phase runs in the real window."""

from __future__ import annotations

import json
import time

import torch

from gan_studio.cli import main
from gan_studio.data.catalog import iter_items
from gan_studio.data.catalog_writer import write_catalog
from gan_studio.methods.label_generator import LabelGeneratorConfig
from gan_studio.methods.restgan import TitleGenerator
from gan_studio.models.classifier import AttributeClassifier, ClassifierConfig
from gan_studio.models.inversion import InversionConfig, InversionEncoder
from gan_studio.models.perceptual import PerceptualDistance
from gan_studio.qt import stall_bench
from gan_studio.qt.stall_bench import PHASES, StallProbe, measure_stalls, run_until, stats
from tests.tiny_models import save_tiny_text_to_image, tiny_text_to_image

TINY = LabelGeneratorConfig(ensemble_size=2, hidden=(16, 8), steps=3, images_per_step=2, pixels_per_image=128)


def test_the_probe_counts_a_blocked_loop_as_one_long_stall(qapp) -> None:
    probe = StallProbe(5)
    probe.start()
    end = time.monotonic() + 0.3
    run_until(lambda: time.monotonic() > end)
    time.sleep(0.1)  # the GUI thread blocked: no firing can come
    late = probe.stop()
    assert len(late) > 10 and max(late) >= 90
    s = stats(late)
    assert s["max_ms"] >= 90 and s["p50_ms"] < 50 and s["over_16_ms"] >= 1
    assert stats([])["p99_ms"] is None


def test_every_phase_in_the_real_window(qapp, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(stall_bench, "TIMEOUT_S", 120.0)  # a wait that never ends fails here, not in 30 min
    model = save_tiny_text_to_image(tmp_path / "model")
    generator = TitleGenerator(tiny_text_to_image()).catalog_protocol(
        ["men's blue jeans", "women's black pants"]
    )
    torch.manual_seed(0)
    encoder = InversionEncoder(InversionConfig.tiny(generator.image_size, generator.latent_dim))
    perceptual = PerceptualDistance(AttributeClassifier(ClassifierConfig(in_size=32, width=4)))
    labeled = write_catalog(iter_items(0, 0, 3, 64), tmp_path / "labeled")
    # "-" adds no word: nothing is drawn for it, so nothing may be awaited
    result = measure_stalls(
        titles=["men's - blue jeans", "women's black skinny pants"], words=3, waypoints=2, fit_steps=2, export=3,
        labeled=labeled, generate_options={"model_path": model}, explore_options={"model_path": model},
        dataset_options={"generator": generator, "encoder": encoder, "perceptual": perceptual, "config": TINY},
        idle_s=0.3, log=lambda _line: None,
    )  # fmt: skip
    phases = result["phases"]
    assert list(phases) == list(PHASES)
    for name, r in phases.items():
        assert "error" not in r, (name, r)
        assert r["n"] >= 1 and 0 <= r["p50_ms"] <= r["p99_ms"] <= r["max_ms"], name
    assert phases["generate"]["words"] == 3 and phases["traverse"]["waypoints"] == 2
    assert (
        phases["fit"]["steps"] == 2
        and phases["export"]["items"] == 3
        and phases["explore-export"]["frames"] == 3
    )


def test_the_bench_command_writes_the_table(qapp, tmp_path) -> None:
    model = save_tiny_text_to_image(tmp_path / "model")
    out = tmp_path / "out"
    argv = ["bench", "gui-stalls", "--model", str(model), "--words", "2", "--waypoints", "1", "--threads", "1",
            "--phases", "idle,generate,traverse,explore-export", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    data = json.loads((out / "gui_stalls.json").read_text())
    assert set(data["result"]["phases"]) == {"idle", "generate", "traverse", "explore-export"}
    assert data["command"].startswith("gan-studio bench gui-stalls --model") and data["torch_threads"] == 1
    md = (out / "gui_stalls.md").read_text()
    assert (
        "| generate | typing titles word by word" in md
        and "goal p99 ≤ 16 ms" in md
        and "p99 / idle p99" in md
        and "Load average (1 min)" in md
    )
    assert set(data["load_average_1min"]) == {"start", "end"}


def test_bad_phases_are_one_sentence(tmp_path, capsys) -> None:
    assert main(["bench", "gui-stalls", "--phases", "idle,nap", "--out", str(tmp_path)]) == 2
    assert "unknown phase nap" in capsys.readouterr().err
    assert main(["bench", "gui-stalls", "--phases", "explore-export", "--out", str(tmp_path)]) == 2


def test_a_failing_phase_is_a_sentence_and_the_next_one_runs(qapp) -> None:
    result = measure_stalls(titles=[], phases=("fit", "idle"), idle_s=0.2, log=lambda _line: None)
    assert result["phases"]["fit"]["error"] == "no labeled folder to import"
    assert "p99_ms" not in result["phases"]["fit"] and result["phases"]["idle"]["n"] >= 1
