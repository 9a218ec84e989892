"""Built-in hook implementations: calibration, decision policy, reranking, logging."""
