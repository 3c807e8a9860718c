# The MLflow tracking server of the team stack: MLflow's own image (same version as
# uv.lock) plus the PostgreSQL driver, the S3 client and Flask-WTF (MLflow's auth app) it needs.
FROM ghcr.io/mlflow/mlflow:v3.17.2
RUN pip install --no-cache-dir psycopg2-binary==2.9.13 boto3==1.43.117 Flask-WTF==1.3.0
