# The MLflow tracking server of the team stack: MLflow's own image (same version as
# uv.lock) plus the PostgreSQL driver and the S3 client it needs for this stack.
FROM ghcr.io/mlflow/mlflow:v3.17.2
RUN pip install --no-cache-dir psycopg2-binary==2.9.13 boto3==1.43.117
