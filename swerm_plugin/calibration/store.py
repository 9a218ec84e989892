"""Reading calibrator files, cached by path and modification time.

``swerm_calibrate`` runs once per scored trajectory; the cache makes that a dictionary lookup,
and a refit file (new mtime or size) is picked up without restarting the process.
"""

from __future__ import annotations

import functools
from pathlib import Path

import orjson

from swerm_plugin.calibration.calibrators import Calibrator, calibrator_from_dict
from swerm_plugin.errors import CalibrationError


def load_calibrator(path: str | Path) -> Calibrator:
    """The fitted calibrator saved at ``path`` (see :meth:`Calibrator.save`).

    Returns the same object for the same unchanged file; callers must not refit it.
    """
    resolved = Path(path).expanduser().resolve()
    try:
        stat = resolved.stat()
    except OSError as exc:
        raise CalibrationError(
            f"calibrator file {path} cannot be read ({exc.strerror}); fit one with "
            "`swerm calibrate` or unset `calibrator` in the config"
        ) from None
    return _load(str(resolved), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _load(path: str, mtime_ns: int, size: int) -> Calibrator:
    try:
        data = orjson.loads(Path(path).read_bytes())
    except orjson.JSONDecodeError as exc:
        raise CalibrationError(f"{path}: not valid JSON: {exc}") from None
    return calibrator_from_dict(data, origin=path)
