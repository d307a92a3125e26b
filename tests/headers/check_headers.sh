#!/usr/bin/env bash
# Every public header compiles on its own (it includes what it uses), with the project's warnings.
#   check_headers.sh <compiler> <include dir> <with_http 0|1> [extra flags...]
set -uo pipefail
cxx=$1 inc=$2 http=$3
shift 3
flags=(-std=c++20 -fsyntax-only -Wall -Wextra -Wpedantic -Werror -I"$inc" -isystem /usr/include/eigen3 "$@")
[[ $http == 1 ]] && flags+=(-DKEREC_WITH_HTTP=1)
headers=()
while IFS= read -r h; do
  rel=${h#"$inc"/}
  [[ $http == 1 || $rel != kerec/llm/openai_judge.hpp ]] || continue
  headers+=("$rel")
done < <(find "$inc/kerec" -name '*.hpp' -not -path '*/detail/*' | sort)
export cxx
printf '%s\n' "${headers[@]}" | xargs -P "$(nproc 2>/dev/null || echo 2)" -I{} bash -c '
  printf "#include <%s>\n#include <%s>\n" "$1" "$1" | "$cxx" "${@:2}" -x c++ - 2>&1 >/dev/null | head -5 |
    sed "s|^|$1: |" ' _ {} "${flags[@]}" > "${TMPDIR:-/tmp}/kerec_headers.$$" 
status=0
if [[ -s ${TMPDIR:-/tmp}/kerec_headers.$$ ]]; then cat "${TMPDIR:-/tmp}/kerec_headers.$$"; status=1; fi
rm -f "${TMPDIR:-/tmp}/kerec_headers.$$"
echo "${#headers[@]} public headers checked with $cxx"
exit $status
