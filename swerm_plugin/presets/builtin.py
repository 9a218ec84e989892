"""The built-in verifier presets. Every fact is cited in ``sources``; docs/presets.md explains
each choice (and what is not known)."""

from __future__ import annotations

from swerm_plugin.presets.preset import VerifierPreset

#: The OpenHands SDK critic client's label order (``openhands-sdk`` 1.58.2,
#: ``openhands/sdk/critic/impl/api/client.py``, ``CriticClient.all_labels``): ``success`` first.
OPENHANDS_CRITIC_LABELS: tuple[str, ...] = (
    "success",
    "sentiment_positive",
    "sentiment_neutral",
    "sentiment_negative",
    "misunderstood_intention",
    "did_not_follow_instruction",
    "insufficient_analysis",
    "insufficient_clarification",
    "improper_tool_use_or_setup",
    "loop_behavior",
    "insufficient_testing",
    "insufficient_debugging",
    "incomplete_implementation",
    "file_management_errors",
    "scope_creep",
    "risky_actions_or_permission",
    "other_agent_issue",
    "infrastructure_external_issue",
    "infrastructure_agent_caused_issue",
    "clarification_or_restatement",
    "correction",
    "direction_change",
    "vcs_update_requests",
    "progress_or_scope_concern",
    "frustration_or_complaint",
    "removal_or_reversion_request",
    "other_user_issue",
)

#: Tokens kept free below a served context (the Verifier's CONTEXT_MARGIN).
_MARGIN = 16
_JUDGE = {"backend": "vllm", "verdict_tokens": ("YES", "NO"), "prefill": "<judgement>"}

SWE_RM = VerifierPreset(
    name="swe-rm",
    summary="SWE-RM (30B-A3B MoE): next token <YES>/<NO>, 256k context",
    weights="not public",
    base="Qwen3MoeForCausalLM (Qwen3-30B-A3B: 48 layers, 128 experts, 8 active)",
    settings={
        "backend": "vllm",
        "template": "swe-rm",
        "verdict_tokens": ("<YES>", "<NO>"),
        "prefill": "",
        "max_tokens": 262144 - _MARGIN,
    },
    serve=(
        *("--dtype", "bfloat16", "--max-model-len", "262144", "--enable-prefix-caching"),
        *("--tensor-parallel-size", "1"),
    ),
    sources=(
        "SWE-RM: Execution-free Feedback For Software Engineering Agents, arXiv 2512.21919 "
        "(reward = softmax over the <YES>/<NO> logits; 30B total / 3B active; up to 256k tokens)",
    ),
    notes="The prompt text is not published: the swe-rm template is swerm's own. A checkpoint "
    "whose config keeps max_position_embeddings 40960 needs a YaRN rope_scaling override "
    "(factor 8 over 32768) to serve 262144 tokens.",
)

SWE_GYM_VERIFIER = VerifierPreset(
    name="swe-gym-verifier",
    summary="SWE-Gym verifier (Qwen2.5-Coder-32B): <judgement>YES/NO, 32k context",
    weights="SWE-Gym/OpenHands-32B-Verifier",
    base="Qwen2ForCausalLM (Qwen2.5-Coder-32B, LoRA r=64 merged to 16-bit)",
    settings={**_JUDGE, "template": "swe-gym", "max_tokens": 32768 - _MARGIN},
    serve=("--dtype", "bfloat16", "--max-model-len", "32768", "--enable-prefix-caching"),
    sources=(
        "SWE-Gym paper, arXiv 2412.21139, appendix B.6 'OpenHands ORM Prompt' (system and user "
        "messages; trajectories over 32k tokens excluded from training)",
        "github.com/All-Hands-AI/OpenHands openhands/utils/trajectory.py format_trajectory "
        "(copied from SWE-Gym scripts/openhands-verifier/aggregate_stats_pass_at_n.ipynb)",
        "github.com/SWE-Gym/SWE-Gym scripts/training/openhands/"
        "train_unsloth_qwen25coder_32b_verifier.py (base model, qwen-2.5 chat template, "
        "response-only loss on '<judgement>YES</judgement>')",
        "github.com/SWE-Gym/SWE-Gym scripts/serving/infer_rm_sglang.py (context 32768)",
    ),
    notes="SWE-Gym's SGLang scorer compared the choices ' YES'/' NO' (with a space); the "
    "trained answer after '<judgement>' is 'YES'/'NO' without one, which is what is read.",
)

R2E_GYM_VERIFIER = VerifierPreset(
    name="r2e-gym-verifier",
    summary="R2E-Gym / DeepSWE verifier (14B): <judgement>YES/NO, 64k budget",
    weights="R2E-Gym/R2EGym-Verifier; DeepSWE: agentica-org/DeepSWE-LoraVerifier-Preview",
    base="R2E-Gym: a 14B Qwen2.5-Coder verifier; DeepSWE: LoRA (rank 64) on Qwen3-14B",
    # R2E-Gym condenses thoughts until system + user + answer fit 65536 - 500 tokens.
    settings={**_JUDGE, "template": "r2e-gym", "max_tokens": 65536 - 512},
    serve=(
        *("--dtype", "bfloat16", "--max-model-len", "76800", "--enable-prefix-caching"),
        *("--hf-overrides", '{"max_position_embeddings": 76800}'),
    ),
    sources=(
        "github.com/agentica-project/R2E-Gym src/r2egym/agenthub/verifiers/"
        "prepare_ef_verifier_input.py traj2verifier_data, deepswe_condense_thoughts",
        "github.com/agentica-project/R2E-Gym src/r2egym/agenthub/verifiers/run_ef_verifier.py "
        "(YES/NO read at completion token 4 from the top-20 logprobs)",
        "github.com/agentica-project/R2E-Gym reproduction/DEEPSWE_TTS_REPRODUCTION.MD "
        "(vllm serve Qwen/Qwen3-14B --max-model-len 76800 with the LoRA verifier)",
        "github.com/agentica-project/R2E-Gym src/r2egym/agenthub/action/action.py "
        "(Action.to_xml_string)",
    ),
    notes="For the DeepSWE LoRA serve the base with --enable-lora --max-lora-rank 64 "
    "--lora-modules verifier=<adapter> and set model to 'verifier'. R2E-Gym's base model for "
    "R2EGym-Verifier is not stated in its code.",
)

OPENHANDS_CRITIC_4B = VerifierPreset(
    name="openhands-critic-4b",
    summary="OpenHands critic 4B: Qwen3 classifier, the 'success' output via /classify",
    weights="OpenHands/openhands-critic-4b-v1.0",
    base="Qwen3ForSequenceClassification (Qwen3-4B), BCE-trained multi-label head",
    settings={
        "backend": "classify",
        "template": "openhands-critic",
        "remote.classify_route": "classify",
        "remote.score_label": 0,
        "remote.activation": "sigmoid",
        "max_tokens": 262144 - _MARGIN,
    },
    serve=(
        *("--runner", "pooling", "--dtype", "bfloat16", "--max-model-len", "262144"),
        "--enable-prefix-caching",
    ),
    sources=(
        "huggingface.co/OpenHands/openhands-critic-4b-v1.0 model card (Qwen3-4B, BCE loss, "
        "26 labels, trained on 64K, serve with --task classify --max-model-len 262144)",
        "openhands-sdk 1.58.2 openhands/sdk/critic/impl/api/client.py (CriticClient: "
        "normalize_messages, apply_chat_template with tools, POST /classify, label order) and "
        "critic.py (APIBasedCritic.evaluate: score = probs['success'])",
        "A Rubric-Supervised Critic from Sparse Real-World Outcomes, arXiv 2603.03800",
    ),
    notes="The head is trained with BCE, so each output is its own sigmoid: swerm asks vLLM for "
    "the raw logits (use_activation false) and applies the sigmoid, since vLLM would softmax "
    "across the labels unless config.json says multi_label_classification. The model card says "
    "26 labels; the SDK's client expects 27 with 'success' first, and reads output 0.",
    extra={"labels": list(OPENHANDS_CRITIC_LABELS)},
)

OPENHANDS_CRITIC_32B = VerifierPreset(
    name="openhands-critic-32b",
    summary="OpenHands critic 32B: per-token value at the last assistant turn via /pooling",
    weights="all-hands/openhands-critic-32b-exp-20250417",
    base="Qwen2ForTokenClassification (Qwen2.5-Coder-32B-Instruct), one regression output",
    settings={
        "backend": "classify",
        "template": "openhands-critic-value",
        "remote.classify_route": "pooling",
        "remote.score_label": 0,
        "remote.activation": "raw",
        "max_tokens": 32768 - _MARGIN,
    },
    serve=("--runner", "pooling", "--dtype", "bfloat16", "--max-model-len", "32768"),
    sources=(
        "huggingface.co/all-hands/openhands-critic-32b-exp-20250417 model card (base "
        "Qwen2.5-Coder-32B-Instruct, token-classification)",
        "openhands.dev/blog/sota-on-swe-bench-verified-with-inference-time-scaling-and-critic-"
        "model (TD-trained value head, 60.6% -> 66.4% with 5 rollouts)",
        "github.com/xingyaoww/verl verl/trainer/fsdp_rm_trainer.py (num_labels 1, MSE on the "
        "raw logit) and verl/utils/dataset/multiturn_rm_dataset.py (value at the <|im_end|> of "
        "each assistant turn)",
    ),
    notes="The exact message layout of its training data is not published; the value is a "
    "regression output, read raw and clipped to [0, 1] (flagged approximate when clipped).",
)

BUILTIN_PRESETS: tuple[VerifierPreset, ...] = (
    SWE_RM,
    SWE_GYM_VERIFIER,
    R2E_GYM_VERIFIER,
    OPENHANDS_CRITIC_4B,
    OPENHANDS_CRITIC_32B,
)
