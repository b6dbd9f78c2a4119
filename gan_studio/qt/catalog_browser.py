"""The Catalog browser workspace: a grid of catalog items with filters, and a detail view with label overlays.

Items come from the built-in catalog (the first N items of a seed) or a catalog folder. Thumbnails are rendered or
read on the worker in batches, one batch per request; each finished batch is appended to the grid and the next one
is submitted, so the grid fills in while the GUI stays responsive and a cancel stops the chain.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gan_studio.data import attributes as A
from gan_studio.data.filters import AttributeFilter, filter_indices
from gan_studio.qt.catalog_detail import DetailPanel
from gan_studio.qt.catalog_source import (
    BuiltinSource,
    Detail,
    FolderSource,
    OpenFailed,
    Thumb,
    load_detail,
    load_thumbs,
    open_folder_job,
)
from gan_studio.qt.imageutil import to_qpixmap
from gan_studio.qt.job_client import JobClient
from gan_studio.runtime.jobs import Result

THUMBS_KIND = "catalog.thumbnails"
DETAIL_KIND = "catalog.detail"
OPEN_KIND = "catalog.open"
INDEX_ROLE = Qt.ItemDataRole.UserRole + 1


class CatalogModel(QAbstractListModel):
    """The loaded items (in source order) and which of them pass the filter (the model's rows)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._thumbs: list[Thumb] = []
        self._pixmaps: list[QPixmap] = []
        self._visible: list[int] = []
        self._filter = AttributeFilter()

    # Qt model interface ------------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._visible)

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._visible):
            return None
        i = self._visible[index.row()]
        thumb = self._thumbs[i]
        if role == Qt.ItemDataRole.DisplayRole:
            return thumb.title or thumb.id
        if role == Qt.ItemDataRole.DecorationRole:
            return self._pixmaps[i]
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(thumb)
        if role == INDEX_ROLE:
            return thumb.index
        return None

    # the browser's interface ---------------------------------------------------------------------------

    @property
    def loaded(self) -> int:
        return len(self._thumbs)

    @property
    def filter(self) -> AttributeFilter:
        return self._filter

    def thumb(self, row: int) -> Thumb:
        return self._thumbs[self._visible[row]]

    def visible_thumbs(self) -> list[Thumb]:
        return [self._thumbs[i] for i in self._visible]

    def row_of(self, source_index: int) -> int | None:
        """The row showing item ``source_index``, or None if it is filtered out or not loaded."""
        # thumbs arrive in source order, so position == source index
        try:
            return self._visible.index(source_index)
        except ValueError:
            return None

    def clear(self) -> None:
        self.beginResetModel()
        self._thumbs, self._pixmaps, self._visible = [], [], []
        self.endResetModel()

    def append(self, thumbs: Sequence[Thumb]) -> None:
        start = len(self._thumbs)
        self._thumbs.extend(thumbs)
        self._pixmaps.extend(to_qpixmap(t.image) for t in thumbs)
        new = filter_indices([t.title for t in thumbs], [t.attributes for t in thumbs], self._filter, start)
        if new:
            first = len(self._visible)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._visible.extend(new)
            self.endInsertRows()

    def set_filter(self, flt: AttributeFilter) -> None:
        self.beginResetModel()
        self._filter = flt
        thumbs = self._thumbs
        self._visible = filter_indices([t.title for t in thumbs], [t.attributes for t in thumbs], flt)
        self.endResetModel()


def _tooltip(thumb: Thumb) -> str:
    lines = [f"<b>{html.escape(thumb.title)}</b>", html.escape(thumb.id)]
    a = thumb.attributes
    if a is not None:
        lines.append(html.escape(f"{a.type} · {a.gender} · {a.color} · {a.length} · {a.fit}"))
        if a.details:
            lines.append(html.escape(", ".join(a.details)))
    return "<br>".join(lines)


def _compact(widget: QWidget, width: int = 64) -> None:
    # An explicit minimum lets narrow windows squeeze the filter row below the widgets' size hints instead of
    # raising the whole window's minimum width; with room to spare they still get their full size.
    widget.setMinimumWidth(width)


def _chip_icon(rgb) -> QIcon:
    pix = QPixmap(14, 14)
    pix.fill(QColor(*rgb))
    return QIcon(pix)


class ThumbnailGrid(QListView):
    """An icon-mode list whose cells widen to share the row evenly, so no ragged gap is left on the right."""

    def __init__(self, thumb_size: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cell = QSize(thumb_size + 40, thumb_size + 44)  # the smallest cell: icon plus two lines of title
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setWordWrap(True)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setIconSize(QSize(thumb_size, thumb_size))
        self.setGridSize(self.cell)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMinimumWidth(self.cell.width() + 40)

    def resizeEvent(self, event) -> None:
        width = self.viewport().width() - 2
        columns = max(1, width // self.cell.width())
        grid = QSize(max(self.cell.width(), width // columns), self.cell.height())
        if grid != self.gridSize():
            self.setGridSize(grid)
        super().resizeEvent(event)


class CatalogBrowser(QWidget):
    """Grid of catalog items, filters, and the detail panel.

    Signals (all on the GUI thread):
    ``sourceOpened(description)`` when a source starts loading; ``batchLoaded(n_loaded)`` per batch of thumbnails;
    ``loadingFinished(n_items)`` when every thumbnail arrived; ``loadingStopped(n_loaded)`` when loading was
    cancelled; ``detailShown(source_index)``; ``filtersApplied(n_visible)``; ``colorFilterChanged(cluster index,
    -1 for any)``; ``openFolderRequested()`` when the user asks for a folder dialog; ``message(text)`` and
    ``warning(text)`` for the log; ``errorOccurred(sentence)`` for problems the user must see.
    """

    sourceOpened = Signal(str)
    batchLoaded = Signal(int)
    loadingFinished = Signal(int)
    loadingStopped = Signal(int)
    detailShown = Signal(int)
    filtersApplied = Signal(int)
    colorFilterChanged = Signal(int)
    openFolderRequested = Signal()
    message = Signal(str)
    warning = Signal(str)
    errorOccurred = Signal(str)

    BATCH = 32

    def __init__(
        self,
        bridge,
        clusters: Sequence = (),
        *,
        builtin_count: int = 512,
        thumb_size: int = 96,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.jobs = JobClient(bridge, self)
        self.builtin_count = int(builtin_count)
        self.thumb_size = int(thumb_size)
        self.source: BuiltinSource | FolderSource | None = None
        self._clusters = list(clusters)
        self._generation = 0  # bumps with every new source; results of older sources are dropped
        self._loading = False
        self._detail_wanted: int | None = None
        self.last_folder = ""

        # --- source row
        self.source_label = QLabel("No catalog open")
        self.source_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setPrefix("seed ")
        self.seed_spin.setToolTip("Built-in catalog seed: items are deterministic per (seed, index)")
        _compact(self.seed_spin, 80)
        self._seed_timer = QTimer(self, singleShot=True, interval=350)
        self._seed_timer.timeout.connect(lambda: self.open_builtin(self.seed_spin.value()))
        self.seed_spin.valueChanged.connect(lambda _v: self._seed_timer.start())
        self.open_button = QPushButton("Open folder…")
        self.open_button.setToolTip(
            "Open a catalog folder (Ctrl+O); you can also drop a folder on the window"
        )
        self.open_button.clicked.connect(lambda: self.openFolderRequested.emit())
        _compact(self.open_button, 60)
        self.builtin_button = QPushButton("Built-in catalog")
        self.builtin_button.setToolTip(f"Show the first {self.builtin_count} items of the built-in catalog")
        _compact(self.builtin_button, 60)
        self.builtin_button.clicked.connect(lambda: self.open_builtin(self.seed_spin.value()))
        self.count_label = QLabel("")
        source_row = QHBoxLayout()
        source_row.addWidget(self.source_label, 1)
        source_row.addWidget(self.count_label)
        source_row.addSpacing(12)
        source_row.addWidget(self.open_button)
        source_row.addWidget(self.builtin_button)
        source_row.addWidget(self.seed_spin)

        # --- filter row
        self.combos: dict[str, QComboBox] = {}
        filter_row = QHBoxLayout()
        for key, values in (("type", A.TYPES), ("gender", A.GENDERS)):
            filter_row.addWidget(self._make_combo(key, values))
        filter_row.addWidget(self._make_color_combo())
        for key, values in (("length", A.LENGTHS), ("fit", A.FITS)):
            filter_row.addWidget(self._make_combo(key, values))
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search titles…")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self, singleShot=True, interval=200)
        self._search_timer.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        filter_row.addWidget(self.search, 1)
        clear = QPushButton("Clear filters")
        _compact(clear, 60)
        clear.clicked.connect(self.clear_filters)
        filter_row.addWidget(clear)

        # --- grid and detail
        self.model = CatalogModel(self)
        self.view = ThumbnailGrid(self.thumb_size)
        self.view.setModel(self.model)
        self.view.selectionModel().currentChanged.connect(self._on_current_changed)

        self.detail = DetailPanel()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([640, 420])  # room for four or five columns of thumbnails

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(source_row)
        layout.addLayout(filter_row)
        layout.addWidget(self.splitter, 1)

    # ------------------------------------------------------------------------------------------------ widgets

    def _make_combo(self, key: str, values: Sequence[str]) -> QComboBox:
        combo = QComboBox()
        combo.setObjectName(f"filter_{key}")
        combo.setToolTip(f"Show only items of this {key}")
        _compact(combo)
        combo.addItem(f"Any {key}", None)
        for v in values:
            combo.addItem(v, v)
        combo.currentIndexChanged.connect(lambda _i: self.apply_filters())
        self.combos[key] = combo
        return combo

    def _make_color_combo(self) -> QComboBox:
        combo = QComboBox()
        combo.setObjectName("filter_color")
        combo.setToolTip("Show only items whose color word belongs to this color-table cluster")
        _compact(combo)
        combo.addItem("Any color", None)
        for cluster in self._clusters:
            combo.addItem(_chip_icon(tuple(cluster.rgb)), cluster.name, int(cluster.index))
        combo.currentIndexChanged.connect(self._on_color_combo)
        self.combos["color"] = combo
        return combo

    # ------------------------------------------------------------------------------------------------ sources

    def open_builtin(self, seed: int | None = None) -> None:
        """Show the first ``builtin_count`` items of built-in catalog ``seed`` (default: the spin box's)."""
        self._seed_timer.stop()
        seed = self.seed_spin.value() if seed is None else int(seed)
        if self.seed_spin.value() != seed:
            self.seed_spin.blockSignals(True)
            self.seed_spin.setValue(seed)
            self.seed_spin.blockSignals(False)
        self._set_source(BuiltinSource(seed, self.builtin_count))

    def open_folder(self, path: str | Path) -> None:
        """Read a catalog folder on the worker; a bad folder ends in ``errorOccurred`` with one sentence."""
        path = str(path)
        self.message.emit(f"Opening catalog folder {path}…")
        self.jobs.submit(
            OPEN_KIND, lambda ctx: open_folder_job(path), self._on_folder_opened, "Open catalog folder"
        )

    def _on_folder_opened(self, result: Result) -> None:
        if result.cancelled:
            self.message.emit("Opening the folder was cancelled.")
            return
        if not result.ok:
            self.errorOccurred.emit(f"Could not open the folder: {result.error}.")
            return
        value = result.value
        if isinstance(value, OpenFailed):
            self.errorOccurred.emit(f"Could not open the catalog: {value.message}.")
            return
        self.last_folder = str(value.path)
        self._set_source(value)

    def _set_source(self, source) -> None:
        self._generation += 1
        self.source = source
        self.model.clear()
        self.detail.clear()
        self._detail_wanted = None
        if isinstance(source, BuiltinSource):
            self.source_label.setText(f"<b>Built-in catalog</b> &nbsp;seed {source.seed}")
        else:
            self.source_label.setText(f"<b>Folder</b> &nbsp;{html.escape(str(source.path))}")
        self.source_label.setToolTip(source.description)
        self.sourceOpened.emit(source.description)
        self.message.emit(f"{source.description}: loading {len(source)} items.")
        self._loading = True
        self._submit_batch(self._generation, 0)

    def _submit_batch(self, generation: int, start: int) -> None:
        source = self.source
        stop = min(start + self.BATCH, len(source))
        fn = functools.partial(_thumbs_job, source, start, stop, self.thumb_size)
        done = functools.partial(self._on_batch, generation, stop)
        self.jobs.submit(THUMBS_KIND, fn, done, "Loading thumbnails")
        self._update_count()

    def _on_batch(self, generation: int, stop: int, result: Result) -> None:
        if generation != self._generation:
            return  # a newer source replaced this one
        if result.cancelled:
            self._loading = False
            self._update_count()
            self.message.emit(f"Loading stopped: {self.model.loaded} of {len(self.source)} items loaded.")
            self.loadingStopped.emit(self.model.loaded)
            return
        if not result.ok:
            self._loading = False
            self._update_count()
            self.errorOccurred.emit(f"Could not load catalog items: {result.error}.")
            return
        self.model.append(result.value)
        unreadable = [t for t in result.value if t.problem]
        if unreadable:
            first = unreadable[0]
            more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
            self.warning.emit(f"Could not read item {first.id}{more}: {first.problem.rstrip('.')}.")
        self.batchLoaded.emit(self.model.loaded)
        if stop < len(self.source):
            self._submit_batch(generation, stop)
            return
        self._loading = False
        self._update_count()
        self.message.emit(f"{self.source.description}: {len(self.source)} items loaded.")
        self.loadingFinished.emit(len(self.source))

    def stop(self) -> None:
        """Stop pending timers and loading (the window is closing); results still on their way are dropped."""
        self._seed_timer.stop()
        self._search_timer.stop()
        self._generation += 1
        self._loading = False

    @property
    def is_loading(self) -> bool:
        return self._loading

    def resume_loading(self) -> None:
        """Continue loading thumbnails after a cancel."""
        if self.source is not None and not self._loading and self.model.loaded < len(self.source):
            self._loading = True
            self._submit_batch(self._generation, self.model.loaded)

    # ------------------------------------------------------------------------------------------------ filters

    def current_filter(self) -> AttributeFilter:
        values = {key: combo.currentData() for key, combo in self.combos.items() if key != "color"}
        cluster_index = self.combos["color"].currentData()
        colors = None
        if cluster_index is not None:
            cluster = next((c for c in self._clusters if int(c.index) == cluster_index), None)
            colors = frozenset(cluster.words) if cluster is not None else frozenset()
        return AttributeFilter(colors=colors, text=self.search.text().strip(), **values)

    def apply_filters(self) -> None:
        self._search_timer.stop()
        current = self._current_source_index()
        self.model.set_filter(self.current_filter())
        if current is not None:
            row = self.model.row_of(current)
            if row is not None:
                self.view.setCurrentIndex(self.model.index(row))
        self._update_count()
        self.filtersApplied.emit(self.model.rowCount())

    def set_filter_value(self, key: str, value: str | None) -> None:
        """Set one attribute filter (``type``, ``gender``, ``length``, ``fit``) to a value or None for any."""
        combo = self.combos[key]
        i = combo.findData(value)
        if i < 0:
            raise ValueError(f"{value!r} is not a {key}")
        combo.setCurrentIndex(i)

    def set_color_cluster(self, cluster_index: int | None) -> None:
        """Filter by a color-table cluster (None or -1 for any color)."""
        if cluster_index is not None and cluster_index < 0:
            cluster_index = None
        i = self.combos["color"].findData(cluster_index)
        self.combos["color"].setCurrentIndex(max(i, 0))

    def clear_filters(self) -> None:
        for combo in self.combos.values():
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self.colorFilterChanged.emit(-1)
        self.apply_filters()

    def _on_color_combo(self, _i: int) -> None:
        data = self.combos["color"].currentData()
        self.colorFilterChanged.emit(-1 if data is None else int(data))
        self.apply_filters()

    def _update_count(self) -> None:
        total = len(self.source) if self.source is not None else 0
        shown, loaded = self.model.rowCount(), self.model.loaded
        text = f"{shown} of {loaded} shown" if not self.model.filter.is_empty() else f"{loaded} items"
        if loaded < total:
            text += f" · loading {loaded}/{total}" if self._loading else f" · {total - loaded} not loaded"
        self.count_label.setText(text)

    # ------------------------------------------------------------------------------------------------ detail

    def _current_source_index(self) -> int | None:
        index = self.view.currentIndex()
        return None if not index.isValid() else int(index.data(INDEX_ROLE))

    def select_row(self, row: int) -> None:
        """Make grid row ``row`` current (as a click would); the detail loads on the worker."""
        index = self.model.index(row)
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid() or self.source is None:
            return
        source_index = int(current.data(INDEX_ROLE))
        if self.detail.detail is not None and self.detail.detail.index == source_index:
            return
        self._detail_wanted = source_index
        fn = functools.partial(_detail_job, self.source, source_index)
        done = functools.partial(self._on_detail, self._generation, source_index)
        self.jobs.submit(DETAIL_KIND, fn, done, "Loading item")

    def _on_detail(self, generation: int, source_index: int, result: Result) -> None:
        if generation != self._generation or source_index != self._detail_wanted or result.cancelled:
            return
        if not result.ok:
            self.errorOccurred.emit(f"Could not show item {source_index}: {result.error}.")
            return
        detail: Detail = result.value
        self.detail.show_detail(detail)
        self.detailShown.emit(source_index)

    # ------------------------------------------------------------------------------------------------ settings

    def save_settings(self, settings) -> None:
        settings.setValue("catalog/seed", self.seed_spin.value())
        settings.setValue("catalog/splitter", self.splitter.saveState())
        settings.setValue("catalog/overlay", self.detail.overlay)
        settings.setValue("catalog/last_folder", self.last_folder)

    def restore_settings(self, settings) -> None:
        seed = settings.value("catalog/seed", 0)
        try:
            seed = int(seed)
        except (TypeError, ValueError):
            seed = 0
        self.seed_spin.blockSignals(True)
        self.seed_spin.setValue(seed)
        self.seed_spin.blockSignals(False)
        state = settings.value("catalog/splitter")
        if state is not None:
            self.splitter.restoreState(state)
        overlay = settings.value("catalog/overlay", "none")
        if overlay in self.detail.overlay_buttons:
            self.detail.set_overlay(str(overlay))
        self.last_folder = str(settings.value("catalog/last_folder", "") or "")


def _thumbs_job(source, start: int, stop: int, thumb_size: int, ctx) -> list[Thumb]:
    return load_thumbs(source, start, stop, thumb_size, ctx)


def _detail_job(source, index: int, ctx) -> Detail:
    return load_detail(source, index, ctx)
