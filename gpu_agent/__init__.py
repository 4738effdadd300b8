"""Forge node agent. Runs on GPU nodes; never imports Django.

`gpu_agent.spec` is the wire format shared with the console: job specs and the
records an agent reports. The console imports it, so there is one definition.
"""

__version__ = "0.1.0"
