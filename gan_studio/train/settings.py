"""What a training run is: its settings, the command line that runs it, and the files it leaves in its run folder.

The Train workspace runs every training as a child process of the app (``gan-studio train KIND …``), so this
module only builds command lines and reads folders; it imports neither Qt nor torch at import time.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

KINDS = ("restgan", "stackgan", "classifier", "inversion")
KIND_TITLES = {
    "restgan": "ReStGAN (text to image)",
    "stackgan": "StackGAN baseline",
    "classifier": "Attribute classifier",
    "inversion": "Inversion encoder (HandsOff)",
}
# The file each command resumes from (``STATE_NAME`` / ``CHECKPOINT_NAME`` in gan_studio/train; a unit test keeps
# these in step with the training modules without importing torch here).
STATE_NAMES = {
    "restgan": "train_state.safetensors",
    "stackgan": "train_state.safetensors",
    "classifier": "checkpoint.safetensors",
    "inversion": "train_state.safetensors",
}
LOG_NAME = "log.jsonl"
SAMPLES_DIR = "samples"
SETTINGS_NAME = "train_settings.json"  # written by the app beside the run, so "Resume training" reuses it
RUNS_ENV = "GAN_STUDIO_RUNS"
# Settings a resumed run must share with the run that made its state (steps may grow).
SAME_ON_RESUME = ("kind", "data", "batch", "seed", "generator", "tiny")


@dataclass(frozen=True)
class TrainSettings:
    """One training run. ``None`` means the command's own default.

    ``steps`` is the classifier's step count, or stage I's for the two-stage kinds (``stage2_steps``);
    ``data`` is ``"builtin"`` or a catalog folder (not used by ``inversion``, which learns from the generator's own
    images); ``generator`` is the ReStGAN checkpoint the inversion encoder learns to invert; ``threads`` caps
    torch's CPU threads in the child; ``tiny`` selects the commands' tiny configs (tests).
    """

    kind: str
    out: str
    data: str = "builtin"
    steps: int | None = None
    stage2_steps: int | None = None
    batch: int | None = None
    seed: int = 0
    threads: int | None = None
    generator: str = "builtin"
    tiny: bool = False

    @property
    def two_stage(self) -> bool:
        return self.kind != "classifier"

    @property
    def uses_data(self) -> bool:
        return self.kind != "inversion"

    @property
    def folder(self) -> Path:
        return Path(self.out)

    @property
    def weights_path(self) -> Path:
        """The trained model the command writes when it finishes (with its manifest ``.json`` and card ``.md``)."""
        return self.folder / f"{self.kind}.safetensors"

    @property
    def state_path(self) -> Path:
        return self.folder / STATE_NAMES[self.kind]

    @property
    def log_path(self) -> Path:
        return self.folder / LOG_NAME

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"

    @classmethod
    def from_dict(cls, d: dict) -> TrainSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


# ------------------------------------------------------------------------------------------------- command line


def train_arguments(s: TrainSettings) -> list[str]:
    """The ``gan-studio`` arguments (after the program) that run ``s``."""
    args = ["train", s.kind, "--out", str(Path(s.out).absolute()), "--seed", str(int(s.seed))]
    if s.uses_data:
        data = s.data if s.data == "builtin" else str(Path(s.data).absolute())
        args += ["--data", data]
    if s.kind == "inversion":
        args += ["--model", s.generator if s.generator == "builtin" else str(Path(s.generator).absolute())]
    steps_flag = "--steps" if s.kind == "classifier" else "--stage1-steps"
    for flag, value in ((steps_flag, s.steps), ("--stage2-steps", s.stage2_steps), ("--batch", s.batch)):
        if value is not None and (flag != "--stage2-steps" or s.two_stage):
            args += [flag, str(int(value))]
    if s.threads and s.kind != "classifier":  # the classifier takes its threads from the environment
        args += ["--threads", str(int(s.threads))]
    if s.tiny:
        args.append("--tiny")
    return args


def launch_command(
    arguments: list[str], *, frozen: bool | None = None, executable: str | None = None
) -> list[str]:
    """The child's command line: ``python -m gan_studio.cli ARGS``, or ``APP ARGS`` when the app is a frozen
    (PyInstaller) executable whose entry point is the CLI."""
    frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    executable = executable or sys.executable
    if frozen:
        return [executable, *arguments]
    return [executable, "-m", "gan_studio.cli", *arguments]


def child_environment(s: TrainSettings, base: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: unbuffered output (lines arrive as they are written) and the thread cap."""
    env = dict(os.environ if base is None else base)
    env["PYTHONUNBUFFERED"] = "1"
    if s.threads:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(int(s.threads))
    return env


# ------------------------------------------------------------------------------------------------- checks


def planned_steps(s: TrainSettings) -> tuple[int, ...]:
    """Steps of each stage the command will run (its defaults filled in): ``(steps,)`` or ``(stage1, stage2)``."""
    if s.kind in ("restgan", "stackgan"):
        from gan_studio.train.restgan_config import GanTrainConfig

        cfg = GanTrainConfig.tiny(s.kind) if s.tiny else GanTrainConfig(variant=s.kind)
        default = (cfg.stage1_steps, cfg.stage2_steps)
    elif s.kind == "inversion":
        from gan_studio.train.inversion import InversionTrainConfig

        cfg = InversionTrainConfig.tiny() if s.tiny else InversionTrainConfig()
        default = (cfg.stage1_steps, cfg.stage2_steps)
    else:
        from gan_studio.train.classifier import TrainConfig

        cfg = TrainConfig.tiny() if s.tiny else TrainConfig()
        return (s.steps if s.steps is not None else cfg.steps,)
    return (
        s.steps if s.steps is not None else default[0],
        s.stage2_steps if s.stage2_steps is not None else default[1],
    )


def default_batch(kind: str, tiny: bool = False) -> int:
    """The command's default batch size."""
    if kind in ("restgan", "stackgan"):
        from gan_studio.train.restgan_config import GanTrainConfig

        return (GanTrainConfig.tiny(kind) if tiny else GanTrainConfig(variant=kind)).batch
    if kind == "inversion":
        from gan_studio.train.inversion import InversionTrainConfig

        return (InversionTrainConfig.tiny() if tiny else InversionTrainConfig()).batch
    from gan_studio.train.classifier import TrainConfig

    return (TrainConfig.tiny() if tiny else TrainConfig()).batch


def check_catalog_folder(folder: str | Path) -> str | None:
    """Why ``folder`` cannot be trained on (one sentence), or None. Reads only its text files."""
    from gan_studio.data.catalog_reader import read_catalog
    from gan_studio.data.layout import CatalogError

    path = Path(folder)
    if not path.is_dir():
        return f"The data folder {path} does not exist."
    if not (path / "titles.csv").is_file():
        return (
            f"The data folder {path} holds no titles.csv; choose a catalog folder (images/ and titles.csv)."
        )
    try:
        n = len(read_catalog(path))
    except (CatalogError, OSError, ValueError) as exc:
        return f"The data folder cannot be read: {str(exc).rstrip('.')}."
    if n < 2:
        return f"The data folder {path} has {n} item{'s' if n != 1 else ''}; training needs at least 2."
    return None


def problem(s: TrainSettings) -> str | None:
    """Why ``s`` cannot start (one sentence), or None. Cheap: checks the form and the folders, trains nothing."""
    if s.kind not in KINDS:
        return f"Unknown model kind {s.kind!r}; choose one of {', '.join(KINDS)}."
    if not str(s.out).strip():
        return "Choose a run folder for the training."
    out = Path(s.out)
    if out.exists() and not out.is_dir():
        return f"The run folder {out} is a file; choose a folder."
    least_batch = 2 if s.kind in ("restgan", "stackgan") else 1
    if s.batch is not None and s.batch < least_batch:
        return f"The batch must hold at least {least_batch} items."
    if s.steps is not None and s.steps < (0 if s.kind == "inversion" else 1):
        return "The number of steps must be at least 1."
    if s.stage2_steps is not None and s.stage2_steps < 0:
        return "Stage II steps cannot be negative."
    if s.threads is not None and s.threads < 0:
        return "The number of threads cannot be negative."
    if s.uses_data and s.data != "builtin":
        why = check_catalog_folder(s.data)
        if why:
            return why
    if s.kind == "inversion" and s.generator != "builtin" and not Path(s.generator).is_file():
        return f"There is no generator checkpoint at {s.generator}."
    if s.state_path.is_file():
        saved = load_settings(out)
        if saved is not None:
            differ = [k for k in SAME_ON_RESUME if getattr(saved, k) != getattr(s, k)]
            if differ:
                return (
                    f"The run folder {out} holds a run with another {', '.join(differ)}; choose a new folder or "
                    "keep that run's settings to resume it."
                )
    return None


def can_resume(s: TrainSettings) -> bool:
    """Whether the run folder holds a state the command continues from."""
    return s.state_path.is_file()


def save_settings(s: TrainSettings) -> Path:
    s.folder.mkdir(parents=True, exist_ok=True)
    path = s.folder / SETTINGS_NAME
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(s.to_json(), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_settings(folder: str | Path) -> TrainSettings | None:
    """The settings the app saved in a run folder (its ``out`` set to that folder), or None."""
    path = Path(folder) / SETTINGS_NAME
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        s = TrainSettings.from_dict(d)
    except (OSError, ValueError, TypeError):
        return None
    return replace(s, out=str(folder)) if s.kind in KINDS else None


# ------------------------------------------------------------------------------------------------- folders


def default_runs_dir() -> Path:
    """``$GAN_STUDIO_RUNS``, else the user data folder's ``gan_studio/runs`` (XDG on Linux)."""
    env = os.environ.get(RUNS_ENV)
    if env:
        return Path(env)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "gan_studio" / "runs"


def next_run_folder(kind: str, root: str | Path | None = None) -> Path:
    """``ROOT/KIND-001``, or the first such folder that does not exist yet."""
    root = Path(root) if root is not None else default_runs_dir()
    n = 1
    while (root / f"{kind}-{n:03d}").exists():
        n += 1
    return root / f"{kind}-{n:03d}"


@dataclass(frozen=True)
class TrainedModel:
    kind: str
    path: Path
    mtime: float

    @property
    def label(self) -> str:
        return f"{self.path.parent.name} — {KIND_TITLES.get(self.kind, self.kind)}"


def find_trained_models(root: str | Path | None = None) -> list[TrainedModel]:
    """Finished runs directly under ``root`` (default :func:`default_runs_dir`), newest first."""
    root = Path(root) if root is not None else default_runs_dir()
    found = []
    try:
        folders = [p for p in root.iterdir() if p.is_dir()]
    except OSError:
        return []
    for folder in folders:
        for kind in KINDS:
            path = folder / f"{kind}.safetensors"
            if path.is_file():
                found.append(TrainedModel(kind, path, path.stat().st_mtime))
    return sorted(found, key=lambda m: m.mtime, reverse=True)
