"""swerm: execution-free reward-model scoring for coding-agent harnesses."""

from importlib import metadata

from swerm_plugin.config import SwermConfig, load_config
from swerm_plugin.hookspecs import hookimpl
from swerm_plugin.trajectory import CandidateGroup, Decision, Score, Step, Trajectory
from swerm_plugin.verifier import Verifier

try:
    __version__ = metadata.version("swerm-plugin")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "CandidateGroup",
    "Decision",
    "Score",
    "Step",
    "SwermConfig",
    "Trajectory",
    "Verifier",
    "__version__",
    "hookimpl",
    "load_config",
]
