"""The FIRST objective at the verdict position, and the label objective it can be mixed with.

* Transfer targets: the teacher's top-K log-probs, divided by the teacher's temperature and
  renormalised over the K tokens ("trustworthy maximization"); with the rest bucket the mass the
  teacher left outside its top-K is a (K+1)-th outcome, scaled with them.
* FIRST loss: the forward KL divergence ``KL(teacher ‖ student)``, with the student's
  distribution restricted to the same K tokens (renormalised over them), or, with the rest
  bucket, its log-probs of the K tokens plus the mass of every other token.
* Label loss: cross-entropy of the resolved label against the softmax over the two verdict
  logits (the verifier's own score).

torch is imported inside the functions: importing swerm_plugin.distill stays cheap.
"""

from __future__ import annotations

from typing import Any

#: Floor of the rest bucket's mass: a top-K that holds all the mass (rounding) stays finite.
REST_FLOOR = 1e-12


def _with_rest(logprobs: Any) -> Any:
    """``logprobs`` of K tokens with a last column for everything else, ``log(1 - Σ p)``."""
    import torch

    mass = torch.logsumexp(logprobs, dim=-1, keepdim=True)
    rest = torch.log(torch.clamp(-torch.expm1(torch.clamp(mass, max=0.0)), min=REST_FLOOR))
    return torch.cat([logprobs, rest], dim=-1)


def transfer_targets(top_logprobs: Any, temperature: float, *, rest: bool) -> Any:
    """Log-probs of the transferred distribution, shape ``(batch, K)`` or ``(batch, K + 1)``."""
    import torch

    values = _with_rest(top_logprobs) if rest else top_logprobs
    return torch.log_softmax(values / temperature, dim=-1)


def student_logprobs(logits: Any, top_ids: Any, *, rest: bool) -> Any:
    """The student's log-probs over the teacher's K tokens (``top_ids``, shape ``(batch, K)``)
    from its next-token ``logits`` ``(batch, vocab)``: renormalised over the K, or with the rest
    of the vocabulary as a last column."""
    import torch

    full = torch.log_softmax(logits.float(), dim=-1)
    picked = full.gather(1, top_ids)
    return _with_rest(picked) if rest else torch.log_softmax(picked, dim=-1)


def first_loss(student: Any, targets: Any) -> Any:
    """Mean forward KL divergence ``Σ t (log t − log s)`` over the batch."""
    import torch

    return torch.sum(targets.exp() * (targets - student), dim=-1).mean()


def label_loss(logits: Any, verdict_ids: Any, labels: Any) -> Any:
    """Mean cross-entropy of ``labels`` (1 resolved, 0 not, -1 unknown: left out) against the
    two-way softmax of the verdict logits; 0 when no row has a label."""
    import torch

    known = labels >= 0
    if not bool(known.any()):
        return logits.new_zeros((), dtype=torch.float32)
    pair = logits.float().gather(1, verdict_ids)[known]
    target = (1 - labels[known]).long()  # column 0 is YES
    return torch.nn.functional.cross_entropy(pair, target)


def verdict_logit(logits: Any, verdict_ids: Any) -> Any:
    """``l_yes − l_no`` per row, in float64: the student's score before its temperature."""
    pair = logits.double().gather(1, verdict_ids)
    return pair[:, 0] - pair[:, 1]
