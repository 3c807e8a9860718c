"""Machinery for DVC experiments: the queue, grid sweeps, Optuna studies, and comparing their runs."""
