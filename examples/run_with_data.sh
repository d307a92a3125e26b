#!/usr/bin/env bash
# run_with_data.sh <data dir> <program> [args...]: run the program when the data folder exists,
# otherwise report the skip (ctest SKIP_RETURN_CODE 77).
set -euo pipefail
data=$1
shift
if [[ ! -d $data ]]; then
  echo "skipped: data folder $data not found"
  exit 77
fi
exec "$@"
