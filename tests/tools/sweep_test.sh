#!/usr/bin/env bash
# End-to-end tests of `shardsim sweep` and `shardsim merge`: results that do not depend on --jobs,
# shards that merge back into the full sweep, exit codes (0 pass, 1 fail/crash/nondeterministic,
# 2 bad input, 130 Ctrl-C), crash records, --recheck, and that --out is never half-written.
set -u
bin=$1
root=$2
cd "$root" || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; failures=$((failures + 1)); }
check() {  # description command...: passes when the command succeeds
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

expect_exit() {  # expected-code description command...
  local want=$1 what=$2
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then pass "$what (exit $got)"; else
    fail "$what: exit $got, want $want"; sed 's/^/     /' "$tmp/err" | head -5; fi
}
strip() { sed 's/, "wall_ms": [0-9]*}$/}/' "$1"; }
seeds_of() { python3 -c "import json,sys; print(' '.join(str(json.loads(l)['seed']) for l in open(sys.argv[1])))" "$1"; }

# A small cluster scenario: two nodes, one gateway, some cross-node handovers, ~50 ms a run.
cat >"$tmp/small.yaml" <<'YAML'
name: sweep_small
duration: 8s
world: {size: [400m, 400m], cells: [2, 2], aoi_radius: 50m, hysteresis: 5m}
cluster: {nodes: 2, gateways: 1}
players: {count: 50, movement: border-oscillation, speed: [2m/s, 6m/s], actions: 1/s}
network: {latency: {distribution: lognormal, median: 2ms, p99: 20ms}, loss: 1%}
expect:
  players.lost: "== 0"
  players.duplicated: "== 0"
YAML
# clock_jump breaks the clock assumption on purpose; its split brain fails every run.
sed 's/^duration: 60s/duration: 25s/' scenarios/clock_jump.yaml >"$tmp/clock_jump.yaml"
# Long enough (~0.3 s a run) to interrupt a sweep in the middle.
sed 's/^duration: 8s/duration: 60s/; s/^name: sweep_small/name: sweep_long/' "$tmp/small.yaml" >"$tmp/long.yaml"

# --- Results do not depend on --jobs.
expect_exit 0 "sweep 3 seeds --jobs 1" "$bin" sweep "$tmp/small.yaml" --seeds 1..3 --jobs 1 --out "$tmp/j1.jsonl"
expect_exit 0 "sweep 3 seeds --jobs 2" "$bin" sweep "$tmp/small.yaml" --seeds 1..3 --jobs 2 --out "$tmp/j2.jsonl"
check "--jobs 1 and --jobs 2 agree except wall_ms" cmp -s <(strip "$tmp/j1.jsonl") <(strip "$tmp/j2.jsonl")
check "lines in seed order" [ "$(seeds_of "$tmp/j2.jsonl")" = "1 2 3" ]
check "no temporary file left" [ ! -e "$tmp/j2.jsonl.tmp" ]
check "non-TTY progress is plain lines" grep -q "^sweep 3/3 " "$tmp/err"
python3 - "$tmp/j2.jsonl" <<'PY' && pass "line schema (keys, order, wall_ms last, 16-hex digest)" || fail "line schema"
import json, re, sys
want = ["scenario", "file", "seed", "verdict", "digest", "failing", "metrics", "replay", "wall_ms"]
metrics = ["handover.cross_node.count", "handover.cross_node.latency.p99", "handover.failure_rate",
           "players.lost", "players.duplicated", "split_brain.violations", "ledger.acked_lost",
           "liveness.violations", "events"]
for line in open(sys.argv[1]):
    d = json.loads(line)
    assert list(d) == want, list(d)
    assert d["verdict"] == "pass" and d["failing"] == []
    assert re.fullmatch(r"[0-9a-f]{16}", d["digest"])
    assert list(d["metrics"]) == metrics
    assert d["replay"] == f"shardsim replay {d['file']} --seed {d['seed']} --digest {d['digest']}"
    assert isinstance(d["wall_ms"], int)
PY

# --- Shards cover the range exactly once and merge back into the full sweep.
"$bin" sweep "$tmp/small.yaml" --seeds 1..9 --jobs 2 --out "$tmp/full.jsonl" >/dev/null 2>&1
"$bin" sweep "$tmp/small.yaml" --seeds 1..9 --jobs 2 --shard 0/2 --out "$tmp/s0.jsonl" >/dev/null 2>&1
"$bin" sweep "$tmp/small.yaml" --seeds 1..9 --jobs 1 --shard 1/2 --out "$tmp/s1.jsonl" >/dev/null 2>&1
check "shard 0/2 holds seeds 1 3 5 7 9" [ "$(seeds_of "$tmp/s0.jsonl")" = "1 3 5 7 9" ]
check "shard 1/2 holds seeds 2 4 6 8" [ "$(seeds_of "$tmp/s1.jsonl")" = "2 4 6 8" ]
expect_exit 0 "merge the two shards" "$bin" merge "$tmp/s1.jsonl" "$tmp/s0.jsonl" --out "$tmp/merged.jsonl"
check "merged shards equal the full sweep" cmp -s <(strip "$tmp/full.jsonl") <(strip "$tmp/merged.jsonl")
expect_exit 0 "merge with overlaps" "$bin" merge "$tmp/full.jsonl" "$tmp/s0.jsonl" --out "$tmp/dedup.jsonl"
check "overlapping runs counted once" grep -q "9 run(s), 5 duplicate(s) dropped" "$tmp/out"
check "de-duplicated merge equals the full sweep" cmp -s "$tmp/full.jsonl" "$tmp/dedup.jsonl"
expect_exit 0 "shard with no seeds in range" "$bin" sweep "$tmp/small.yaml" --seeds 5 --shard 1/2 --out "$tmp/none.jsonl"
check "empty shard writes an empty file" [ -e "$tmp/none.jsonl" ] && [ ! -s "$tmp/none.jsonl" ]

# --- Bad input: exit 2, nothing written.
for seeds in abc 5..1 1.. ..5 -1..3 1-5 "1..2..3"; do
  expect_exit 2 "--seeds '$seeds'" "$bin" sweep "$tmp/small.yaml" --seeds "$seeds" --out "$tmp/bad.jsonl"
done
for shard in 2/2 0/0 1 a/b; do
  expect_exit 2 "--shard '$shard'" "$bin" sweep "$tmp/small.yaml" --seeds 1..3 --shard "$shard" --out "$tmp/bad.jsonl"
done
expect_exit 2 "--recheck 101%" "$bin" sweep "$tmp/small.yaml" --seeds 1..3 --recheck 101%
expect_exit 2 "--jobs 0 is fine but --jobs -2 is not" "$bin" sweep "$tmp/small.yaml" --seeds 1..3 --jobs -2
expect_exit 2 "missing scenario file" "$bin" sweep "$tmp/small.yaml" "$tmp/nope.yaml" --seeds 1..3 --out "$tmp/bad.jsonl"
check "missing file names path:1:1" grep -q "nope.yaml:1:1: error:" "$tmp/err"
bad=$(ls tests/scenarios/bad/*.yaml | head -1)
expect_exit 2 "scenario with load errors" "$bin" sweep "$bad" --seeds 1..3 --out "$tmp/bad.jsonl"
check "load errors as file:line:col" grep -qE "^$bad:[0-9]+:[0-9]+: error: " "$tmp/err"
expect_exit 2 "one scenario twice" "$bin" sweep "$tmp/small.yaml" "$tmp/small.yaml" --seeds 1..3
expect_exit 2 "unwritable --out" "$bin" sweep "$tmp/small.yaml" --seeds 1..3 --out "$tmp/no/dir/r.jsonl"
check "bad input writes no --out" [ ! -e "$tmp/bad.jsonl" ] && [ ! -e "$tmp/bad.jsonl.tmp" ]

# --- Failures and crashes: exit 1, recorded, with their replay commands.
expect_exit 1 "failing scenario" "$bin" sweep "$tmp/clock_jump.yaml" --seeds 1 --out "$tmp/fail.jsonl"
check "failure prints its replay command" \
  grep -qE "^ +shardsim replay $tmp/clock_jump.yaml --seed 1 --digest [0-9a-f]{16}$" "$tmp/out"
check "failure names the split-brain checker" \
  grep -q '"verdict": "fail", .*"failing": \[[^]]*"split_brain.violations"' "$tmp/fail.jsonl"
expect_exit 1 "a worker that aborts" "$bin" sweep "$tmp/small.yaml" --seeds 1..3 --jobs 2 --crash-seed 2 \
  --out "$tmp/crash.jsonl"
check "crash recorded in order, others kept" [ "$(seeds_of "$tmp/crash.jsonl")" = "1 2 3" ]
check "crash line has verdict and signal" grep -q '"seed": 2, "verdict": "crash", .*"signal": "SIGABRT", "error": ".*assertion failed' "$tmp/crash.jsonl"
check "crash in the summary with a replay command" grep -q "^CRASH sweep_small seed 2: SIGABRT" "$tmp/out"
check "crash replay line" grep -qE "^ +shardsim replay $tmp/small.yaml --seed 2$" "$tmp/out"
expect_exit 1 "merge keeps the exit code of a failed run" "$bin" merge "$tmp/crash.jsonl"

# --- Swarm sweeps: each line records the chaos mix its seed picked (as `run --swarm` prints it),
# its replay command carries --swarm, and so does a crashed swarm run's.
sed 's/^name: sweep_small$/name: sweep_swarm/' "$tmp/small.yaml" >"$tmp/swarm.yaml"
cat >>"$tmp/swarm.yaml" <<'YAML'
chaos: {until: 6s, crash: {rate: 6/min, restart_after: [1s, 3s]}, partition: {rate: 6/min, for: [1s, 2s]}}
YAML
sed 's/^  players.lost: "== 0"$/  players.lost: "> 0"/' "$tmp/swarm.yaml" >"$tmp/swarm_fail.yaml"
expect_exit 0 "swarm sweep 3 seeds" "$bin" sweep "$tmp/swarm.yaml" --seeds 1..3 --jobs 2 --swarm --out "$tmp/sw.jsonl"
for seed in 1 2 3; do
  want=$("$bin" run "$tmp/swarm.yaml" --seed $seed --swarm 2>&1 | head -1)
  got=$(python3 -c "import json,sys; print([json.loads(l)['swarm'] for l in open(sys.argv[1])][$seed - 1])" "$tmp/sw.jsonl")
  check "seed $seed: the line records the swarm's choice ($want)" [ "$want" = "$got" ]
done
check "swarm replay lines carry --swarm" [ "$(grep -c '"replay": "shardsim replay [^"]* --seed [0-9]* --swarm --digest' "$tmp/sw.jsonl")" = 3 ]
check "without --swarm there is no swarm member" bash -c "! grep -q '\"swarm\"' '$tmp/j2.jsonl'"
expect_exit 1 "failing swarm sweep" "$bin" sweep "$tmp/swarm_fail.yaml" --seeds 1 --swarm --out "$tmp/swf.jsonl"
check "a swarm failure prints the swarm's choice, then the replay" \
  bash -c "grep -EA2 '^FAIL +sweep_swarm seed 1: ' '$tmp/out' | grep -q '^ *swarm (seed 1): ' &&
           grep -qE '^ +shardsim replay $tmp/swarm_fail.yaml --seed 1 --swarm --digest [0-9a-f]{16}$' '$tmp/out'"
expect_exit 1 "a swarm worker that aborts" "$bin" sweep "$tmp/swarm.yaml" --seeds 1..2 --swarm --crash-seed 2 \
  --out "$tmp/swc.jsonl"
check "a crashed swarm run replays with --swarm" grep -qE "^ +shardsim replay $tmp/swarm.yaml --seed 2 --swarm$" "$tmp/out"
expect_exit 0 "merge of swarm lines" "$bin" merge "$tmp/sw.jsonl" --out "$tmp/swm.jsonl"
check "merge keeps swarm lines as they are" cmp -s "$tmp/sw.jsonl" "$tmp/swm.jsonl"

# --- Determinism rechecks.
expect_exit 0 "--recheck 100%" "$bin" sweep "$tmp/small.yaml" --seeds 1..4 --recheck 100%
check "recheck reports no difference" grep -q "0 of 4 rerun(s) differ" "$tmp/out"
expect_exit 1 "--recheck catches a digest change (test knob)" "$bin" sweep "$tmp/small.yaml" --seeds 1..4 \
  --recheck 100% --skew-recheck
check "nondeterministic runs listed" grep -q "^NONDET sweep_small seed 1:" "$tmp/out"
sed 's/"digest": "[0-9a-f]\{16\}"/"digest": "0123456789abcdef"/' "$tmp/s0.jsonl" >"$tmp/other.jsonl"
expect_exit 1 "merge of disagreeing digests" "$bin" merge "$tmp/s0.jsonl" "$tmp/other.jsonl"
check "merge reports the pair as nondeterministic" grep -q "^NONDET sweep_small seed 3: .* 0123456789abcdef" "$tmp/out"

# --- merge rejects malformed lines with file:line.
{ head -1 "$tmp/s0.jsonl"; echo '{"scenario": "x", "seed": 1'; } >"$tmp/broken.jsonl"
expect_exit 2 "merge of a malformed line" "$bin" merge "$tmp/s0.jsonl" "$tmp/broken.jsonl" --out "$tmp/m.jsonl"
check "malformed line reported as file:line" grep -q "^$tmp/broken.jsonl:2: error: " "$tmp/err"
sed '1s/"verdict": "pass"/"verdict": "maybe"/' "$tmp/s0.jsonl" >"$tmp/badverdict.jsonl"
expect_exit 2 "merge of a bad verdict" "$bin" merge "$tmp/badverdict.jsonl" --out "$tmp/m.jsonl"
check "bad merge writes no --out" [ ! -e "$tmp/m.jsonl" ]
expect_exit 2 "merge of a missing file" "$bin" merge "$tmp/nope.jsonl"

# --- Ctrl-C: stop, kill the workers, keep what completed, in order, and exit 130.
"$bin" sweep "$tmp/long.yaml" --seeds 1..400 --jobs 2 --out "$tmp/int.jsonl" >"$tmp/int.out" 2>"$tmp/int.err" &
sweep=$!
for _ in $(seq 1 300); do  # until a few runs are in the temporary file (stdio flushes in blocks)
  [ -s "$tmp/int.jsonl.tmp" ] && break
  sleep 0.1
done
kill -INT $sweep
wait $sweep
code=$?
check "SIGINT exits 130 (got $code)" [ $code -eq 130 ]
check "interrupted sweep renamed its results" [ -s "$tmp/int.jsonl" ] && [ ! -e "$tmp/int.jsonl.tmp" ]
python3 - "$tmp/int.jsonl" <<'PY' && pass "interrupted results are whole lines in seed order" || fail "interrupted results"
import json, sys
seeds = [json.loads(l)["seed"] for l in open(sys.argv[1])]
assert 0 < len(seeds) < 400 and seeds == sorted(set(seeds)), seeds
PY
check "interrupt says how to finish" grep -q "^to finish: shardsim sweep $tmp/long.yaml --seeds " "$tmp/int.out"
# ("[s]weep" keeps pgrep from matching itself.)
if pgrep -f "[s]weep $tmp/long.yaml" >/dev/null; then fail "a worker outlived the interrupted sweep"
else pass "no worker outlives an interrupted sweep"; fi

echo "sweep tests: $failures failure(s)"
[ $failures -eq 0 ]
