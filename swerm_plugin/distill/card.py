"""The output folder of ``swerm distill``: the student as a plain model folder, and its
``swerm-card.json`` (what it was distilled from, how, its temperature and its metrics).

The weights and tokenizer files go in first; the card last, so a folder with a card is complete.
The backends read the card's ``temperature`` (:mod:`swerm_plugin.backends.card`).
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from swerm_plugin.backends.card import CARD_FILE, CARD_FORMAT, CARD_VERSION
from swerm_plugin.distill.checkpoint import WORK_DIR
from swerm_plugin.distill.student import save_model_folder
from swerm_plugin.jsonl import atomic_write_json, current_umask

#: The loss, named in the card.
OBJECTIVE = "forward KL(teacher top-K, temperature-scaled || student over the same tokens)"


def card_header(*, temperature: float, fitted_on: str) -> dict[str, Any]:
    """The fields every card starts with."""
    from swerm_plugin import __version__

    return {
        "format": CARD_FORMAT,
        "format_version": CARD_VERSION,
        "method": "FIRST",
        "objective": OBJECTIVE,
        "swerm_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "temperature": temperature,
        "temperature_fitted_on": fitted_on,
    }


def write_output(
    folder: Path, model: Any, tokenizer: Any, source: str, card: dict[str, Any]
) -> None:
    """Write the model files into ``folder`` (beside the work area), then the card."""
    staging = folder / WORK_DIR / "model"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    save_model_folder(model, tokenizer, source, staging)
    mode = 0o666 & ~current_umask()  # safetensors writes its file 0600: readable like the rest
    for item in staging.iterdir():
        os.chmod(item, mode)
        os.replace(item, folder / item.name)
    atomic_write_json(folder / CARD_FILE, card)
