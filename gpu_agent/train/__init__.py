"""Training on GPU nodes: model presets, memory estimates, the DeepSpeed
configuration, and the training entry point the agent launches (loop.py)."""
