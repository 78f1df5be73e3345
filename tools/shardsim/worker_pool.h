// A pool of forked worker processes: task i runs in a child process of its own, at most `jobs` at
// once, launched in index order.
//
// Why processes and not threads: a simulation is single-threaded by design and the runner keeps a
// process-global assertion context, so two simulations must never share a process. A fork per task
// also isolates crashes: a worker that dies on SHARD_ASSERT's abort() is reported with its signal
// and the last thing it printed, and the sweep goes on.
//
// Protocol: the child runs the task function and writes the text it returns to a result pipe, then
// exits 0; its stdout and stderr go to a second pipe, of which the parent keeps the last
// stderr_tail_max bytes. The parent polls both pipes of every running child, and when both are
// closed reaps the child and hands a TaskOutcome to the done callback — in completion order, which
// the caller puts back in index order. To keep that reorder buffer bounded, task i is not launched
// until every task below i - window_max has completed.
//
// Interruption: SIGINT and SIGTERM (handlers installed by install_interrupt_handlers) stop
// launching, SIGKILL every running child, reap them, and make run() return `interrupted`; their
// results are dropped. Children ignore SIGINT (Ctrl-C reaches the whole foreground process group;
// stopping them is the parent's job) and, on Linux, die with the parent if it is killed outright.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace shardsim::tools {

struct TaskOutcome {
  std::size_t index{0};
  std::string result;           // what the child wrote to its result pipe
  bool result_overflow{false};  // the child wrote more than result_max bytes; the rest was dropped
  int wait_status{0};           // as from waitpid()
  std::string output_tail;      // the last bytes the child wrote to stdout/stderr
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point ended;

  bool exited_cleanly() const;  // exit status 0, not killed by a signal
  // "SIGABRT" when killed by a signal, "exit 3" for a non-zero exit, "" when clean.
  std::string how_ended() const;
  std::uint64_t wall_ms() const;
};

struct PoolOptions {
  int jobs{1};
  std::size_t window_max{1024};
  std::size_t result_max{1 << 20};
  std::size_t output_tail_max{4096};
  std::chrono::milliseconds tick{200};  // the tick callback runs at least this often
};

enum class PoolEnd { finished, interrupted };

// Runs tasks 0..count-1. `task` runs in the child and returns its result text; `done` and `tick`
// run in the parent.
PoolEnd run_pool(std::size_t count, const PoolOptions& options,
                 const std::function<std::string(std::size_t)>& task,
                 const std::function<void(TaskOutcome&&)>& done, const std::function<void()>& tick);

// SIGINT/SIGTERM set a flag that run_pool() watches. Idempotent.
void install_interrupt_handlers();
// The signal that interrupted us, or 0.
int interrupt_signal();

// Number of CPUs this process may run on.
int available_cpus();

}  // namespace shardsim::tools
