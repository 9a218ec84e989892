"""Leaderboard submissions: a SWE-bench experiments folder from reranked runs, and its check.

``swerm submission`` writes ``evaluation/<split>/<date>_<name>/`` as the SWE-bench/experiments
repository expects it (:mod:`.layout`): the predictions, every attempt's trajectory with swerm's
decision record (:mod:`.attempts`, :mod:`.record`), ``metadata.yaml`` (:mod:`.metadata`), a README
that answers the leaderboard's checklist from the data (:mod:`.readme`) and the harness's logs
(:mod:`.logs`). ``swerm submission --check`` validates any such folder (:mod:`.check`).
"""
