#!/usr/bin/env bash
# End-to-end tests of the shardsim CLI: exit codes (0 pass, 1 fail, 2 bad input), `file:line:col`
# diagnostics for every bad-input fixture, --json and --trace outputs, replay digest checking, and that
# bad input never leaves a half-written output file behind.
set -u
bin=$1
root=$2
cd "$root" || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; failures=$((failures + 1)); }

expect_exit() {  # expected-code description command...
  local want=$1 what=$2
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then pass "$what (exit $got)"; else
    fail "$what: exit $got, want $want"; sed 's/^/     /' "$tmp/err" | head -5; fi
}

# A small fast scenario for the run/replay checks.
cat >"$tmp/tiny.yaml" <<'YAML'
name: tiny
duration: 5s
world: {size: [400m, 400m], cells: [2, 2], aoi_radius: 50m, hysteresis: 5m}
cluster: {nodes: 1}
players: {count: 40, movement: border-oscillation, speed: [2m/s, 6m/s]}
bots: {density: [1, 3]}
network: {latency: {distribution: lognormal, median: 2ms, p99: 20ms}, loss: 1%}
expect:
  players.lost: "== 0"
  handover.local.count: "> 0"
YAML
sed 's/handover.local.count: "> 0"/handover.local.count: "> 1000000"/' "$tmp/tiny.yaml" >"$tmp/tiny_fail.yaml"

expect_exit 0 "--help" "$bin" --help
expect_exit 0 "run --help" "$bin" run --help
expect_exit 2 "no subcommand" "$bin"
expect_exit 2 "unknown flag" "$bin" run "$tmp/tiny.yaml" --no-such-flag
expect_exit 2 "non-numeric --seed" "$bin" run "$tmp/tiny.yaml" --seed abc
expect_exit 2 "missing scenario file" "$bin" run "$tmp/does_not_exist.yaml"
grep -q "does_not_exist.yaml:1:1: error:" "$tmp/err" && pass "missing file names path:1:1" || fail "missing file message"

expect_exit 0 "run passing scenario" "$bin" run "$tmp/tiny.yaml" --seed 3 --json "$tmp/r.json" --trace "$tmp/t.jsonl"
digest=$(awk '/^digest/ {print $2}' "$tmp/out")
for key in scenario seed digest sim_seconds wall_seconds speedup events verdict violations metrics expectations; do
  grep -q "\"$key\":" "$tmp/r.json" && pass "json has $key" || fail "json lacks $key"
done
grep -q "\"digest\": \"$digest\"" "$tmp/r.json" && pass "json digest matches summary" || fail "json digest"
python3 -c "import json,sys; d=json.load(open('$tmp/r.json')); assert d['metrics']['players.lost']==0" \
  && pass "json parses, metrics are numbers" || fail "json does not parse"
head -1 "$tmp/t.jsonl" | grep -q '"kind":' && pass "trace is JSON Lines" || fail "trace format"
# Messages by type: in the JSON metrics (only the types that occurred), summing to the totals; in
# the summary as a table of their own whose total row is net.messages and net.bytes.
python3 - "$tmp/r.json" <<'PY' && pass "json: messages by type sum to the totals" || fail "json: by type"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
def by(suffix):
    return {k[8:-len(suffix)]: v for k, v in m.items() if k.startswith("net.msg.") and k.endswith(suffix)}
counts, sizes = by(".count"), by(".bytes")
assert sorted(counts) == sorted(sizes) and "channel.data" in counts, counts
assert all(v > 0 for v in counts.values()), counts
assert not any(t.startswith("cluster.") for t in counts), counts
assert sum(counts.values()) == m["net.messages"] and sum(sizes.values()) == m["net.bytes"]
PY
totals=$(python3 -c "import json; m=json.load(open('$tmp/r.json'))['metrics']; \
print(m['net.messages'], m['net.bytes'])")
grep -qE '^message type +messages +bytes +bytes/msg +bytes %$' "$tmp/out" &&
  grep -qE "^total +${totals% *} +${totals#* } " "$tmp/out" && ! grep -qE '^net\.msg\.' "$tmp/out" &&
  pass "summary: a messages-by-type table, no net.msg rows" || fail "summary: messages by type"
# Per-node load: a Phase A run (tiny) has no node table and no node.<name>.* metrics; a cluster run
# has both, a row per node in the scenario's order, and the rows are not in the metric table.
! grep -q '^node (load' "$tmp/out" && ! grep -q '"node\.node-1\.' "$tmp/r.json" &&
  pass "phase A: no per-node load" || fail "phase A: per-node load"
cat >"$tmp/duo.yaml" <<'YAML'
name: duo
duration: 3s
world: {size: [800m, 400m], cells: [4, 2], aoi_radius: 50m, hysteresis: 5m}
cluster: {nodes: [east, west], gateways: 1}
players: {count: 40, speed: [2m/s, 6m/s]}
bots: {density: [1, 3]}
expect:
  node.west.cells.end: ">= 1"
YAML
expect_exit 0 "run a two-node cluster" "$bin" run "$tmp/duo.yaml" --json "$tmp/duo.json"
python3 - "$tmp/duo.json" <<'PY' && pass "json: per-node load, node by node" || fail "json: per-node load"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
fields = ["cells.end", "players.end", "players.peak", "load.end", "load.peak"]
names = [k for k in m if k.startswith("node.") and k.count(".") >= 3 and not k.startswith("node.load.")]
assert names == [f"node.{n}.{f}" for n in ("east", "west") for f in fields], names
assert sum(m[f"node.{n}.cells.end"] for n in ("east", "west")) == 8
assert sum(m[f"node.{n}.players.end"] for n in ("east", "west")) <= 40
assert m["node.load.max"] == max(m["node.east.load.end"], m["node.west.load.end"])
assert 1 <= m["node.load.imbalance.mean"] <= 2, m["node.load.imbalance.mean"]
PY
grep -qE '^node \(load: players \+ NPCs\) +cells.end +players.end +players.peak +load.end +load.peak$' "$tmp/out" &&
  [ "$(grep -A3 '^node (load' "$tmp/out" | awk 'NR>1 {print $1}' | tr '\n' ' ')" = "east west total " ] &&
  grep -qE '^total +8 ' "$tmp/out" && ! grep -qE '^node\.(east|west)\.[a-z.]+ +[0-9]+$' "$tmp/out" &&
  grep -qE '^node\.load\.imbalance\.mean +[0-9]+\.[0-9]{3}$' "$tmp/out" &&
  pass "summary: a per-node table, no node.<name> rows" || fail "summary: per-node table"

expect_exit 0 "replay with matching digest" "$bin" replay "$tmp/tiny.yaml" --seed 3 --digest "$digest"
# The heap on huge pages (the default, tools/shardsim/huge_pages.h) or not: where objects live never
# reaches a result.
expect_exit 0 "replay with huge pages off" env SHARDSIM_HUGE_PAGES=0 "$bin" replay "$tmp/tiny.yaml" --seed 3 --digest "$digest"
expect_exit 1 "replay with wrong digest" "$bin" replay "$tmp/tiny.yaml" --seed 3 --digest 0000000000000000
expect_exit 2 "replay with malformed digest" "$bin" replay "$tmp/tiny.yaml" --seed 3 --digest xyz
expect_exit 1 "failing expectation" "$bin" run "$tmp/tiny_fail.yaml"
grep -q "^replay     shardsim replay" "$tmp/out" && pass "failure prints replay command" || fail "no replay line"

expect_exit 0 "check shipped scenarios" "$bin" check scenarios/*.yaml

# Every bad-input fixture: exit 2 and a file:line:col diagnostic, and no --json file written.
for f in tests/scenarios/bad/*.yaml; do
  rm -f "$tmp/bad.json"
  "$bin" run "$f" --json "$tmp/bad.json" >"$tmp/out" 2>"$tmp/err"
  code=$?
  if [ $code -eq 2 ] && grep -qE "^$f:[0-9]+:[0-9]+: error: " "$tmp/err" && [ ! -e "$tmp/bad.json" ]; then
    pass "bad input $(basename "$f")"
  else
    fail "bad input $f: exit $code"; head -3 "$tmp/err"
  fi
done

# An unwritable --json target: exit 2, nothing half-written.
expect_exit 2 "unwritable --json" "$bin" run "$tmp/tiny.yaml" --json "$tmp/no/such/dir/r.json"

# bench --baseline refuses a baseline it cannot use (before measuring anything): exit 2.
expect_exit 2 "bench --baseline: missing file" "$bin" bench --baseline "$tmp/nope.json"
echo '{"format": "shardsim-bench-baseline-1", "cases": {' >"$tmp/bad.json"
expect_exit 2 "bench --baseline: not JSON" "$bin" bench --baseline "$tmp/bad.json"
echo '{"format": "other", "cases": {}}' >"$tmp/bad.json"
expect_exit 2 "bench --baseline: wrong format" "$bin" bench --baseline "$tmp/bad.json"
echo '{"format": "shardsim-bench-baseline-1", "cases": {}}' >"$tmp/bad.json"
expect_exit 2 "bench --baseline: no cases (would compare nothing)" "$bin" bench --baseline "$tmp/bad.json"
sed 's/"time_ratio": [0-9.]*/"time_ratio": 0/' tools/bench/baseline.json >"$tmp/bad.json"
expect_exit 2 "bench --baseline: zero time ratio" "$bin" bench --baseline "$tmp/bad.json"
grep -q "greater than 0" "$tmp/err" && pass "zero time ratio is named" || fail "zero time ratio not named"

echo "cli tests: $failures failure(s)"
[ $failures -eq 0 ]
