"""The main window: workspaces, the status bar with worker progress and cancel, the log, the palette, About.

The window owns no computation: workspaces submit their work through the worker bridge, and the window only
reports what the worker is doing and routes messages to the log and the status bar.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QWidget,
)

from gan_studio.qt.about import AboutDialog
from gan_studio.qt.catalog_browser import CatalogBrowser
from gan_studio.qt.dataset_workspace import DatasetWorkspace
from gan_studio.qt.drops import DropTarget, paths_from_mime
from gan_studio.qt.explore_workspace import ExploreWorkspace
from gan_studio.qt.generate_workspace import GenerateWorkspace
from gan_studio.qt.message_line import LEVEL_COLORS
from gan_studio.qt.palette import PaletteWidget, load_clusters
from gan_studio.qt.settings import app_settings
from gan_studio.qt.train_workspace import TrainWorkspace

WORKSPACES: tuple[tuple[str, str], ...] = (
    ("catalog", "Catalog"),
    ("generate", "Generate"),
    ("explore", "Explore"),
    ("dataset", "Dataset"),
    ("train", "Train"),
)


class LogView(QPlainTextEdit):
    """Read-only, timestamped messages; errors in red."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setAcceptDrops(False)
        self.setMaximumBlockCount(5000)
        self.setPlaceholderText("Messages and errors appear here.")

    def add(self, message: str, level: str = "info") -> None:
        stamp = time.strftime("%H:%M:%S")
        text = html.escape(f"{stamp}  {message}")
        color = LEVEL_COLORS.get(level)
        self.appendHtml(f'<span style="color:{color}">{text}</span>' if color else text)


class MainWindow(DropTarget, QMainWindow):
    """The application shell.

    ``bridge`` is the :class:`~gan_studio.qt.bridge.WorkerBridge` the workspaces submit to; when None the window
    makes (and on close shuts down) its own. ``show_dialogs=False`` routes errors only to the log and status bar
    (tests, screenshots). ``builtin_count`` is how many built-in catalog items the browser shows.
    ``generate_options`` are keyword arguments for the Generate workspace (e.g. ``model_path``, ``discovery``);
    ``explore_options`` for the Explore workspace (by default it uses Generate's ``model_path``);
    ``dataset_options`` for the Dataset workspace (by default its generator is Generate's ``model_path``);
    ``train_options`` for the Train workspace (e.g. ``runs_dir``).
    """

    errorReported = Signal(str)

    def __init__(
        self,
        bridge=None,
        *,
        builtin_count: int = 512,
        show_dialogs: bool = True,
        clusters=None,
        generate_options: dict | None = None,
        explore_options: dict | None = None,
        dataset_options: dict | None = None,
        train_options: dict | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._owns_bridge = bridge is None
        if bridge is None:
            from gan_studio.qt.bridge import WorkerBridge

            bridge = WorkerBridge()
        self.bridge = bridge
        self.show_dialogs = show_dialogs
        self.last_error: str | None = None
        self._closed = False
        self._active_jobs: dict[int, str] = {}
        self._about: AboutDialog | None = None
        self.setWindowTitle("GAN Studio")
        self.setObjectName("main_window")
        self.setAcceptDrops(True)

        problem = None
        nearest = None
        if clusters is None:
            clusters, nearest, problem = load_clusters()

        # --- workspaces
        self.catalog = CatalogBrowser(bridge, clusters, builtin_count=builtin_count)
        self.stack = QStackedWidget()
        self.generate = GenerateWorkspace(bridge, clusters, **(generate_options or {}))
        if explore_options is None:
            explore_options = {k: v for k, v in (generate_options or {}).items() if k == "model_path"}
        self.explore = ExploreWorkspace(bridge, **explore_options)
        self.pages: dict[str, QWidget] = {"catalog": self.catalog, "generate": self.generate}
        self.pages["explore"] = self.explore
        if dataset_options is None:
            model_path = (generate_options or {}).get("model_path")
            dataset_options = {"generator": model_path} if model_path is not None else {}
        self.dataset = DatasetWorkspace(bridge, **dataset_options)
        self.pages["dataset"] = self.dataset
        self.train = TrainWorkspace(**(train_options or {}))
        self.pages["train"] = self.train
        for key, _title in WORKSPACES:
            self.stack.addWidget(self.pages[key])
        self.setCentralWidget(self.stack)

        # --- docks
        self.log_view = LogView()
        self.log_dock = QDockWidget("Log")
        self.log_dock.setObjectName("log_dock")
        self.log_dock.setWidget(self.log_view)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.palette_widget = PaletteWidget(clusters, nearest)
        self.palette_dock = QDockWidget("Palette")
        self.palette_dock.setObjectName("palette_dock")
        self.palette_dock.setWidget(self.palette_widget)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.palette_dock)
        self.resizeDocks([self.log_dock], [110], Qt.Orientation.Vertical)
        self.resizeDocks([self.palette_dock], [230], Qt.Orientation.Horizontal)

        self._build_actions()
        self._build_menus_and_toolbar()
        self._build_status_bar()
        self._connect()

        self.resize(1280, 820)
        self._restore_settings()
        if problem:
            self.log(problem, "warning")

    # ------------------------------------------------------------------------------------------------ building

    def _build_actions(self) -> None:
        self.open_action = QAction("&Open catalog folder…", self)
        self.open_action.setShortcut(QKeySequence("Ctrl+O"))
        self.open_action.triggered.connect(self.open_folder_dialog)
        self.builtin_action = QAction("&Built-in catalog", self)
        self.builtin_action.triggered.connect(self.open_builtin)
        self.cancel_action = QAction("&Cancel running jobs", self)
        self.cancel_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.cancel_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.cancel_action.triggered.connect(self.cancel_jobs)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)
        self.about_action = QAction("&About GAN Studio", self)
        self.about_action.setShortcut(QKeySequence(Qt.Key.Key_F1))
        self.about_action.triggered.connect(self.show_about)

        self.workspace_group = QActionGroup(self)
        self.workspace_group.setExclusive(True)
        self.workspace_actions: dict[str, QAction] = {}
        for n, (key, title) in enumerate(WORKSPACES, start=1):
            action = QAction(title, self)
            action.setCheckable(True)
            action.setShortcut(QKeySequence(f"Ctrl+{n}"))
            action.setToolTip(f"{title} workspace (Ctrl+{n})")
            action.setData(key)
            action.triggered.connect(lambda _checked=False, k=key: self.set_workspace(k))
            self.workspace_group.addAction(action)
            self.workspace_actions[key] = action
        self.workspace_actions["catalog"].setChecked(True)

    def _build_menus_and_toolbar(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.builtin_action)
        file_menu.addSeparator()
        file_menu.addAction(self.cancel_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = menu.addMenu("&View")
        for action in self.workspace_actions.values():
            view_menu.addAction(action)
        view_menu.addSeparator()
        self.log_toggle = self.log_dock.toggleViewAction()
        self.log_toggle.setText("&Log")
        self.palette_toggle = self.palette_dock.toggleViewAction()
        self.palette_toggle.setText("&Palette")
        view_menu.addAction(self.log_toggle)
        view_menu.addAction(self.palette_toggle)
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.about_action)

        self.toolbar = QToolBar("Workspaces")
        self.toolbar.setObjectName("workspace_toolbar")
        self.toolbar.setMovable(False)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in self.workspace_actions.values():
            self.toolbar.addAction(action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.job_label = QLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setTextVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Cancel running jobs (Esc)")
        self.cancel_button.clicked.connect(self.cancel_jobs)
        for w in (self.job_label, self.progress_bar, self.cancel_button):
            bar.addPermanentWidget(w)
            w.setVisible(False)
        self._idle_timer = QTimer(self, singleShot=True, interval=300)
        self._idle_timer.timeout.connect(self._hide_progress_if_idle)

    def _connect(self) -> None:
        b = self.bridge
        b.started.connect(self._on_job_started)
        b.progress.connect(self._on_job_progress)
        b.finished.connect(self._on_job_finished)
        c = self.catalog
        c.openFolderRequested.connect(self.open_folder_dialog)
        c.errorOccurred.connect(self.report_error)
        c.colorFilterChanged.connect(lambda i: self.palette_widget.set_selected(None if i < 0 else i))
        self.palette_widget.colorPicked.connect(self._on_color_picked)
        self.palette_widget.cleared.connect(
            lambda: self.current_workspace() != "generate" and self.catalog.set_color_cluster(None)
        )
        g = self.generate
        g.colorClusterChanged.connect(lambda _i: self._sync_palette())
        c.sourceOpened.connect(lambda _description: g.set_catalog_source(c.source))
        e = self.explore
        e.sendToGenerate.connect(self._explore_to_generate)
        e.sendToDataset.connect(self._explore_to_dataset)
        d = self.dataset
        for page in (c, g, e, d):  # a bug showing a result is one sentence, never an exception in the loop
            page.jobs.failed.connect(self.report_error)
        t = self.train
        t.useInGenerate.connect(self.use_model_in_generate)
        for page in (c, g, e, d, t):  # every workspace's messages and warnings go to the log
            page.message.connect(self.log)
            page.warning.connect(self._log_warning)
        self.send_to_explore_action = QAction("Send to Explore", self.generate.image_view)
        self.send_to_explore_action.setToolTip("Explore this garment's latent space (its title and seed)")
        self.send_to_explore_action.triggered.connect(self.send_to_explore)
        self.generate.image_view.addAction(self.send_to_explore_action)  # the image's context menu

    def send_to_explore(self) -> None:
        """Open the Generate workspace's title and seed in the Explore workspace."""
        self.explore.set_source(self.generate.title(), self.generate.seed())
        self.set_workspace("explore")

    def use_model_in_generate(self, path: str | Path) -> None:
        """Make the ReStGAN checkpoint at ``path`` the Generate workspace's model and draw with it."""
        g = self.generate
        g.model_path, g.generator = str(path), None  # its next job loads these weights (cached per path)
        self.set_workspace("generate")
        g.commit()
        self.log(f"Generate now draws with {path}.")

    def _explore_to_generate(self, sent) -> None:
        # Generate draws titles and seeds; it cannot show an arbitrary latent yet, so the garment's start is sent.
        self.generate.set_seed(sent.seed, commit=False)
        self.generate.set_title(sent.title)
        self.set_workspace("generate")
        self.log(
            f"Sent “{sent.title}” (seed {sent.seed}) to Generate; waypoint {sent.index} itself stays in Explore."
        )

    def _explore_to_dataset(self, sent) -> None:
        # The waypoint joins the Dataset workspace's samples, labeled there by its label generator (if any).
        self.dataset.add_frame(sent)
        self.set_workspace("dataset")

    def _on_color_picked(self, index: int, word: str) -> None:
        # The palette serves the workspace in front: it filters the catalog, or sets the title's color word.
        if self.current_workspace() == "generate":
            self.generate.apply_color(index, word)
        else:
            self.catalog.set_color_cluster(index)

    def _sync_palette(self) -> None:
        if self.current_workspace() == "generate":
            index = self.generate.color_cluster()
        else:
            index = self.catalog.combos["color"].currentData()
        self.palette_widget.set_selected(None if index is None or index < 0 else int(index))

    # ------------------------------------------------------------------------------------------------ workspaces

    def set_workspace(self, key: str) -> None:
        if key not in self.pages:
            raise ValueError(f"unknown workspace {key!r}")
        self.stack.setCurrentWidget(self.pages[key])
        self.workspace_actions[key].setChecked(True)
        self._sync_palette()

    def current_workspace(self) -> str:
        current = self.stack.currentWidget()
        return next(key for key, page in self.pages.items() if page is current)

    # ------------------------------------------------------------------------------------------------ catalog

    def open_builtin(self) -> None:
        self.set_workspace("catalog")
        self.catalog.open_builtin()

    def open_folder(self, path: str | Path) -> None:
        self.set_workspace("catalog")
        self.catalog.open_folder(path)

    def open_folder_dialog(self) -> None:
        start = self.catalog.last_folder or str(Path.home())
        path = QFileDialog.getExistingDirectory(self, "Open catalog folder", start)
        if path:
            self.open_folder(path)

    # ------------------------------------------------------------------------------------------------ drag and drop

    @staticmethod
    def folder_from_mime(mime: QMimeData) -> str | None:
        """The first local folder among the dropped URLs, or None."""
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile() and Path(url.toLocalFile()).is_dir():
                return url.toLocalFile()
        return None

    def handle_drop(self, mime: QMimeData) -> bool:
        """Open the dropped folder (the Dataset workspace in front imports dropped labels instead); returns whether
        the drop was taken."""
        if self.current_workspace() == "dataset":
            return self.dataset.handle_drop(mime)
        path = self.folder_from_mime(mime)
        if path is None:
            if mime.hasUrls():
                self.report_error("Drop a catalog folder onto the window, not a file.")
            return False
        self.open_folder(path)
        return True

    def accepts_drop(self, mime: QMimeData) -> bool:
        """The Dataset workspace in front takes labeled files; otherwise a catalog folder is welcome."""
        if self.current_workspace() == "dataset":
            return bool(paths_from_mime(mime))
        return self.folder_from_mime(mime) is not None

    # ------------------------------------------------------------------------------------------------ messages

    def log(self, message: str, level: str = "info") -> None:
        """Add a line to the log dock and show it briefly in the status bar."""
        self.log_view.add(message, level)
        self.statusBar().showMessage(message, 10000 if level != "info" else 5000)

    def _log_warning(self, message: str) -> None:
        self.log(message, "warning")

    def report_error(self, message: str) -> None:
        """One-sentence error: log (red), status bar, and a warning box unless dialogs are off."""
        self.last_error = message
        self.log(message, "error")
        self.errorReported.emit(message)
        if self.show_dialogs and not self._closed:
            QMessageBox.warning(self, "GAN Studio", message)

    def show_about(self) -> AboutDialog:
        if self._about is None:
            self._about = AboutDialog(self)
        self._about.show()
        self._about.raise_()
        self._about.activateWindow()
        return self._about

    # ------------------------------------------------------------------------------------------------ worker status

    def cancel_jobs(self) -> int:
        n = self.bridge.cancel_all()
        if n:
            self.log(f"Cancelled {n} running job{'s' if n != 1 else ''}.")
        return n

    @property
    def active_jobs(self) -> dict[int, str]:
        return dict(self._active_jobs)

    def _on_job_started(self, request_id: int, kind: str, label: str) -> None:
        self._active_jobs[request_id] = label or kind
        self._idle_timer.stop()
        self.job_label.setText(label or kind)
        self.progress_bar.setRange(0, 0)  # busy until the job reports a fraction
        for w in (self.job_label, self.progress_bar, self.cancel_button):
            w.setVisible(True)

    def _on_job_progress(self, request_id: int, fraction: float, message: str) -> None:
        if request_id in self._active_jobs:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(round(fraction * 1000))
            if message:
                self.job_label.setText(message)

    def _on_job_finished(self, result) -> None:
        self._active_jobs.pop(result.request_id, None)
        if not self._active_jobs:
            # batches follow each other; wait a moment before hiding so the bar does not flicker
            self._idle_timer.start()
        else:
            self.job_label.setText(next(reversed(self._active_jobs.values())))

    def _hide_progress_if_idle(self) -> None:
        if not self._active_jobs:
            for w in (self.job_label, self.progress_bar, self.cancel_button):
                w.setVisible(False)

    # ------------------------------------------------------------------------------------------------ settings

    def _restore_settings(self) -> None:
        s = app_settings()
        geometry = s.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = s.value("window/state")
        if state is not None:
            self.restoreState(state)
        workspace = s.value("window/workspace", "catalog")
        if workspace in self.pages:
            self.set_workspace(str(workspace))
        self.catalog.restore_settings(s)
        self.generate.restore_settings(s)
        self.explore.restore_settings(s)
        self.dataset.restore_settings(s)
        self.train.restore_settings(s)

    def save_settings(self) -> None:
        s = app_settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("window/workspace", self.current_workspace())
        self.catalog.save_settings(s)
        self.generate.save_settings(s)
        self.explore.save_settings(s)
        self.dataset.save_settings(s)
        self.train.save_settings(s)
        s.sync()

    def closeEvent(self, event) -> None:
        if not self._closed and not self.train.confirm_close(self, ask=self.show_dialogs):
            event.ignore()  # a training run goes on
            return
        if not self._closed:
            self._closed = True
            self.save_settings()
            self.catalog.stop()
            self.generate.stop()
            self.explore.stop()
            self.dataset.stop()
            self.train.stop()  # ends the training process: no orphan child
            self.bridge.cancel_all()
            if self._about is not None:
                self._about.close()
            if self._owns_bridge:
                self.bridge.shutdown()
        super().closeEvent(event)
