#!/bin/sh
# Run by docker-compose.yml's one-off `buckets` job (minio/mc's image) at every start, with the
# root keys in MC_HOST_stack: the buckets, the policies, and a MinIO user per key in .env. Keys
# reach mc on its input, never on a command line (`ps` shows those). Users of an earlier .env are
# removed, so a rotated key stops working as soon as the stack restarts.
set -eu

mc mb --ignore-existing stack/mlflow "stack/$DVC_BUCKET"
for policy in mlflow-artifacts dvc-write dvc-read; do
  mc admin policy create stack "$policy" "/policies/$policy.json"
done

# make stack-env names the keys it generates mlflow-…, person-… and ci-…; other users are left alone.
mc admin user list stack | while read -r _status key _rest; do
  case "$key" in
    "$MLFLOW_S3_ACCESS_KEY_ID" | "$DVC_PERSON_ACCESS_KEY_ID" | "$DVC_CI_ACCESS_KEY_ID") ;;
    mlflow-* | person-* | ci-*) mc admin user remove stack "$key" ;;
  esac
done

add_user() {  # access key, secret key, policy
  printf '%s\n%s\n' "$1" "$2" | mc admin user add stack
  # attaching a policy already attached (a restart) fails; any other failure shows in `mc admin user info`
  mc admin policy attach stack "$3" --user "$1" || true
}
add_user "$MLFLOW_S3_ACCESS_KEY_ID" "$MLFLOW_S3_SECRET_ACCESS_KEY" mlflow-artifacts
add_user "$DVC_PERSON_ACCESS_KEY_ID" "$DVC_PERSON_SECRET_ACCESS_KEY" dvc-write
add_user "$DVC_CI_ACCESS_KEY_ID" "$DVC_CI_SECRET_ACCESS_KEY" dvc-read
