"""Score at cluster scale: a Ray Data batch job (``swerm score --engine ray``).

Ray is imported only when a job runs; ``import swerm_plugin.scale`` needs nothing but swerm.
See :func:`score_dataset` and ``docs/scale.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from swerm_plugin.scale.job import ScaleResult, score_dataset

__all__ = ["ScaleResult", "score_dataset"]

_EXPORTS = {
    "ScaleResult": "swerm_plugin.scale.job",
    "score_dataset": "swerm_plugin.scale.job",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name not in _EXPORTS:
        raise AttributeError(f"module 'swerm_plugin.scale' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
