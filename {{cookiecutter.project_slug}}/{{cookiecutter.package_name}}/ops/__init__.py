"""Machinery for operating the project: adopting a table, promoting a model, the environment, checks."""
