#!/usr/bin/env bash
# Kill the demo (SIGKILL) while it judges, rerun it, and check that nothing judged before the kill
# is asked again and nothing is lost; a third run must make 0 judge calls.
#   marketplace_kill_test.sh <marketplace binary> <scratch dir>
set -euo pipefail
bin=$1
store=$2
rm -rf "$store"
mkdir -p "$store"
args=(--size tiny --budget 1.0 --store "$store" --json)

figure() {  # figure <name> <json lines>
  sed -n "s/.*\"name\": \"$1\", \"value\": \([-0-9.e+]*\).*/\1/p" <<<"$2"
}

# 1. start with a slow judge and kill it once some judgments are on disk
"$bin" "${args[@]}" --latency-us 20000 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 1500); do
  size=$(stat -c %s "$store/judgments-tiny-seed42.log" 2>/dev/null || echo 0)
  [[ $size -gt 3000 ]] && break
  sleep 0.02
done
kill -9 "$pid" 2>/dev/null || { echo "FAIL: the demo finished before it could be killed"; exit 1; }
wait "$pid" 2>/dev/null || true
echo "killed during judging with $(stat -c %s "$store/judgments-tiny-seed42.log") bytes in the store"

# 2. rerun: the pairs judged before the kill come from the store, only the rest is asked
out=$("$bin" "${args[@]}" --latency-us 0)
pairs=$(figure demo.kg.pairs "$out")
cached=$(figure demo.kg.cached_judgments "$out")
calls=$(figure demo.kg.llm_calls "$out")
echo "rerun: $pairs pairs, $cached from the store, $calls judge calls"
[[ ${cached%.*} -gt 0 ]] || { echo "FAIL: nothing survived the kill"; exit 1; }
[[ $(( ${cached%.*} + ${calls%.*} )) -eq ${pairs%.*} ]] || { echo "FAIL: cached + asked != pairs"; exit 1; }
[[ ${calls%.*} -gt 0 ]] || { echo "FAIL: the kill came after judging had finished"; exit 1; }

# 3. third run: everything is in the store, 0 judge calls
out=$("$bin" "${args[@]}" --latency-us 0)
calls=$(figure demo.kg.llm_calls "$out")
rerun=$(figure demo.kg.rerun_judge_calls "$out")
cached=$(figure demo.kg.cached_judgments "$out")
echo "third run: $cached from the store, $calls judge calls"
[[ ${calls%.*} -eq 0 && ${rerun%.*} -eq 0 && ${cached%.*} -eq ${pairs%.*} ]] || { echo "FAIL: judgments were lost or asked twice"; exit 1; }
echo "PASS"
