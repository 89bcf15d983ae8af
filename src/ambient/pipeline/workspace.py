"""A pipeline workspace on disk: settings, repos, the manifest, scratch and work dirs.

    ambient-workspace/
      ambient.json        stage parameters (changing one reruns that stage and after)
      manifest.sqlite     see manifest.py
      repos/audio/        the source repo: ingested audio
      repos/wav/ repos/midi/ repos/tokens/ repos/models/<datum>/
      .scratch/           a datum's work before it commits; swept on every start
      .work/<stage>/      persistent work of reduce datums (training checkpoints)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ambient.errors import AmbientError
from ambient.files import write_text
from ambient.pipeline.stages import DEFAULT_PARAMS, SOURCE_REPO, check_params

SETTINGS = "ambient.json"


def default_root() -> Path:
    return Path(os.environ.get("AMBIENT_HOME", "ambient-workspace"))


def is_workspace(path: str | Path) -> bool:
    return (Path(path) / SETTINGS).is_file()


class Workspace:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()
        if not (self.root / SETTINGS).exists():
            raise AmbientError(f"{self.root}: not a pipeline workspace (run `ambient pipeline init {self.root}`)")

    @classmethod
    def init(cls, root: str | Path | None = None, params: dict | None = None) -> "Workspace":
        root = Path(root) if root is not None else default_root()
        if (root / SETTINGS).exists():
            raise AmbientError(f"{root}: already a workspace")
        for name in (SOURCE_REPO, "wav", "midi", "tokens", "models"):
            (root / "repos" / name).mkdir(parents=True, exist_ok=True)
        merged = {k: {**v, **(params or {}).get(k, {})} for k, v in DEFAULT_PARAMS.items()}
        write_text(root / SETTINGS, json.dumps({"version": 1, "params": merged}, indent=2, sort_keys=True) + "\n")
        return cls(root)

    @property
    def params(self) -> dict:
        return json.loads((self.root / SETTINGS).read_text())["params"]

    def set_param(self, stage: str, key: str, value) -> None:
        """Set one parameter; a value the stage cannot use fails here, not mid-run."""
        settings = self._settings_for(stage)
        settings["params"][stage][key] = value
        check_params(stage, settings["params"][stage])
        self._write(settings)

    def unset_param(self, stage: str, key: str) -> bool:
        """Drop a parameter so the stage's default (or the transcription profile's value) rules
        again; whether it was set."""
        settings = self._settings_for(stage)
        if key not in settings["params"][stage]:
            return False
        del settings["params"][stage][key]
        self._write(settings)
        return True

    def _settings_for(self, stage: str) -> dict:
        settings = json.loads((self.root / SETTINGS).read_text())
        if stage not in settings["params"]:
            raise AmbientError(f"no stage {stage!r} (stages: {', '.join(settings['params'])})")
        return settings

    def _write(self, settings: dict) -> None:
        write_text(self.root / SETTINGS, json.dumps(settings, indent=2, sort_keys=True) + "\n")

    def repo(self, name: str) -> Path:
        return self.root / "repos" / name

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.sqlite"

    @property
    def scratch(self) -> Path:
        return self.root / ".scratch"

    def work_dir(self, stage: str) -> Path:
        return self.root / ".work" / stage
