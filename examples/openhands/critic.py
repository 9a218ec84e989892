"""An OpenHands SDK agent whose finishes are judged by swerm (Python 3.12+).

    export SWERM_CONFIG=examples/swerm.toml     # where the verifier is
    python examples/openhands/critic.py /path/to/git/checkout "the issue text"

With ``LLM_MODEL`` (and ``LLM_API_KEY``) set, a real model works on the checkout. Without them the
agent is the SDK's offline ``TestLLM`` with a scripted edit, so the wiring can be tried anywhere:
the critic scores the finish, and a low score sends the agent back once.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from openhands.sdk import LLM, Agent, Conversation, Tool
from openhands.sdk.critic import IterativeRefinementConfig
from openhands.sdk.llm import Message, MessageToolCall, TextContent
from openhands.sdk.testing import TestLLM
from openhands.sdk.workspace import LocalWorkspace
from openhands.tools.file_editor import FileEditorTool  # noqa: F401  (registers the tool)
from openhands.tools.terminal import TerminalTool  # noqa: F401  (registers the tool)
from pydantic import SecretStr

from swerm_plugin.integrations.openhands import SwermCritic


def scripted_llm() -> LLM:
    """Two rounds of 'touch a file, finish', enough for one refinement."""

    def call(n: int, name: str, **arguments: str) -> Message:
        tool_call = MessageToolCall(
            id=f"c{n}", name=name, arguments=json.dumps(arguments), origin="completion"
        )
        return Message(role="assistant", content=[TextContent(text="")], tool_calls=[tool_call])

    return TestLLM.from_messages(
        [
            call(1, "terminal", command="echo '# swerm demo' >> SWERM_DEMO.md"),
            call(2, "finish", message="done"),
            call(3, "terminal", command="echo '# second try' >> SWERM_DEMO.md"),
            call(4, "finish", message="done again"),
        ]
    )


def main(repo: str, task: str) -> None:
    model = os.environ.get("LLM_MODEL")
    llm = (
        LLM(model=model, api_key=SecretStr(os.environ.get("LLM_API_KEY", "")), usage_id="agent")
        if model
        else scripted_llm()
    )
    critic = SwermCritic(
        repo_dir=repo,
        instance_id=os.path.basename(os.path.abspath(repo)),
        iterative_refinement=IterativeRefinementConfig(success_threshold=0.6, max_iterations=3),
    )
    agent = Agent(llm=llm, tools=[Tool(name="terminal"), Tool(name="file_editor")], critic=critic)
    conversation = Conversation(agent=agent, workspace=LocalWorkspace(working_dir=repo))
    conversation.send_message(task)
    conversation.run()

    outcome = critic.finish()
    for attempt in critic.attempts:
        print(
            f"attempt {attempt.number}: p={attempt.score.probability} -> {attempt.decision.action}"
        )
    chosen = outcome.attempt.number if outcome.attempt else None
    print(f"task {outcome.action}, attempt {chosen}; patch:\n{outcome.patch}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python examples/openhands/critic.py REPO_DIR ISSUE_TEXT")
    main(sys.argv[1], sys.argv[2])
