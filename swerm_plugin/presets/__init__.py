"""Verifier presets: one word that sets how a published verifier must be fed and read.

A preset names the template (the verifier's exact input format), the backend and head (which
endpoint, which output, which activation), the verdict tokens and prefill, the context it was
trained for, and the ``vllm serve`` flags that serve it. ``verifier = "NAME"`` in the config
(``swerm score --verifier NAME``) applies it; the model path or served name is still the
user's. Presets are registered through the ``swerm_register_presets`` hook
(:mod:`swerm_plugin.builtins.presets` registers the built-in ones).
"""

from swerm_plugin.presets.preset import (
    VerifierPreset,
    apply_preset,
    get_preset,
    preset_names,
    resolve_verifier,
)

__all__ = ["VerifierPreset", "apply_preset", "get_preset", "preset_names", "resolve_verifier"]
