"""Settings modules: base (embedded defaults, or real servers from the environment),
production (secure by default) and test (isolated state for the test suite)."""
