"""FIRST distillation: a large verifier's top-K verdict-position probabilities, made calibrated
by a temperature, transferred into a small causal LM that shares its tokenizer
(``swerm distill``; docs/distill.md).

torch, transformers, accelerate and peft are imported only when a student is loaded or trained.
"""

from swerm_plugin.distill.data import SplitPlan
from swerm_plugin.distill.pipeline import DistillOptions, DistillResult, distill
from swerm_plugin.distill.train import TrainOptions

__all__ = ["DistillOptions", "DistillResult", "SplitPlan", "TrainOptions", "distill"]
