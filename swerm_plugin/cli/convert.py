"""``swerm convert seq-cls``: a YES/NO verifier as a one-logit classifier for ``/classify``."""

from __future__ import annotations

from pathlib import Path

import click

from swerm_plugin.cli.options import config_from, json_option, print_json, say


@click.group("convert")
def convert_group() -> None:
    """Convert verifier checkpoints into shapes inference servers serve best."""


@convert_group.command("seq-cls")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("target", type=click.Path(path_type=Path))
@click.option(
    "--verdict-tokens",
    nargs=2,
    metavar="YES NO",
    help="The two verdict strings, YES first (default: those of the configured verifier "
    "preset or template).",
)
@click.option("--verifier", help="Verifier preset whose verdict tokens to use.")
@json_option
def seq_cls_command(
    source: Path,
    target: Path,
    verdict_tokens: tuple[str, str] | None,
    verifier: str | None,
    as_json: bool,
) -> int:
    """Write the causal-LM verifier in SOURCE to TARGET as a one-logit sequence classifier
    whose sigmoid is P(YES) over the two verdict tokens (score row = LM head[YES] - LM
    head[NO]). Serve TARGET with `vllm serve TARGET --runner pooling` and score it with
    `backend = "classify"`."""
    from swerm_plugin.convert import convert_seq_cls
    from swerm_plugin.plugins.manager import get_hooks

    if verdict_tokens is None:
        config = config_from(verifier=verifier)
        template = get_hooks(config).template(config.template)
        verdict_tokens = config.verdict_tokens or template.verdict_tokens
    done = convert_seq_cls(source, target, verdict_tokens)
    if as_json:
        print_json(done.as_dict())
    else:
        yes, no = done.verdict_ids
        say(
            f"wrote {done.architecture} to {done.target}: sigmoid(logit) = "
            f"P({done.verdict_tokens[0]!r}) over token ids {yes} / {no}"
        )
        say(f"serve it with: vllm serve {done.target} --runner pooling")
    return 0
