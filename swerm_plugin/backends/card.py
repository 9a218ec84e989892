"""What a model folder's ``swerm-card.json`` tells the backends that load it.

``swerm distill`` writes the card beside the weights of the small verifier it trains. Its
``temperature`` was fitted on a validation split after training; the backends that score with
the folder (``transformers`` directly, ``vllm`` and ``openai`` when ``remote.tokenizer`` or
``model`` names the folder) divide the verdict logits by it, so ``Score.raw`` is already the
calibrated P(YES), and every score records the temperature (``Score.temperature``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from swerm_plugin.errors import BackendUnavailable

CARD_FILE = "swerm-card.json"
CARD_FORMAT = "swerm-card"
CARD_VERSION = 1

log = logging.getLogger("swerm.backends")


@dataclass(frozen=True)
class ModelCard:
    """The parts of a card a backend needs."""

    path: Path
    temperature: float
    template: str | None = None
    template_version: str | None = None
    verdict_tokens: tuple[str, str] | None = None


def read_card(folder: str | Path | None) -> ModelCard | None:
    """The card in ``folder``, or ``None`` when ``folder`` is not a local folder with one.

    :raises BackendUnavailable: the card exists but is malformed (scoring without its
        temperature would be silently wrong).
    """
    if not folder:
        return None
    path = Path(folder).expanduser() / CARD_FILE
    if not path.is_file():
        return None
    try:
        data: Any = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise BackendUnavailable(f"{path}: cannot read the model card ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != CARD_FORMAT:
        raise BackendUnavailable(f"{path}: not a swerm model card (no format '{CARD_FORMAT}')")
    temperature = data.get("temperature")
    if not (
        isinstance(temperature, int | float) and math.isfinite(temperature) and temperature > 0
    ):
        raise BackendUnavailable(f"{path}: 'temperature' must be a positive number")
    found = data.get("template")
    template: dict[str, Any] = found if isinstance(found, dict) else {}
    verdicts = data.get("verdict_tokens")
    return ModelCard(
        path=path,
        temperature=float(temperature),
        template=template.get("name"),
        template_version=template.get("version"),
        verdict_tokens=tuple(verdicts) if _two_strings(verdicts) else None,  # type: ignore[arg-type]
    )


def _two_strings(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)


def check_template(card: ModelCard | None, template: str) -> None:
    """Warn when the configured template is not the one the model folder was trained with."""
    if card is not None and card.template and card.template != template:
        log.warning(
            "%s was trained on prompts of template '%s', but template '%s' is configured; "
            "its scores are only meaningful with its own template",
            card.path.parent,
            card.template,
            template,
        )


def scale_probability(p: float, temperature: float) -> float:
    """``sigmoid(logit(p) / T)``: P(YES) with the verdict logits divided by ``T`` (0 and 1
    stay where they are)."""
    if temperature == 1.0 or p <= 0.0 or p >= 1.0:
        return p
    z = (math.log(p) - math.log1p(-p)) / temperature
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
