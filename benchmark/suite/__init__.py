"""A suite: its typed settings, its config (TOML or a dict), the variants of a grid and the registry
of methods."""
