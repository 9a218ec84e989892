"""``swerm serve``: the scoring service RL trainers and agents in other languages call.

- :mod:`.app`: the ASGI app (Starlette) and its routes; :func:`create_app` builds it.
- :mod:`.service`: the service without HTTP (verifier, readiness, scores, rerank, rewards).
- :mod:`.batching`: micro-batching of concurrent requests, with a bounded queue.
- :mod:`.payloads`: request bodies → trajectories; :mod:`.metrics`: Prometheus metrics.
- :mod:`.server`: uvicorn with graceful shutdown, or Ray Serve replicas.
- :mod:`.clients`: verl's ``compute_score`` and OpenRLHF's ``reward_func`` over HTTP
  (standard library only).

Nothing here is imported by ``import swerm_plugin``; the web libraries are the ``serve`` extra.
"""
