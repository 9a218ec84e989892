"""Live integrations: swerm inside mini-swe-agent, the OpenHands SDK and SWE-agent runs.

Each framework module imports its framework lazily (inside functions or at its own import), so
``import swerm_plugin`` never pulls a framework in. What they share is in :mod:`.common`.
"""

from swerm_plugin.errors import IntegrationError
from swerm_plugin.integrations.common import (
    Attempt,
    SwermSession,
    TaskAttempts,
    get_session,
    use_session,
)

__all__ = [
    "Attempt",
    "IntegrationError",
    "SwermSession",
    "TaskAttempts",
    "get_session",
    "use_session",
]
