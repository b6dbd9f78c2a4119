"""Keeps the similar-items panel beside the generated image fed: the catalog index is built on the worker one batch
per request (so drawing never waits behind it, and a cancelled build resumes with the next image), then each new
image asks it for its nearest items."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from gan_studio.methods.retrieval import IndexSpec, IndexStatus, index_job, query_job
from gan_studio.qt.discovery_panel import DiscoveryPanel
from gan_studio.qt.job_client import JobClient
from gan_studio.runtime.jobs import Result

INDEX_KIND = "generate.index"
DISCOVER_KIND = "generate.discover"


class CatalogDiscovery(QObject):
    """Index ``index_count`` built-in items (or a catalog folder, :meth:`follow`) cached under ``cache_dir`` and
    show the ``matches`` nearest of each image in ``panel``; ``enabled=False`` leaves the panel idle.

    Signals (GUI thread): ``matchesShown(n)``; ``indexStatus(sentence)``; ``message(text)`` / ``warning(text)``.
    """

    matchesShown = Signal(int)
    indexStatus = Signal(str)
    message = Signal(str)
    warning = Signal(str)

    def __init__(
        self, jobs: JobClient, panel: DiscoveryPanel, *, enabled: bool = True, index_count: int = 1500,
        index_seed: int = 0, cache_dir: str | None = None, matches: int = 6, parent: QObject | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.jobs, self.panel = jobs, panel
        self.enabled = bool(enabled)
        self.index_count = int(index_count)
        self.cache_dir = cache_dir
        self.n_matches = int(matches)
        self.spec = IndexSpec("builtin", int(index_seed), self.index_count, cache_dir=self.cache_dir)
        self.state = "idle"  # idle | building | ready | failed
        self._request: int | None = None
        self._wanted: np.ndarray | None = None
        self._stopped = False
        if not self.enabled:
            panel.set_status("Discovery is off.")

    def follow(self, source) -> bool:
        """Search the catalog the Catalog workspace shows: a folder source, or the built-in catalog's seed.
        Returns whether the index to search changed (it is then built again from the next image)."""
        from gan_studio.qt.catalog_source import BuiltinSource, FolderSource

        if isinstance(source, FolderSource):
            spec = IndexSpec("folder", folder=str(source.path), cache_dir=self.cache_dir)
        elif isinstance(source, BuiltinSource):
            spec = IndexSpec("builtin", source.seed, self.index_count, cache_dir=self.cache_dir)
        else:
            return False
        if spec == self.spec:
            return False
        self.spec, self.state, self._request = spec, "idle", None
        return True

    def discover(self, image: np.ndarray) -> None:
        """Show the items nearest to ``image`` (an (H, W, 3) uint8 array), once the index is ready."""
        if not self.enabled or self._stopped:
            return
        if self.state != "ready":
            self._wanted = image
            if self.state == "idle":
                self.state = "building"
                self._set_status(f"Indexing the {self.spec.description}…")
                self._step()
            return
        spec, k = self.spec, self.n_matches
        self.jobs.submit(
            DISCOVER_KIND,
            lambda ctx: query_job(ctx, spec, image, k),
            self._on_matches,
            "Finding similar items",
        )

    def stop(self) -> None:
        """Ignore results still on their way (the window is closing)."""
        self._stopped = True

    def _step(self) -> None:
        spec = self.spec
        self._request = self.jobs.submit(
            INDEX_KIND,
            lambda ctx: index_job(ctx, spec),
            self._on_index_step,
            f"Indexing the {spec.description}",
        )

    def _on_index_step(self, result: Result) -> None:
        if self._stopped or result.request_id != self._request:
            return
        if result.cancelled:
            self.state = "idle"  # resumes where it stopped with the next image
            self._set_status("Indexing paused; it resumes with the next image.")
            return
        if not result.ok:
            self.state = "failed"
            self._set_status(f"Discovery is unavailable: {result.error}.")
            self.warning.emit(f"Discovery is unavailable: {result.error}.")
            return
        status: IndexStatus = result.value
        if status.problem:
            self.state = "failed"
            sentence = f"Discovery is unavailable: {status.problem}."
            self._set_status(sentence)
            self.warning.emit(sentence)
            return
        if not status.done:
            self._set_status(f"Indexing the {status.spec.description}: {status.count}/{status.total} items…")
            self._step()
            return
        self.state = "ready"
        self._set_status(f"Nearest of {status.total} items in the {status.spec.description}.")
        if not status.from_cache:
            self.message.emit(f"Indexed {status.total} items of the {status.spec.description} for discovery.")
        wanted, self._wanted = self._wanted, None
        if wanted is not None:
            self.discover(wanted)

    def _set_status(self, text: str) -> None:
        self.panel.set_status(text)
        self.indexStatus.emit(text)

    def _on_matches(self, result: Result) -> None:
        if self._stopped or result.cancelled:
            return
        if not result.ok:
            self._set_status(f"Could not search the catalog: {result.error}.")
            return
        if result.value is None:  # the index changed meanwhile
            return
        self.panel.set_matches(result.value)
        self.matchesShown.emit(len(result.value))
