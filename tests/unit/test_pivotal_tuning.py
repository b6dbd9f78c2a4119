"""Pivotal tuning: a copy of the generator learns to draw the image at its pivot; the original never changes."""

import torch

from gan_studio.methods.pivotal_tuning import PivotalTuningConfig, pivotal_tune
from gan_studio.methods.restgan import TitleGenerator
from gan_studio.models.classifier import AttributeClassifier, ClassifierConfig
from gan_studio.models.perceptual import PerceptualDistance
from tests.tiny_models import tiny_text_to_image


def test_tuning_draws_the_target_closer_and_leaves_the_original_alone():
    torch.manual_seed(0)
    generator = TitleGenerator(tiny_text_to_image()).catalog_protocol(
        ["men's blue jeans", "women's black pants"]
    )
    perceptual = PerceptualDistance(AttributeClassifier(ClassifierConfig(in_size=32, width=4)))
    pivot = generator.sample_latent(1, seed=1)
    with torch.no_grad():  # a target the generator cannot draw at the pivot: its image, shifted and darkened
        target = (torch.roll(generator.synthesize(pivot), shifts=3, dims=-1) * 0.7 - 0.2).clamp(-1, 1)
    before = {k: v.clone() for k, v in generator.model.state_dict().items()}
    result = pivotal_tune(generator, pivot, target, perceptual, PivotalTuningConfig(steps=25, lr=3e-3))
    assert result.psnr_after > result.psnr_before + 1.0
    assert result.perceptual_after <= result.perceptual_before
    assert result.steps_kept > 0 and result.generator is not generator
    for k, v in generator.model.state_dict().items():
        assert torch.equal(v, before[k]), k
    # Away from the pivot the tuned copy still draws nearly what the original draws.
    other = generator.sample_latent(4, seed=99)
    with torch.no_grad():
        drift = (result.generator.synthesize(other) - generator.synthesize(other)).pow(2).mean()
        moved = (result.generator.synthesize(pivot) - generator.synthesize(pivot)).pow(2).mean()
    assert drift < moved
