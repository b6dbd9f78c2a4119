"""Title encoders: word ids -> one condition vector per title prefix.

:class:`Vocabulary` maps words to ids (0 is padding, unknown words get no id and are skipped by the encoders,
so a typo leaves the image where it was). Two encoders share one interface:

- :class:`RecurrentTextEncoder` (ReStGAN): word embeddings in which color words are replaced by features of their
  color-table cluster, fed to an LSTM; the hidden state after word k is the condition for the prefix of k words,
  and a learned initial state is the condition of the empty title. Appending a word is one LSTM step on the cached
  state (:meth:`advance`).
- :class:`BagTextEncoder` (the StackGAN baseline): the mean of ordinary word embeddings of the whole title, no
  recurrence and no color table.

State for incremental use is an opaque tuple of tensors; :meth:`output` turns it into the condition (1, H).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from gan_studio.data.title_words import MAX_WORDS, split_words


class Vocabulary:
    """Known words in a fixed order; id = position + 1 (0 is padding)."""

    def __init__(self, words: Iterable[str]):
        self.words = tuple(dict.fromkeys(words))
        self._ids = {w: i + 1 for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words) + 1

    def __contains__(self, word: str) -> bool:
        return word in self._ids

    def id(self, word: str) -> int | None:
        return self._ids.get(word)

    def encode(self, words: Iterable[str]) -> list[int]:
        """Ids of the known words, unknown ones skipped, at most :data:`MAX_WORDS`."""
        return [i for w in words if (i := self._ids.get(w)) is not None][:MAX_WORDS]

    def encode_title(self, title: str) -> list[int]:
        return self.encode(w.text for w in split_words(title))

    @classmethod
    def from_titles(cls, titles: Iterable[str], extra: Iterable[str] = (), min_count: int = 2) -> Vocabulary:
        """Words seen at least ``min_count`` times, most frequent first, then ``extra`` (e.g. all color words)."""
        counts = Counter(w.text for t in titles for w in split_words(t))
        kept = [w for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_count]
        return cls([*kept, *extra])


@dataclass(frozen=True)
class TextConfig:
    kind: str  # "recurrent" (ReStGAN) or "bag" (StackGAN baseline)
    vocab_size: int
    embed_dim: int = 64
    hidden_dim: int = 128
    n_color_features: int = 0  # cluster one-hot + LAB / 100 per color cluster (recurrent only)

    @classmethod
    def from_dict(cls, d: dict) -> TextConfig:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def to_dict(self) -> dict:
        return asdict(self)


def color_features(cluster_labs: list[tuple[float, float, float]]) -> torch.Tensor:
    """(n_clusters, n_clusters + 3): one-hot cluster index and the cluster's LAB centroid scaled by 1/100."""
    n = len(cluster_labs)
    return torch.cat([torch.eye(n), torch.tensor(cluster_labs, dtype=torch.float32) / 100.0], dim=1)


class RecurrentTextEncoder(nn.Module):
    def __init__(self, config: TextConfig):
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.Embedding(c.vocab_size, c.embed_dim, padding_idx=0)
        # word id -> color cluster (-1 for non-color words) and each cluster's features; filled by set_colors.
        self.register_buffer("word_cluster", torch.full((c.vocab_size,), -1, dtype=torch.long))
        self.register_buffer(
            "cluster_features", torch.zeros(max(c.n_color_features - 3, 1), c.n_color_features)
        )
        self.color_proj = nn.Linear(max(c.n_color_features, 1), c.embed_dim)
        self.lstm = nn.LSTMCell(c.embed_dim, c.hidden_dim)
        self.h0 = nn.Parameter(torch.zeros(1, c.hidden_dim))
        self.c0 = nn.Parameter(torch.zeros(1, c.hidden_dim))

    def set_colors(self, word_cluster: torch.Tensor, cluster_features: torch.Tensor) -> None:
        self.word_cluster.copy_(word_cluster)
        self.cluster_features.copy_(cluster_features)

    def word_vectors(self, ids: torch.Tensor) -> torch.Tensor:
        """(...,) ids -> (..., E): ordinary embeddings, color words through their cluster's features."""
        cluster = self.word_cluster[ids]
        vec = self.embed(ids)
        if self.config.n_color_features:
            colored = self.color_proj(self.cluster_features[cluster.clamp(min=0)])
            vec = torch.where((cluster >= 0)[..., None], colored, vec)
        return vec

    def initial_state(self, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        return self.h0.expand(batch, -1), self.c0.expand(batch, -1)

    def advance(self, state: tuple[torch.Tensor, ...], ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """One word per row: (B,) ids -> the state after it."""
        h, c = self.lstm(self.word_vectors(ids), state)
        return h, c

    @staticmethod
    def output(state: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return state[0]

    def prefix_conditions(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) padded ids -> (B, T + 1, H): the condition after 0, 1, ..., T words.

        Rows shorter than T keep their last state over the padding, so column ``len`` is the whole title. Padding
        is trailing (ids are packed left), so the whole sequence runs as one fused LSTM call with the cell's own
        weights (the same gates and order as :meth:`advance`; one kernel per layer on a GPU instead of T Python
        steps), and columns past a row's length repeat its column ``len``.
        """
        b, t = ids.shape
        h0, c0 = self.initial_state(b)
        if t == 0:
            return h0[:, None]
        cell = self.lstm
        weights = [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
        hs, _, _ = torch.lstm(
            self.word_vectors(ids), (h0[None].contiguous(), c0[None].contiguous()), weights,
            True, 1, 0.0, self.training, False, True,
        )  # fmt: skip
        outs = torch.cat([h0[:, None], hs], dim=1)  # (B, T + 1, H)
        lengths = (ids != 0).sum(dim=1)
        # Every caller packs words left (Vocabulary.encode skips unknown words). A row with a zero inside (a gap)
        # is drawn word by word, keeping the state over the gap; checked on the CPU only, where reading the check
        # back costs no device synchronization.
        if ids.device.type == "cpu" and not bool((lengths == (ids != 0).cumprod(dim=1).sum(dim=1)).all()):
            return self._prefix_conditions_stepwise(ids)
        column = torch.minimum(torch.arange(t + 1, device=ids.device)[None], lengths[:, None])
        return outs.gather(1, column[..., None].expand(-1, -1, outs.shape[2]))

    def _prefix_conditions_stepwise(self, ids: torch.Tensor) -> torch.Tensor:
        b, t = ids.shape
        state = self.initial_state(b)
        outs = [self.output(state)]
        for k in range(t):
            new = self.advance(state, ids[:, k])
            keep = (ids[:, k] == 0)[:, None]
            state = tuple(torch.where(keep, old, nw) for old, nw in zip(state, new, strict=True))
            outs.append(self.output(state))
        return torch.stack(outs, dim=1)


class BagTextEncoder(nn.Module):
    """Mean of ordinary word embeddings of the title (the StackGAN baseline's condition)."""

    def __init__(self, config: TextConfig):
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.Embedding(c.vocab_size, c.embed_dim, padding_idx=0)
        self.proj = nn.Sequential(nn.Linear(c.embed_dim, c.hidden_dim), nn.LeakyReLU(0.2))
        self.empty = nn.Parameter(torch.zeros(1, c.hidden_dim))

    def initial_state(self, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros(batch, self.config.embed_dim), torch.zeros(batch, 1)

    def advance(self, state: tuple[torch.Tensor, ...], ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
        total, count = state
        return total + self.embed(ids), count + (ids != 0).float()[:, None]

    def output(self, state: tuple[torch.Tensor, ...]) -> torch.Tensor:
        total, count = state
        cond = self.proj(total / count.clamp(min=1.0))
        return torch.where(count > 0, cond, self.empty.expand_as(cond))

    def prefix_conditions(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) padded ids -> (B, T + 1, H), each column the bag of the words up to it."""
        vec = self.embed(ids)  # padding embeds to zero
        b = ids.shape[0]
        total = torch.cat([vec.new_zeros(b, 1, vec.shape[2]), vec.cumsum(dim=1)], dim=1)
        count = torch.cat([ids.new_zeros(b, 1), (ids != 0).long().cumsum(dim=1)], dim=1)
        count = count.float()[..., None]
        cond = self.proj(total / count.clamp(min=1.0))
        return torch.where(count > 0, cond, self.empty[None].expand_as(cond))


def build_text_encoder(config: TextConfig) -> nn.Module:
    if config.kind == "recurrent":
        return RecurrentTextEncoder(config)
    if config.kind == "bag":
        return BagTextEncoder(config)
    raise ValueError(f"unknown text encoder kind {config.kind!r}")
