"""Backends that score on inference servers: vLLM's ``/generative_scoring`` (``vllm``), any
OpenAI-compatible server through litellm (``openai``), and pooling heads (``classify``), over one
retrying, failing-over HTTP client (:mod:`.http`)."""
