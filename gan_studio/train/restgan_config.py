"""What a ReStGAN or StackGAN-baseline training run is asked to do: :class:`GanTrainConfig`.

The two variants share data, networks, losses, step budget and schedule; they differ only where the method does:

================  =====================================  ==========================================
                  ReStGAN                                StackGAN baseline
================  =====================================  ==========================================
text encoder      LSTM, one state per title prefix       mean of word embeddings of the whole title
color words       color-table cluster features           ordinary word embeddings
trained on        random prefixes of every title         whole titles
auxiliary heads   type, color, gender on D (and G loss)  none
================  =====================================  ==========================================
"""

from __future__ import annotations

from dataclasses import dataclass

VARIANTS = ("restgan", "stackgan")


@dataclass(frozen=True)
class GanTrainConfig:
    variant: str = "restgan"
    stage1_steps: int = 3000
    stage2_steps: int = 1500
    batch: int = 32
    lr_g: float = 2e-4
    lr_d: float = 4e-4  # two time-scale update rule
    beta1: float = 0.0
    beta2: float = 0.9
    kl_weight: float = 0.05  # 1.0 collapsed c to the prior within 300 steps (text ignored)
    aux_weight: float = 1.0  # the generator's auxiliary term (what the prefix states)
    # The discriminators' (and text heads') auxiliary term on real labels. Measured on the 128 px run after 3000
    # steps at 1.0: D1's heads read gender right on 44% of held-out real items and type on 56%, so the
    # generator's auxiliary gradient carried little of either.
    aux_d_weight: float = 1.0
    mismatch_weight: float = 1.0
    # Layout term (0: off): L1 between the drawing and the row's own real image, both area-downsampled to
    # ``layout_size`` px, on rows conditioned on the whole title (a prefix leaves the unstated open). A direct
    # gradient for the coarse silhouette the title fixes (the cut that tells gender, the type's shape), which the
    # discriminators' auxiliary heads were slow to learn (D1 read gender right on 58% of real items at weight 4).
    layout_weight: float = 0.0
    layout_size: int = 32
    full_title_p: float = 0.4  # ReStGAN: share of samples on whole titles; the rest on a uniform prefix
    ema: float = 0.999
    # Stage II's input: "adversarial" = the frozen stage I's drawing (StackGAN's original); "paired" = the real
    # image area-downsampled to the stage-I size, with a reconstruction (L1) and a feature-matching term on top of
    # the adversarial ones. docs/benchmarks/stage2_ablation.md: at 150 steps on the same stage I, adversarial drew
    # with the lower FID (792 vs 905) and paired reconstructed real items better (31.3 vs 26.0 dB).
    # "mixed": ``paired_share`` of each batch's rows as in "paired" (reconstruction, no feature matching), the rest as
    # in "adversarial" — the real rows teach the 128 px detail that tells a type (denim stitching, cargo flap
    # pockets), the drawn rows keep stage II fitted to what stage I actually draws.
    stage2_mode: str = "adversarial"
    paired_share: float = 0.5
    rec_weight: float = 10.0
    fm_weight: float = 1.0
    # Wall-clock budget of each stage in seconds (0: none): the stage ends at the first logged step past it, so a
    # run on a lent machine fits its lease; the steps actually done are what the manifest reports.
    stage1_seconds: float = 0.0
    stage2_seconds: float = 0.0
    seed: int = 0
    items: int = 20000
    sample_every: int = 250
    checkpoint_every: int = 100
    log_every: int = 10
    # NHWC activations on the "sle" backbone, on the CPU: measured at batch 32, 2 threads, this CPU, stage I 1.56 -> 1.29 s/step
    # and stage II 3.09 -> 2.11 s/step (/tmp profile of train_step, same weights and batches).
    channels_last: bool = True

    @classmethod
    def tiny(cls, variant: str = "restgan") -> GanTrainConfig:
        return cls(variant=variant, stage1_steps=3, stage2_steps=2, batch=4, items=24, sample_every=2,
                   checkpoint_every=2, log_every=1)  # fmt: skip
