"""Machinery for using the model: batch predictions, MLflow's scoring server, BentoML."""
