"""Machinery every command shares: the error users act on, atomic writes, fail points, the project's paths."""
