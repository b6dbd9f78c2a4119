"""HandsOff's label generator: per-pixel heads on a generator's hypercolumns, trained from a few labeled latents.

Import its public names from here; they live in three modules, one concern each:
:mod:`~gan_studio.methods.label_generator_config` (how one is built and trained),
:mod:`~gan_studio.methods.label_generator_model` (the torch module, its manifest and its predictions) and
:mod:`~gan_studio.methods.label_generator_fitting` (training it on streamed hypercolumns).
"""

from __future__ import annotations

from gan_studio.methods.label_generator_config import HEADS, TASKS, LabelGeneratorConfig
from gan_studio.methods.label_generator_fitting import LossCallback, Progress, fit_label_generator
from gan_studio.methods.label_generator_model import (
    ARCHITECTURE,
    PREDICT_ROWS,
    WEIGHTS_NAME,
    LabelGenerator,
    image_uncertainties,
)

__all__ = [
    "ARCHITECTURE",
    "HEADS",
    "PREDICT_ROWS",
    "TASKS",
    "WEIGHTS_NAME",
    "LabelGenerator",
    "LabelGeneratorConfig",
    "LossCallback",
    "Progress",
    "fit_label_generator",
    "image_uncertainties",
]
