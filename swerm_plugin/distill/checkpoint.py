"""Checkpoints of a distillation, so that a crashed run continues where it stopped.

Everything lives in ``DIR/.swerm-distill/`` of the output folder: ``state.json`` (the run's
fingerprint: data and options), and per training phase its checkpoints (``ckpt-<step>/``: the
trainable weights as safetensors, the optimizer, scheduler and random-generator states, the
position in the data) and, once the phase is over, ``done/`` with its final weights and its
predictions. A checkpoint is written to a temporary folder and renamed, so a kill never leaves a
half-written one; the last two are kept. The folder is removed when the model is written.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import orjson

from swerm_plugin.errors import DistillError
from swerm_plugin.jsonl import atomic_write_json

WORK_DIR = ".swerm-distill"
STATE_FILE = "state.json"
KEEP = 2


class WorkDir:
    """The output folder's work area (see the module docs)."""

    def __init__(self, output: Path, fingerprint: dict[str, Any]) -> None:
        self.output = output
        self.root = output / WORK_DIR
        self.fingerprint = fingerprint

    def open(self) -> bool:
        """Check the output folder and claim it; ``True`` when an earlier run is resumed."""
        from swerm_plugin.backends.card import CARD_FILE

        state = self.root / STATE_FILE
        if state.is_file():
            found = orjson.loads(state.read_bytes())
            if found.get("fingerprint") != self.fingerprint:
                changed = sorted(
                    key
                    for key in set(found.get("fingerprint", {})) | set(self.fingerprint)
                    if found.get("fingerprint", {}).get(key) != self.fingerprint.get(key)
                )
                raise DistillError(
                    f"{self.output} holds an unfinished distillation of other data or options "
                    f"(different: {', '.join(changed)})",
                    hint=f"use another -o, or delete {self.root} to start over",
                )
            return True
        if (self.output / CARD_FILE).exists():
            raise DistillError(
                f"{self.output} already holds a distilled model", hint="give -o a new folder"
            )
        if self.output.exists() and any(self.output.iterdir()):
            raise DistillError(
                f"{self.output} exists and is not empty; swerm writes the student into a new "
                "folder (or resumes its own unfinished one)",
                hint="give -o a new folder",
            )
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_json(state, {"fingerprint": self.fingerprint})
        return False

    # --- checkpoints of one phase ---

    def latest(self, phase: str) -> Path | None:
        """The newest complete checkpoint of ``phase``."""
        folder = self.root / phase
        found = sorted(folder.glob("ckpt-*"), key=lambda p: int(p.name.split("-")[1]))
        return found[-1] if found else None

    def save(self, phase: str, step: int, weights: dict[str, Any], states: dict[str, Any]) -> Path:
        """Write checkpoint ``step`` of ``phase``; keeps the last :data:`KEEP`."""
        final = self._write(self.root / phase, f"ckpt-{step:08d}", weights, states)
        older = sorted((self.root / phase).glob("ckpt-*"))[:-KEEP]
        for path in older:
            shutil.rmtree(path, ignore_errors=True)
        return final

    def finish(self, phase: str, weights: dict[str, Any], states: dict[str, Any]) -> None:
        """Mark ``phase`` as done with its final weights (and drop its checkpoints)."""
        self._write(self.root / phase, "done", weights, states)
        for path in (self.root / phase).glob("ckpt-*"):
            shutil.rmtree(path, ignore_errors=True)

    def done(self, phase: str) -> Path | None:
        path = self.root / phase / "done"
        return path if path.is_dir() else None

    def _write(
        self, parent: Path, name: str, weights: dict[str, Any], states: dict[str, Any]
    ) -> Path:
        import torch
        from safetensors.torch import save_file

        parent.mkdir(parents=True, exist_ok=True)
        final = parent / name
        temporary = parent / f".tmp-{name}-{os.getpid()}"
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir()
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in weights.items()}
        save_file(tensors, str(temporary / "weights.safetensors"))
        torch.save(states, temporary / "states.pt")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(temporary, final)
        return final

    # --- small JSON results ---

    def get(self, name: str) -> Any:
        path = self.root / f"{name}.json"
        return orjson.loads(path.read_bytes()) if path.is_file() else None

    def put(self, name: str, value: Any) -> None:
        atomic_write_json(self.root / f"{name}.json", value)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def load(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The weights and states of a checkpoint (or a ``done`` folder)."""
    import torch
    from safetensors.torch import load_file

    weights = load_file(str(path / "weights.safetensors"))
    states = torch.load(path / "states.pt", weights_only=True)
    return weights, states
