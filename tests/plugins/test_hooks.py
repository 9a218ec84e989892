"""One test per hook (named ``test_hook_<hook name>``; enforced below), plus the typed wrapper."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any, ClassVar

import click
import click.testing
import pluggy
import pytest

from swerm_plugin import hookimpl
from swerm_plugin.backends.base import RewardBackend
from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import PluginError, VerifierError
from swerm_plugin.model import CandidateGroup, Score, Step, Trajectory
from swerm_plugin.plugins.manager import Hooks, build_plugin_manager
from swerm_plugin.prompts.prompt import Prompt
from swerm_plugin.readers.base import TrajectoryAdapter

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent


def make_trajectory(patch: str = "diff\n+x\n", **kw: Any) -> Trajectory:
    return Trajectory(instance_id="repo__repo-1", source="test", patch=patch, **kw)


@pytest.fixture
def pm(monkeypatch: pytest.MonkeyPatch) -> pluggy.PluginManager:
    monkeypatch.setenv("SWERM_DISABLE_PLUGIN_AUTOLOAD", "1")
    return build_plugin_manager()


def hooks_for(pm: pluggy.PluginManager, **config: Any) -> Hooks:
    return Hooks(pm, SwermConfig(**config))


def all_hook_names() -> list[str]:
    pm = build_plugin_manager({"SWERM_DISABLE_PLUGIN_AUTOLOAD": "1"})
    return sorted(name for name in dir(pm.hook) if name.startswith("swerm_"))


def test_every_hook_has_a_test() -> None:
    test_names = set()
    for path in TESTS.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                test_names.add(node.name)
    missing = [h for h in all_hook_names() if f"test_hook_{h}" not in test_names]
    assert not missing, f"hooks without a test_hook_<name> test: {missing}"


def test_docs_list_every_hook_with_its_arguments() -> None:
    docs = (REPO / "docs" / "hooks.md").read_text()
    pm = build_plugin_manager({"SWERM_DISABLE_PLUGIN_AUTOLOAD": "1"})
    for name in all_hook_names():
        caller = getattr(pm.hook, name)
        argnames = list(caller.spec.argnames)
        match = re.search(rf"`{name}\(([^)]*)\)`", docs)
        assert match, f"docs/hooks.md does not document {name}"
        documented = [a.strip() for a in match.group(1).split(",") if a.strip()]
        assert documented == argnames, f"{name}: docs say {documented}, spec has {argnames}"


def test_every_pipeline_hook_has_a_builtin_default(pm: pluggy.PluginManager) -> None:
    for name in all_hook_names():
        caller = getattr(pm.hook, name)
        if not caller.spec.opts.get("firstresult"):
            continue
        defaults = [i for i in caller.get_hookimpls() if i.trylast]
        assert defaults, f"{name} has no built-in trylast default"
        assert all(i.plugin_name.startswith("swerm_plugin.") for i in defaults)


def test_hook_swerm_register_templates(
    pm: pluggy.PluginManager, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from swerm_plugin.plugins import manager
    from swerm_plugin.prompts.templates import SweRmTemplate
    from swerm_plugin.testing import run_cli

    class Terse(SweRmTemplate):
        name = "terse"
        version = "3"
        system = "Judge tersely."

    class Plugin:
        @hookimpl
        def swerm_register_templates(self, register: Any) -> None:
            register(Terse())

    pm.register(Plugin())
    assert hooks_for(pm).template("terse").version == "3"
    assert set(hooks_for(pm).templates()) >= {"terse", "swe-rm", "swe-gym", "r2e-gym"}
    # The plugin's template works in `swerm score`, through the process-wide manager.
    manager.get_plugin_manager().register(Plugin(), name="terse-templates")
    traj = tmp_path / "t.traj.json"
    traj.write_text(
        '{"trajectory_format": "mini-swe-agent-1.1", "instance_id": "a__b-1", "info": {}, '
        '"messages": [{"role": "user", "content": "fix it"}]}'
    )
    result = run_cli("score", traj, "--model", tiny_model_dir, "--template", "terse", "--explain")
    assert result.exit_code == 0, result.output
    assert "template terse v3" in result.stdout and "Judge tersely." in result.stdout
    refused = run_cli("score", traj, "--model", tiny_model_dir, "--template", "nope")
    assert refused.exit_code == 1 and "unknown prompt template 'nope'" in refused.stderr
    assert "terse" in refused.stderr  # the known names include the plugin's


def test_hook_swerm_register_presets(
    pm: pluggy.PluginManager, tiny_model_dir: Path, tmp_path: Path
) -> None:
    import json

    from swerm_plugin.plugins import manager
    from swerm_plugin.presets import VerifierPreset, resolve_verifier
    from swerm_plugin.testing import run_cli

    mine = VerifierPreset(
        name="tiny-judge",
        summary="a test judge",
        weights="none",
        base="tiny",
        settings={"template": "r2e-gym", "max_tokens": 900},
        serve=("--dtype", "float32"),
        sources=("this test",),
    )
    # A plugin may also replace a built-in preset: it registers before the built-ins.
    replaced = VerifierPreset(
        name="swe-rm",
        summary="replaced",
        weights="w",
        base="b",
        settings={},
        serve=(),
        sources=("this test",),
    )

    class Plugin:
        @hookimpl
        def swerm_register_presets(self, register: Any) -> None:
            register(mine)
            register(replaced)

    pm.register(Plugin())
    hooks = hooks_for(pm)
    assert hooks.preset("tiny-judge") is mine and hooks.preset("swe-rm") is replaced
    builtin = {
        "swe-gym-verifier",
        "r2e-gym-verifier",
        "openhands-critic-4b",
        "openhands-critic-32b",
    }
    assert builtin <= set(hooks.presets())
    resolved = resolve_verifier(SwermConfig(verifier="tiny-judge"), hooks)
    assert (resolved.template, resolved.max_tokens) == ("r2e-gym", 900)
    assert resolved.source_of("template") == "preset tiny-judge"
    # Through the process-wide manager: `swerm presets` lists it, `score --verifier` uses it.
    manager.get_plugin_manager().register(Plugin(), name="tiny-presets")
    listed = run_cli("presets", "--json")
    assert listed.exit_code == 0, listed.output
    assert "tiny-judge" in [entry["name"] for entry in json.loads(listed.stdout)]
    traj = tmp_path / "t.traj.json"
    traj.write_text(
        '{"trajectory_format": "mini-swe-agent-1.1", "instance_id": "a__b-1", "info": {}, '
        '"messages": [{"role": "user", "content": "fix it"}]}'
    )
    result = run_cli(
        "score", traj, "--model", tiny_model_dir, "--verifier", "tiny-judge", "--explain"
    )
    assert result.exit_code == 0, result.output
    assert "template r2e-gym v3" in result.stdout and "(budget 900)" in result.stdout
    unknown = run_cli("score", traj, "--model", tiny_model_dir, "--verifier", "nope")
    assert unknown.exit_code == 1
    assert "unknown verifier preset 'nope'" in unknown.stderr and "tiny-judge" in unknown.stderr


def test_hook_swerm_register_calibrators(pm: pluggy.PluginManager) -> None:
    import numpy as np

    from swerm_plugin.calibration import Calibrator, calibrator_from_dict, make_calibrator
    from swerm_plugin.plugins import manager

    class Shift(Calibrator):
        method = "shift-test"
        _state_attrs = ("offset_",)

        def _fit(self, p: np.ndarray, y: np.ndarray) -> None:
            self.offset_ = float(y.mean() - p.mean())

        def _transform(self, p: np.ndarray) -> np.ndarray:
            return np.asarray(p + self.offset_)

    class Plugin:
        @hookimpl
        def swerm_register_calibrators(self, register: Any) -> None:
            register(Shift)

    pm.register(Plugin())
    assert hooks_for(pm).calibrators()["shift-test"] is Shift
    assert {"temperature", "platt", "isotonic"} <= set(hooks_for(pm).calibrators())
    # make_calibrator and calibrator files go through the same registry.
    manager.get_plugin_manager().register(Plugin(), name="shift-calibrators")
    fitted = make_calibrator("shift-test").fit([0.2, 0.4, 0.6, 0.8], [0, 1, 1, 1])
    assert fitted.offset_ == pytest.approx(0.25)
    again = calibrator_from_dict(fitted.to_dict())
    assert isinstance(again, Shift) and again.transform([0.5])[0] == pytest.approx(0.75)


def test_hook_swerm_configure(pm: pluggy.PluginManager) -> None:
    seen: list[SwermConfig] = []

    class Plugin:
        @hookimpl
        def swerm_configure(self, config: SwermConfig) -> None:
            seen.append(config)

    hooks = hooks_for(pm, template="swe-gym")
    assert hooks.config.template == "swe-gym"
    pm.register(Plugin())  # registered late: historic, so it still sees the call
    assert [c.template for c in seen] == ["swe-gym"]


def test_hook_swerm_register_backends(pm: pluggy.PluginManager) -> None:
    class EchoBackend(RewardBackend):
        name: ClassVar[str] = "echo"

        def score_batch(self, prompts: Any) -> list[Score]:
            return [Score(raw=0.5) for _ in prompts]

    class Plugin:
        @hookimpl
        def swerm_register_backends(self, register: Any) -> None:
            register(EchoBackend)

    class Replacement(EchoBackend):
        name: ClassVar[str] = "transformers"

    class Override:
        @hookimpl
        def swerm_register_backends(self, register: Any) -> None:
            register(Replacement)

    pm.register(Plugin())
    pm.register(Override())
    backends = hooks_for(pm).backends()
    assert backends["echo"] is EchoBackend
    assert backends["transformers"] is Replacement, "a plugin may replace a built-in backend"
    # Entry-point plugins are registered before the built-ins, so the built-ins must run last
    # for a third-party registration of the same name to win there too.
    builtin = [
        impl
        for impl in pm.hook.swerm_register_backends.get_hookimpls()
        if impl.plugin_name.startswith("swerm_plugin.")
    ]
    assert builtin and all(impl.trylast for impl in builtin)
    assert {"vllm", "openai", "classify"} <= set(backends)
    assert backends["echo"](SwermConfig()).score_batch([None, None]) == [Score(raw=0.5)] * 2


def test_hook_swerm_register_adapters(pm: pluggy.PluginManager) -> None:
    class LinesAdapter(TrajectoryAdapter):
        name: ClassVar[str] = "lines"

        def sniff(self, path: Path, head: bytes) -> bool:
            return head.startswith(b"LINES")

        def read(self, path: Path) -> Any:
            yield make_trajectory()

    class Plugin:
        @hookimpl
        def swerm_register_adapters(self, register: Any) -> None:
            register(LinesAdapter())

    pm.register(Plugin())
    adapters = hooks_for(pm).adapters()
    assert adapters[0].name == "lines", "a third-party adapter is tried before the built-ins"


def test_hook_swerm_register_commands(pm: pluggy.PluginManager) -> None:
    class Plugin:
        @hookimpl
        def swerm_register_commands(self, cli: click.Group) -> None:
            @cli.command("hello")
            def hello() -> None:
                click.echo("hello from a plugin")

    pm.register(Plugin())
    group = click.Group("swerm")
    hooks_for(pm).register_commands(group)
    assert "hello" in group.commands
    result = click.testing.CliRunner().invoke(group, ["hello"])
    assert result.output == "hello from a plugin\n"


def test_hook_swerm_render_prompt(pm: pluggy.PluginManager) -> None:
    class Plugin:
        @hookimpl
        def swerm_render_prompt(self, trajectory: Trajectory, template: str) -> Prompt | None:
            if template != "custom":
                return None
            return Prompt(
                content_hash=trajectory.content_hash(),
                template="custom",
                template_version="7",
                text="JUDGE: " + trajectory.patch,
            )

    pm.register(Plugin())
    prompt = hooks_for(pm).render_prompt(
        make_trajectory(), template="custom", tokenizer=None, budget=None
    )
    assert prompt.text == "JUDGE: diff\n+x\n"
    assert prompt.template_version == "7"


def test_hook_swerm_calibrate(pm: pluggy.PluginManager) -> None:
    hooks = hooks_for(pm)
    assert hooks.calibrate(make_trajectory(), Score(raw=0.25)) == 0.25  # default: unchanged

    class Squash:
        @hookimpl
        def swerm_calibrate(self, score: Score) -> float:
            assert score.raw is not None
            return score.raw / 2

    class Broken:
        @hookimpl(tryfirst=True)
        def swerm_calibrate(self, score: Score) -> float | None:
            return 3.0 if score.raw == 0.9 else None

    pm.register(Squash())
    pm.register(Broken())
    assert hooks.calibrate(make_trajectory(), Score(raw=0.25)) == 0.125
    with pytest.raises(PluginError, match=r"returned 3.0, outside \[0, 1\]"):
        hooks.calibrate(make_trajectory(), Score(raw=0.9))


def test_hook_swerm_decide(pm: pluggy.PluginManager) -> None:
    hooks = hooks_for(pm, policy={"threshold": 0.6, "max_attempts": 2})
    accept = hooks.decide(make_trajectory(), Score(raw=0.7), attempt=1)
    assert (accept.action, accept.score, accept.threshold) == ("accept", 0.7, 0.6)
    retry = hooks.decide(make_trajectory(), Score(raw=0.4), attempt=1)
    assert retry.action == "retry" and retry.feedback and "40%" in retry.feedback
    assert hooks.decide(make_trajectory(), Score(raw=0.4), attempt=2).action == "reject"
    empty = hooks.decide(make_trajectory(patch=""), Score(raw=0.99), attempt=2)
    assert empty.action == "reject" and "empty patch" in empty.reason
    broke = hooks.decide(make_trajectory(), Score(error="timeout"), attempt=1)
    assert broke.action == "accept" and "timeout" in broke.reason
    with pytest.raises(VerifierError, match="scoring failed: timeout"):
        hooks_for(pm, on_error="raise").decide(make_trajectory(), Score(error="timeout"), 1)

    class AlwaysReject:
        @hookimpl
        def swerm_decide(self) -> Any:
            from swerm_plugin.model import Decision

            return Decision(action="reject", reason="plugin says no")

    pm.register(AlwaysReject())
    assert hooks.decide(make_trajectory(), Score(raw=0.99), attempt=1).reason == "plugin says no"


def test_hook_swerm_select(pm: pluggy.PluginManager) -> None:
    long_run = [Step(role="assistant", action="ls")] * 5
    group = CandidateGroup(
        instance_id="i",
        candidates=[
            make_trajectory(patch=""),  # empty: always last
            make_trajectory(exit_status="limit"),
            make_trajectory(exit_status="submitted", steps=long_run),
            make_trajectory(exit_status="submitted"),
            make_trajectory(patch="diff\n+x\n+y\n", exit_status="submitted"),
        ],
    )
    scores: list[Score | None] = [
        Score(raw=0.99),
        Score(raw=0.8),
        Score(raw=0.8),
        Score(raw=0.8),
        None,
    ]
    hooks = hooks_for(pm)
    assert hooks.select(group, scores) == [3, 2, 1, 4, 0]

    class Reverse:
        @hookimpl
        def swerm_select(self, group: CandidateGroup) -> list[int]:
            return list(reversed(range(len(group.candidates))))

    class Bad:
        @hookimpl(tryfirst=True)
        def swerm_select(self, scores: list[Score | None]) -> list[int] | None:
            return [0, 0, 0, 0, 0] if scores[4] is None else None

    pm.register(Reverse())
    assert hooks.select(group, [Score(raw=0.1)] * 5) == [4, 3, 2, 1, 0]
    pm.register(Bad())
    with pytest.raises(PluginError, match="expected a permutation"):
        hooks.select(group, scores)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    @hookimpl
    def swerm_trajectory_finished(self, trajectory: Trajectory) -> None:
        self.events.append(("finished", trajectory.instance_id))

    @hookimpl
    def swerm_trajectory_scored(self, trajectory: Trajectory, score: Score) -> None:
        self.events.append(("scored", score.raw))

    @hookimpl
    def swerm_decision_made(self, trajectory: Trajectory, decision: Any) -> None:
        self.events.append(("decided", decision.action))


def test_hook_swerm_trajectory_finished(pm: pluggy.PluginManager) -> None:
    recorder = Recorder()
    pm.register(recorder)
    hooks_for(pm).trajectory_finished(make_trajectory())
    assert recorder.events == [("finished", "repo__repo-1")]


def test_hook_swerm_trajectory_scored(pm: pluggy.PluginManager) -> None:
    recorder = Recorder()
    pm.register(recorder)
    hooks_for(pm).trajectory_scored(make_trajectory(), Score(raw=0.3))
    assert recorder.events == [("scored", 0.3)]


def test_hook_swerm_decision_made(pm: pluggy.PluginManager) -> None:
    recorder = Recorder()
    pm.register(recorder)
    hooks_for(pm).decide(make_trajectory(), Score(raw=0.9), attempt=1)
    assert recorder.events == [("decided", "accept")]
