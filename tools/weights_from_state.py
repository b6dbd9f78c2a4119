"""The averaged (shipped) generator of a training run still in progress, from its resumable state, as a model file
that `gan-studio bench restgan --restgan/--stackgan` and `generate --model` read.

    .venv/bin/python tools/weights_from_state.py RUN/train_state.safetensors OUT.safetensors

The generator parts are the EMA copies (conditioning augmentation, stage I, stage II) and the live text encoder,
as `Trainer.shipped_model` gives at the end of a run. The manifest says it was taken from an unfinished state.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gan_studio.models.checkpoint import file_sha256, load_checkpoint, save_checkpoint
from gan_studio.models.text_to_image import build_text_to_image


def main(state_path: str, out: str) -> None:
    state, manifest = load_checkpoint(state_path)
    arch = manifest["architecture"].removesuffix("-training-state")
    model = build_text_to_image(manifest["config"]["model"])
    live = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
    for part in ("ca", "stage1", "stage2"):
        prefix = f"ema_{part}."
        live.update({f"{part}.{k[len(prefix):]}": v for k, v in state.items() if k.startswith(prefix)})
    model.load_state_dict(live)
    extra = manifest["extra"]
    save_checkpoint(
        model.state_dict(),
        out,
        architecture=arch,
        config=model.config_dict(),
        training={"from_state": str(state_path), "sha256": file_sha256(state_path), "stage": extra["stage"],
                  "step": extra["step"], "wall_time_s": extra["wall_time_s"], "config": manifest["config"]["train"]},  # fmt: skip
    )
    print(f"wrote {out} ({arch}, stage {extra['stage']} step {extra['step']})")


if __name__ == "__main__":
    main(*sys.argv[1:3])
