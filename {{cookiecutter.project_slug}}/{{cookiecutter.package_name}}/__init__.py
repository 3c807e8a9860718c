"""The project's ML pipeline: prepare -> train -> evaluate -> register, run by DVC, tracked in MLflow."""
