"""Turning verifier checkpoints into the shapes inference servers serve best.

:func:`~swerm_plugin.convert.seq_cls.convert_seq_cls`: a causal-LM verifier with single-token
verdicts as a one-logit sequence classifier (``swerm convert seq-cls``).
"""

from swerm_plugin.convert.seq_cls import Conversion, convert_seq_cls

__all__ = ["Conversion", "convert_seq_cls"]
