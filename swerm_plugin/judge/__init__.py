"""The LLM judge: a verifier made of any API model (through litellm), with worked examples
chosen by Automate-CoT.

* :mod:`.settings` the ``[judge]`` configuration section;
* :mod:`.template` the judge's prompt (instructions, exemplars, the trajectory), rendered by
  swerm's budgeted, injection-safe renderer; :mod:`.exemplars` the pool and exemplars files;
* :mod:`.verdicts` reading a verdict and P(YES) from a reply; :mod:`.calls` the litellm calls,
  their tokens and cost; :mod:`.backend` the ``judge`` backend;
* Automate-CoT: :mod:`.augment` (rationale chains for labelled trajectories, pruned by label),
  :mod:`.policy` (the variance-reduced policy-gradient search over exemplar slots) and
  :mod:`.tune` (that search with the judge on a labelled dev set).

This package's ``__init__`` imports nothing: :mod:`swerm_plugin.config` imports
:mod:`.settings`, so anything imported here would run while the config module loads.
"""
