"""The About dialog: what the app is, and the manifests of the models it ships (architecture, metrics, training)."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

from gan_studio.resources import resources_dir

SKIP = {"color_table.json"}


@dataclass(frozen=True)
class ManifestSummary:
    """What About shows of one shipped model's manifest."""

    path: Path
    architecture: str
    metrics: dict = field(default_factory=dict)
    command: str = ""
    created: str = ""


def find_manifests(root: Path | None = None) -> tuple[list[ManifestSummary], list[str]]:
    """Model manifests under ``root`` (default: the resources folder) and one sentence per unreadable one.

    Any ``*.json`` that is a JSON object with an ``architecture`` is a manifest; other JSON files (the color
    table, configs) are skipped silently. Plain JSON reading keeps the dialog free of torch.
    """
    root = Path(root) if root is not None else resources_dir()
    found: list[ManifestSummary] = []
    problems: list[str] = []
    if not root.is_dir():
        return found, problems
    for path in sorted(root.glob("**/*.json")):
        if path.name in SKIP:
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"{path.name} could not be read ({exc.__class__.__name__}).")
            continue
        if not isinstance(data, dict) or "architecture" not in data:
            continue
        training = data.get("training") if isinstance(data.get("training"), dict) else {}
        command = training.get("command") or data.get("command") or ""
        if isinstance(command, (list, tuple)):
            command = " ".join(str(c) for c in command)
        metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
        found.append(
            ManifestSummary(
                path, str(data["architecture"]), dict(metrics), str(command), str(data.get("created", ""))
            )
        )
    return found, problems


def _format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_format_value(v)}" for k, v in value.items())
    return str(value)


def app_version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("gan-studio")
    except (ImportError, PackageNotFoundError):
        return ""


def about_html(manifests: list[ManifestSummary], problems: list[str], root: Path) -> str:
    """The dialog's text as HTML."""
    parts = [
        f"<h2>GAN Studio {html.escape(app_version())}</h2>",
        (
            "<p>A desktop studio for controllable GANs on apparel: incremental text-to-image (ReStGAN), "
            "lasso-constrained latent traversal (REDS) and labeled synthetic datasets (HandsOff).</p>"
        ),
        "<h3>Shipped models</h3>",
    ]
    if not manifests:
        parts.append(f"<p>No model manifests were found in <code>{html.escape(str(root))}</code> yet.</p>")
    for m in manifests:
        try:
            shown = m.path.relative_to(root)
        except ValueError:
            shown = m.path
        parts.append(
            f"<p><b>{html.escape(m.architecture)}</b> &mdash; <code>{html.escape(str(shown))}</code>"
        )
        if m.created:
            parts.append(f"<br>created {html.escape(m.created)}")
        parts.append("</p><ul>")
        if m.metrics:
            for key, value in m.metrics.items():
                parts.append(f"<li>{html.escape(str(key))}: {html.escape(_format_value(value))}</li>")
        else:
            parts.append("<li>no metrics recorded</li>")
        if m.command:
            parts.append(f"<li>trained with <code>{html.escape(m.command)}</code></li>")
        parts.append("</ul>")
    for problem in problems:
        parts.append(f"<p><i>{html.escape(problem)}</i></p>")
    return "".join(parts)


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, root: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About GAN Studio")
        root = Path(root) if root is not None else resources_dir()
        self.manifests, problems = find_manifests(root)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(False)
        self.browser.setHtml(about_html(self.manifests, problems, root))
        note = QLabel("Models are loaded only from .safetensors files with a verified manifest.")
        note.setWordWrap(True)
        note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(560, 460)
