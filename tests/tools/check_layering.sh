#!/usr/bin/env bash
# The engine must never know it is simulated: it may not include sim/ or net_model/, link their
# libraries, read wall time, start threads or draw unseeded randomness. Runs as part of every build.
set -u
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root" || exit 2
fail=0
report() { echo "layering: $1"; echo "$2" | sed 's/^/  /'; fail=1; }

hits=$(grep -rnE '#include[[:space:]]*[<"](sim|net_model|tools)/' engine)
[ -n "$hits" ] && report "engine/ includes sim/, net_model/ or tools/" "$hits"

hits=$(grep -rnE 'std::chrono::(system_clock|steady_clock|high_resolution_clock)|\bstd::rand\b|\bsrand\b|random_device|std::thread|std::jthread|std::async|\bpthread_|\btime\((NULL|nullptr|0)\)|gettimeofday|clock_gettime|#include[[:space:]]*<(thread|random|chrono|ctime|future)>' engine)
[ -n "$hits" ] && report "engine/ reads wall time, uses threads or unseeded randomness" "$hits"

hits=$(grep -nE 'shardsim_(sim|net)\b' engine/CMakeLists.txt)
[ -n "$hits" ] && report "engine links a simulator library" "$hits"

hits=$(grep -rnE '#include[[:space:]]*[<"](sim|tools)/' net_model)
[ -n "$hits" ] && report "net_model/ includes sim/ or tools/ (it may only see engine vocabulary)" "$hits"

[ $fail -eq 0 ] && echo "layering: ok"
exit $fail
