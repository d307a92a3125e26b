#!/usr/bin/env bash
# Every docs/*.md code block introduced by <!-- snippet: path --> must equal the file at path.
set -euo pipefail
root=$1
checked=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for doc in "$root"/docs/*.md; do
  awk -v out="$tmp/block" '
    /<!-- snippet: .* -->/ { match($0, /snippet: [^ ]+/); n++; path = substr($0, RSTART + 9, RLENGTH - 9);
                             print path > (out "." n ".path"); want = 1; next }
    want == 1 && /^```cpp$/ { inside = 1; want = 0; printf "" > (out "." n); next }
    inside == 1 { if ($0 == "```") { inside = 0 } else { print >> (out "." n) } }
  ' "$doc"
  for p in "$tmp"/block.*.path; do
    [[ -e $p ]] || continue
    rel=$(cat "$p"); block=${p%.path}
    checked=$((checked + 1))
    if [[ ! -f $root/$rel ]]; then echo "$doc: snippet file $rel does not exist"; failed=1
    elif ! diff -q "$block" "$root/$rel" >/dev/null; then echo "$doc: code block differs from $rel (run scripts/sync-doc-snippets)"; failed=1
    fi
    rm -f "$p" "$block"
  done
done
[[ $checked -gt 0 ]] || { echo "no snippet markers in $root/docs"; exit 1; }
echo "$checked documentation snippets checked"
exit $failed
