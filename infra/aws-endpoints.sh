# Sourced by `eval "$(go run ./infra/devstack env)"` and
# infra/publish-examples.sh. The AWS CLI reads AWS_ENDPOINT_URL_<SERVICE>
# from version 2.13 on; older ones (Debian's awscli 2.9) ignore it and would
# reach AWS. This aws function passes the service's variable as
# --endpoint-url when it is set, and changes nothing when none is.
aws() {
  local svc="${1:-}" var
  case "$svc" in
    s3 | s3api) var=AWS_ENDPOINT_URL_S3 ;;
    stepfunctions) var=AWS_ENDPOINT_URL_SFN ;;
    *) var="AWS_ENDPOINT_URL_$(printf %s "$svc" | tr 'a-z-' 'A-Z_')" ;;
  esac
  if [ -n "$svc" ] && [ -n "${!var:-}" ]; then
    command aws --endpoint-url "${!var}" "$@"
  else
    command aws "$@"
  fi
}
