"""The local backend: any causal LM loaded with transformers, scored in-process.

P(YES) is the softmax over the two verdict tokens' logits at the position after the prompt
(divided by the temperature of the folder's ``swerm-card.json``, when it has one); with
``config.topk`` the K most likely next tokens and their log-probs are recorded too.
Prompts are batched by a token budget, longest first, left-padded; position ids are computed from
the padding mask, so a prompt's score does not depend on what else is in its batch. Only the last
position goes through the LM head (``logits_to_keep=1``).

torch and transformers are imported when the backend is created, never at plugin load.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from swerm_plugin.backends.base import BackendUnavailable, RewardBackend
from swerm_plugin.backends.card import read_card
from swerm_plugin.config import SwermConfig
from swerm_plugin.model import Score, TopLogprobs
from swerm_plugin.prompts.prompt import Prompt

_INSTALL_HINT = "install the local extra: pip install 'swerm-plugin[local]'"


def plan_batches(lengths: Sequence[int], batch_tokens: int) -> list[list[int]]:
    """Group prompt indices into batches of at most ``batch_tokens`` padded tokens.

    Longest first (an out-of-memory error shows up on the first batch, not the last); each batch
    is ``len(batch) * longest <= batch_tokens``, except that a single prompt longer than the
    budget still gets a batch of its own.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    batches: list[list[int]] = []
    for index in order:
        if batches and (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= batch_tokens:
            batches[-1].append(index)
        else:
            batches.append([index])
    return batches


def pad_left(token_ids: Sequence[Sequence[int]], pad: int) -> dict[str, Any]:
    """One left-padded batch: ``input_ids``, ``attention_mask`` and ``position_ids`` counted
    from each row's first real token, so a row's result does not depend on its batch."""
    import torch

    longest = max(len(ids) for ids in token_ids)
    input_ids = torch.full((len(token_ids), longest), pad, dtype=torch.long)
    mask = torch.zeros((len(token_ids), longest), dtype=torch.long)
    for row, ids in enumerate(token_ids):
        input_ids[row, longest - len(ids) :] = torch.tensor(ids, dtype=torch.long)
        mask[row, longest - len(ids) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return {"input_ids": input_ids, "attention_mask": mask, "position_ids": positions}


def pad_id(tokenizer: Any) -> int:
    """The id that pads a batch: the tokenizer's pad token, else its end-of-sequence token."""
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = tokenizer.eos_token_id or 0
    return int(pad)


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


class TransformersBackend(RewardBackend):
    """Scores with a local (or hub) causal LM through transformers + torch.

    The tokenizer loads at construction (rendering needs it); the weights load on the first
    :meth:`score_batch`, so ``swerm score --explain`` never pays for them.
    """

    name: ClassVar[str] = "transformers"

    def __init__(self, config: SwermConfig) -> None:
        super().__init__(config)
        if not config.model:
            raise BackendUnavailable(
                "the transformers backend needs a model: set model (or pass --model) to a local "
                "folder or a hub id"
            )
        try:
            import torch  # noqa: F401
            from transformers import AutoConfig, AutoTokenizer
        except ImportError as exc:
            raise BackendUnavailable(f"transformers backend: {exc}; {_INSTALL_HINT}") from exc
        self.model_name = config.model
        source = Path(config.model).expanduser()
        if not source.exists() and _looks_like_path(config.model):
            raise BackendUnavailable(
                f"model folder {source} does not exist; build one (swerm_plugin.testing."
                "make_tiny_model) or point model at a folder with config.json, the tokenizer "
                "files and *.safetensors weights"
            )
        self._source = str(source) if source.exists() else config.model
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                self._source, trust_remote_code=config.trust_remote_code
            )
            model_config = AutoConfig.from_pretrained(
                self._source, trust_remote_code=config.trust_remote_code
            )
        except (OSError, ValueError) as exc:
            raise BackendUnavailable(f"cannot load model '{config.model}': {exc}") from exc
        self.context_length = getattr(model_config, "max_position_embeddings", None)
        self.card = read_card(self._source) if source.exists() else None
        self.dtype = self._dtype()
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._keep_last_only = True

    @classmethod
    def topk_unsupported(cls, config: SwermConfig) -> str | None:
        return None

    # --- model loading ---

    @property
    def device(self) -> str:
        import torch

        wanted = self.config.device
        if wanted != "auto":
            return wanted
        return "cuda" if torch.cuda.is_available() else "cpu"

    def _dtype(self) -> Any:
        import torch

        if self.config.dtype == "auto":
            return torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        dtype = getattr(torch, self.config.dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise BackendUnavailable(
                f"dtype '{self.config.dtype}' is not a torch dtype; use auto, float32, "
                "bfloat16 or float16"
            )
        return dtype

    @property
    def model(self) -> Any:
        """The loaded model (loaded on first use, once)."""
        return self.load()

    def check(self) -> None:
        """Load the weights now: a model that cannot load fails before any agent runs."""
        self.load()

    def load(self) -> Any:
        """Load the weights now, if not loaded yet, and return the model."""
        with self._load_lock:
            if self._model is None:
                self._model = self._load_model()
            return self._model

    def _load_model(self) -> Any:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM

        kwargs: dict[str, Any] = {
            "use_safetensors": True,
            "trust_remote_code": self.config.trust_remote_code,
        }
        dtype_key = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
        kwargs[dtype_key] = self.dtype
        spread = self.config.device == "auto" and torch.cuda.device_count() > 1
        if spread:
            kwargs["device_map"] = "auto"
        try:
            model: Any = AutoModelForCausalLM.from_pretrained(self._source, **kwargs)
        except (OSError, ValueError) as exc:
            raise BackendUnavailable(
                f"cannot load weights of '{self.model_name}': {exc} (swerm loads safetensors "
                "only; convert .bin weights with save_pretrained(safe_serialization=True))"
            ) from exc
        if not spread:
            model.to(self.device)
        return model.eval()

    # --- scoring ---

    def score_batch(self, prompts: Sequence[Prompt]) -> list[Score]:
        scores: list[Score | None] = [None] * len(prompts)
        ready: list[int] = []
        for index, prompt in enumerate(prompts):
            problem = self._unscorable(prompt)
            if problem is None:
                ready.append(index)
            else:
                scores[index] = Score(error=problem)
        if ready:
            self.load()  # weights that cannot load are an error to raise, not a per-prompt score
        lengths = [len(prompts[i].token_ids or ()) for i in ready]
        for batch in plan_batches(lengths, self.config.batch_tokens):
            members = [ready[i] for i in batch]
            for index, score in zip(members, self._run([prompts[i] for i in members]), strict=True):
                scores[index] = score
        return [score for score in scores if score is not None]

    def _unscorable(self, prompt: Prompt) -> str | None:
        if not prompt.reads_verdict:
            return (
                f"template '{prompt.template}' is read by a classification or value head, not "
                "by verdict tokens; serve the model with vLLM's pooling runner and score it with "
                "the classify backend (its verifier preset sets that)"
            )
        if prompt.token_ids is None or prompt.verdict_token_ids is None:
            return (
                "prompt has no token ids; render it with this backend's tokenizer "
                "(Verifier does) before scoring with the transformers backend"
            )
        if not prompt.token_ids:
            return "prompt is empty"
        if self.context_length is not None and len(prompt.token_ids) > self.context_length:
            return (
                f"prompt has {len(prompt.token_ids)} tokens but the model's context is "
                f"{self.context_length}; set max_tokens to at most {self.context_length}"
            )
        return None

    def _run(self, batch: Sequence[Prompt]) -> list[Score]:
        """Score one batch; on failure retry its prompts one by one, so one bad prompt (or an
        out-of-memory batch) does not sink the others."""
        start = time.perf_counter()
        try:
            results = self.forward(
                [p.token_ids or [] for p in batch], _verdicts(batch), topk=self.config.topk or 0
            )
        except Exception as exc:
            self._release_cached_memory()
            if len(batch) > 1:
                return [score for prompt in batch for score in self._run([prompt])]
            return [Score(error=f"{type(exc).__name__}: {exc}")]
        latency = time.perf_counter() - start
        temperature = None if self.card is None else self.card.temperature
        return [
            Score(raw=p, topk=top, temperature=temperature, latency_s=latency) for p, top in results
        ]

    def forward(
        self,
        token_ids: Sequence[Sequence[int]],
        verdicts: Sequence[tuple[int, int]],
        *,
        topk: int = 0,
    ) -> list[tuple[float, TopLogprobs | None]]:
        """P(first verdict token) for each left-padded row of one batch, and with ``topk`` the
        row's ``topk`` most likely next tokens (log-probs over the whole vocabulary)."""
        import torch

        model = self.model
        device = model.device
        batch = pad_left(token_ids, pad_id(self.tokenizer))
        inputs = {name: tensor.to(device) for name, tensor in batch.items()}
        inputs["use_cache"] = False
        with torch.inference_mode():
            logits = self._last_logits(model, inputs)
            pairs = torch.tensor(verdicts, dtype=torch.long, device=logits.device)
            chosen = logits.gather(1, pairs).double()
            if self.card is not None:
                chosen = chosen / self.card.temperature
            probabilities = torch.softmax(chosen, dim=-1)[:, 0].tolist()
            tops: list[TopLogprobs | None] = [None] * len(probabilities)
            if topk:
                logprobs = torch.log_softmax(logits.float(), dim=-1)
                values, ids = logprobs.topk(min(topk, logprobs.shape[-1]), dim=-1)
                tops = [
                    TopLogprobs(ids=row_ids, logprobs=row_values)
                    for row_ids, row_values in zip(ids.tolist(), values.tolist(), strict=True)
                ]
        return list(zip(probabilities, tops, strict=True))

    def _last_logits(self, model: Callable[..., Any], inputs: dict[str, Any]) -> Any:
        if self._keep_last_only:
            try:
                return model(**inputs, logits_to_keep=1).logits[:, -1, :]
            except TypeError:  # a model whose forward predates logits_to_keep
                self._keep_last_only = False
        return model(**inputs).logits[:, -1, :]

    def _release_cached_memory(self) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def close(self) -> None:
        self._model = None
        gc.collect()
        self._release_cached_memory()


def _verdicts(batch: Sequence[Prompt]) -> list[tuple[int, int]]:
    return [p.verdict_token_ids for p in batch if p.verdict_token_ids is not None]
