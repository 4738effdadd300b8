"""Workloads the agent runs as job processes (`python -m gpu_agent.workloads.<name>`)."""
