"""Incremental text-to-image generation (ReStGAN) on a trained :class:`TextToImage`, Qt-free.

- :class:`TitleGenerator` reads a title (known / unknown / color words, never raising on odd input), draws the
  image of every word prefix for a seed, and adapts the model to the generator protocol of ``DESIGN.md``
  (:meth:`TitleGenerator.protocol`).
- :class:`IncrementalSession` keeps the encoder state and image of every prefix it has drawn, so appending a word
  costs one LSTM step and one generator pass instead of re-reading the title.

The same seed gives the same noise (z and the conditioning-augmentation eps) for every prefix: words change the
condition, not the noise, so the garment keeps what it already showed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gan_studio.data.title_words import MAX_WORDS, split_words, word_statement
from gan_studio.models.text_to_image import TextToImage, load_text_to_image, to_uint8
from gan_studio.resources import resource_path


def default_model_path(architecture: str = "restgan") -> Path:
    return resource_path(architecture, f"{architecture}.safetensors")


@dataclass(frozen=True)
class TitleWord:
    text: str  # lower-cased word
    start: int  # character span in the title as typed
    end: int
    known: bool  # in the model's vocabulary (unknown words are skipped, and shown as such)
    color_cluster: int | None = None  # color-table cluster of a color word
    states: tuple[str, str] | None = None  # (attribute, value) this word states, e.g. ("type", "jeans")


@dataclass(frozen=True)
class ParsedTitle:
    title: str
    words: tuple[TitleWord, ...]
    truncated: bool  # more than MAX_WORDS known words; the rest were ignored

    @property
    def known_words(self) -> list[str]:
        return [w.text for w in self.words if w.known][:MAX_WORDS]

    @property
    def unknown_words(self) -> list[str]:
        return [w.text for w in self.words if not w.known]

    @property
    def message(self) -> str:
        """One sentence for the status line about what was ignored, or "" when every word was used."""
        parts = []
        if not self.title.strip():
            return "Empty title: this is the garment the model draws before any word."
        if not self.known_words:
            return (
                "No word of this title is known to the model; showing the garment it draws before any word."
            )
        if self.unknown_words:
            shown = ", ".join(dict.fromkeys(self.unknown_words[:5]))
            more = len(set(self.unknown_words)) - len(set(self.unknown_words[:5]))
            parts.append(f"Ignored unknown word{'s' if len(self.unknown_words) > 1 else ''}: {shown}")
            if more > 0:
                parts[-1] += f" and {more} more"
        if self.truncated:
            parts.append(f"only the first {MAX_WORDS} known words are used")
        return "; ".join(parts) + ("." if parts else "")


@dataclass
class Generation:
    """The images of every known-word prefix of a title for one seed."""

    parsed: ParsedTitle
    seed: int
    prefixes: list[str]  # prefixes[k] = the first k known words joined (prefixes[0] == "")
    images: list[np.ndarray]  # (S, S, 3) uint8 per prefix
    computed: int = 0  # images drawn for this call (the rest came from the cache)
    stats: dict = field(default_factory=dict)

    @property
    def image(self) -> np.ndarray:
        return self.images[-1]


def parse_title(title: object, known: Container[str], color_words: Mapping[str, int]) -> ParsedTitle:
    """Read ``title`` against a vocabulary: each word's span, whether it is known, its color cluster and what it
    states. Never raises: a non-string counts as an empty title."""
    text = title if isinstance(title, str) else ""
    words = split_words(text)
    texts = [w.text for w in words]
    out = [
        TitleWord(w.text, w.start, w.end, w.text in known, color_words.get(w.text), word_statement(texts, i))
        for i, w in enumerate(words)
    ]
    return ParsedTitle(text, tuple(out), truncated=sum(w.known for w in out) > MAX_WORDS)


# Scale of the conditioning-augmentation noise at inference (1.0 = as in training). Training keeps the KL-regularized
# noise near unit size, which blurs the title's condition; drawing closer to its mean makes the words count more
# while z still varies the garment. Chosen on validation titles (catalog seed 7, 300 titles; neither training nor the
# benchmark's held-out seed): attribute accuracy at 0 / 0.25 / 0.5 / 1.0 was type .44/.42/.42/.37, gender
# .94/.94/.93/.86, color .65/.65/.62/.50 for ReStGAN and type .31/.32/.31/.27, gender .53/.55/.50/.47, color
# .10/.10/.10/.07 for StackGAN; 0.25 is within two points of the best for both and keeps some variety per seed.
DEFAULT_CONDITION_NOISE = 0.25


class TitleGenerator:
    def __init__(self, model: TextToImage, name: str | None = None, condition_noise: float | None = None):
        self.model = model.eval()
        self.name = name or model.architecture
        self.condition_noise = DEFAULT_CONDITION_NOISE if condition_noise is None else float(condition_noise)
        self.device = next(model.parameters()).device
        if self.device.type == "cpu":
            # oneDNN's convolutions run in NHWC without the layout copies around every upsample and skip:
            # one 128 px image 14.3 vs 17.7 ms, a REDS fast waypoint 0.42 vs 0.60 s at one thread (measured on
            # the shipped weights). Checkpoints are still written contiguous (save_checkpoint).
            self.model.to(memory_format=torch.channels_last)

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        architecture: str = "restgan",
        device: str | None = None,
        condition_noise: float | None = None,
    ) -> TitleGenerator:
        path = Path(path) if path is not None else default_model_path(architecture)
        model = load_text_to_image(path, architecture, device=device or "cpu")
        return cls(model, name=architecture, condition_noise=condition_noise)

    @property
    def image_size(self) -> int:
        return self.model.image_size

    # ---- reading a title ------------------------------------------------------------------------------------
    def parse(self, title: object) -> ParsedTitle:
        return parse_title(title, self.model.vocab, self.model.color_words)

    def word_ids(self, parsed: ParsedTitle) -> list[int]:
        return self.model.vocab.encode(parsed.known_words)

    # ---- noise ---------------------------------------------------------------------------------------------
    def noise(self, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """z (1, z_dim) and eps (1, cond_dim) for ``seed`` (independent of the title; eps scaled by
        :attr:`condition_noise`)."""
        gen = torch.Generator().manual_seed(int(seed) % (2**63))
        cfg = self.model.gan_config
        z = torch.randn(1, cfg.z_dim, generator=gen)
        eps = torch.randn(1, cfg.cond_dim, generator=gen) * self.condition_noise
        return z.to(self.device), eps.to(self.device)

    @torch.no_grad()
    def draw(self, h: torch.Tensor, seed: int) -> np.ndarray:
        """Conditions (B, H) -> images (B, S, S, 3) uint8 with the noise of ``seed``."""
        z, eps = self.noise(seed)
        c, _, _ = self.model.ca(h, eps.expand(len(h), -1))
        return to_uint8(self.model.synthesize(z.expand(len(h), -1), c))

    # ---- whole titles --------------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, title: object, seed: int = 0) -> Generation:
        """Every prefix recomputed from scratch (the reference the incremental session is measured against)."""
        parsed = self.parse(title)
        ids = torch.tensor([self.word_ids(parsed)], dtype=torch.long, device=self.device).reshape(1, -1)
        h = self.model.encoder.prefix_conditions(ids)[0]
        images = self.draw(h, seed)
        words = parsed.known_words
        prefixes = [" ".join(words[:k]) for k in range(len(words) + 1)]
        return Generation(parsed, seed, prefixes, list(images), computed=len(images))

    # ---- the generator protocol (DESIGN.md) ----------------------------------------------------------------
    def protocol(self, title: str = "") -> ConditionedGenerator:
        return ConditionedGenerator(self, title)

    def catalog_protocol(self, titles: Sequence[str] | None = None) -> CatalogConditionedGenerator:
        """The generator protocol over many titles (HandsOff): each sampled latent gets a random title."""
        return CatalogConditionedGenerator(self, titles)


class ConditionedGenerator:
    """The generator protocol for one title: latent = [z, c]; with the title fixed, REDS moves z (and may move c).

    ``sample_latent(n, seed)`` draws z and the conditioning-augmentation noise from ``seed``; ``synthesize``
    is differentiable and batched and returns images in [-1, 1], with ``features=True`` also every block's map.
    """

    def __init__(self, generator: TitleGenerator, title: str = ""):
        self.generator = generator
        self.model = generator.model
        self.title = title
        parsed = generator.parse(title)
        ids = torch.tensor([generator.word_ids(parsed)], dtype=torch.long, device=generator.device).reshape(
            1, -1
        )
        with torch.no_grad():
            self._h = self.model.encoder.prefix_conditions(ids)[0, -1:]
        self.z_dim = self.model.gan_config.z_dim
        self.latent_dim = self.model.latent_dim
        # REDS moves z only: the title's condition c stays where the title put it.
        self.traversal_dims = self.z_dim
        self.image_size = self.model.image_size

    @torch.no_grad()
    def sample_latent(self, n: int, seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(int(seed))
        cfg = self.model.gan_config
        z = torch.randn(n, cfg.z_dim, generator=gen).to(self._h.device)
        eps = torch.randn(n, cfg.cond_dim, generator=gen).to(self._h.device) * self.generator.condition_noise
        c, _, _ = self.model.ca(self._h.expand(n, -1), eps)
        return torch.cat([z, c], dim=1)

    def synthesize(self, latent: torch.Tensor, features: bool = False):
        z, c = latent[:, : self.z_dim], latent[:, self.z_dim :]
        return self.model.synthesize(z, c, features=features)

    def first_layer_weight(self) -> torch.Tensor:
        """The first layer's effective weight on [z, c] (out, latent_dim), its batch norm folded in (for SeFa)."""
        stage1 = self.model.stage1
        norm = stage1.fc_norm
        scale = torch.rsqrt(norm.running_var + norm.eps)
        if norm.weight is not None:
            scale = scale * norm.weight
        return stage1.fc.weight * scale[:, None]


DEFAULT_TITLE_SOURCE = (
    0,
    0,
    2000,
)  # built-in catalog seed, first index, count: the generator's training titles


class CatalogConditionedGenerator(ConditionedGenerator):
    """The generator protocol with the title drawn at random per latent from ``titles`` (by default the first
    2000 titles of the built-in training catalog), so sampled latents cover the catalog: HandsOff's source.

    latent = [z, c] as for one title; ``synthesize`` is the same, so an inverted latent needs no title.
    """

    def __init__(self, generator: TitleGenerator, titles: Sequence[str] | None = None):
        super().__init__(generator, "")
        if titles is None:
            from gan_studio.data.catalog import title_of

            seed, start, n = DEFAULT_TITLE_SOURCE
            titles = [title_of(seed, i) for i in range(start, start + n)]
        if not titles:
            raise ValueError("a catalog-conditioned generator needs at least one title")
        self.titles = list(titles)
        self.traversal_dims = self.latent_dim  # no single title to hold: everything may move
        self._states: dict[str, torch.Tensor] = {}

    def _state(self, title: str) -> torch.Tensor:
        if title not in self._states:
            parsed = self.generator.parse(title)
            ids = torch.tensor(
                [self.generator.word_ids(parsed)], dtype=torch.long, device=self.generator.device
            )
            with torch.no_grad():
                self._states[title] = self.model.encoder.prefix_conditions(ids.reshape(1, -1))[0, -1]
        return self._states[title]

    @torch.no_grad()
    def sample_latent(self, n: int, seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(int(seed))
        cfg = self.model.gan_config
        picks = torch.randint(len(self.titles), (n,), generator=gen).tolist()
        z = torch.randn(n, cfg.z_dim, generator=gen).to(self._h.device)
        eps = torch.randn(n, cfg.cond_dim, generator=gen).to(self._h.device) * self.generator.condition_noise
        h = torch.stack([self._state(self.titles[i]) for i in picks])
        c, _, _ = self.model.ca(h, eps)
        return torch.cat([z, c], dim=1)

    def sampled_titles(self, n: int, seed: int) -> list[str]:
        """The titles :meth:`sample_latent` picks for (n, seed)."""
        gen = torch.Generator().manual_seed(int(seed))
        return [self.titles[i] for i in torch.randint(len(self.titles), (n,), generator=gen).tolist()]


class IncrementalSession:
    """Per-prefix cache of encoder states and images: typing one more word costs one LSTM step and one image.

    Keys are (seed, word ids of the prefix); the cache keeps the ``capacity`` most recently used prefixes.
    Entries are compact numpy copies, never torch tensors or views of a drawn batch: a thousand small tensors
    kept among the generator's freed activations pinned about five times their size in the heap (``bench soak``).
    """

    def __init__(self, generator: TitleGenerator, capacity: int = 1024):
        self.generator = generator
        self.capacity = capacity
        self._cache: OrderedDict[tuple, tuple[tuple[np.ndarray, ...], np.ndarray]] = OrderedDict()

    def clear(self) -> None:
        self._cache.clear()

    def nbytes(self) -> int:
        """Bytes the cached images and encoder states hold."""
        return sum(image.nbytes + sum(a.nbytes for a in states) for states, image in self._cache.values())

    def _get(self, key: tuple):
        got = self._cache.get(key)
        if got is None:
            return None
        self._cache.move_to_end(key)
        device = self.generator.device
        return tuple(torch.from_numpy(a).to(device) for a in got[0]), got[1]

    def _put(self, key: tuple, states: tuple[torch.Tensor, ...], image: np.ndarray) -> None:
        self._cache[key] = (tuple(t.detach().cpu().numpy().copy() for t in states), image)
        self._cache.move_to_end(key)
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)

    @torch.no_grad()
    def run(self, title: object, seed: int = 0) -> Generation:
        gen = self.generator
        enc = gen.model.encoder
        parsed = gen.parse(title)
        ids = gen.word_ids(parsed)
        states: list = []
        images: list[np.ndarray | None] = []
        todo: list[int] = []
        for k in range(len(ids) + 1):
            key = (int(seed), tuple(ids[:k]))
            got = self._get(key)
            if got is None:
                if k == 0:
                    state = enc.initial_state(1)
                else:
                    token = torch.tensor([ids[k - 1]], dtype=torch.long, device=gen.device)
                    state = enc.advance(states[-1], token)
                states.append(state)
                images.append(None)
                todo.append(k)
            else:
                states.append(got[0])
                images.append(got[1])
        if todo:
            h = torch.cat([enc.output(states[k]) for k in todo], dim=0)
            drawn = gen.draw(h, seed)
            for k, image in zip(todo, drawn, strict=True):
                images[k] = np.array(image, order="C", copy=True)  # its own buffer, not a view of the batch
                self._put((int(seed), tuple(ids[:k])), states[k], images[k])
        words = parsed.known_words
        prefixes = [" ".join(words[:k]) for k in range(len(words) + 1)]
        return Generation(parsed, int(seed), prefixes, images, computed=len(todo))  # type: ignore[arg-type]
