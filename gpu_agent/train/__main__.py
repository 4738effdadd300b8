from gpu_agent.stacks import register_faulthandler

register_faulthandler()  # SIGUSR1: this rank's stacks, for the agent (gpu_agent/stacks.py)

from gpu_agent.train.loop import main  # noqa: E402 - registered before the heavy imports

raise SystemExit(main())
