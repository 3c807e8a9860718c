"""One module per `dvc.yaml` stage; each has a core function and a thin `main()`."""
