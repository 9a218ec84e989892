"""Built-in hook implementations: calibration, decision policy, reranking, logging, and the
decision commands (``rerank``, ``eval``, ``calibrate``, ``reward``, ``report``)."""
