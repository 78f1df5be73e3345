// ns3_hold: the kernel hold-model benchmark (tools/bench/kernel_bench.h) side by side with ns-3.
//
// Runs the same hold model (same pending sizes, same seed, same integer increment distribution,
// bench::hold_increment_us) over ns-3's event schedulers, two ways:
// - "kernel": the real ns-3 path. Each of `pending` events is inserted with Simulator::Schedule
//   and its handler schedules one new event at Now() + increment, so every event pays for ns-3's
//   EventImpl allocation, reference counting and dispatch, as in a real ns-3 simulation.
// - "bare": the scheduler alone, Scheduler::Insert / RemoveNext on prebuilt Scheduler::Event
//   values sharing one no-op EventImpl: the like-for-like comparison with our EventQueue and the
//   bare std::priority_queue.
// Our own queues are run first through run_hold_benchmark(), in the same process and session.
// Every figure is events/s (one event = one pop + one push), the median of `repeats` runs, and
// only the hold phase is timed. All runs must pop the same sequence of times (checksum compared).
//
// Each run does max(ops, 3 * pending) hold operations, so that every pending event is popped a
// few times and the queue reaches its steady state. Some ns-3 schedulers degrade badly at large
// sizes (ListScheduler is O(pending) per insert and is only run at 1e3): a pilot run projects the
// time, and if a run would exceed the budget it does fewer operations; the row shows how many.
//
// Usage: shardsim_ns3_hold [ops=2000000] [repeats=3] [budget_seconds_per_run=20]
// Built only when ns-3 is installed (Debian 12: apt-get install libns3-dev); see CMakeLists.txt.
#include <ns3/event-impl.h>
#include <ns3/nstime.h>
#include <ns3/object-factory.h>
#include <ns3/ptr.h>
#include <ns3/scheduler.h>
#include <ns3/simulator.h>
#include <ns3/type-id.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/core/assert.h"
#include "engine/core/rng.h"
#include "sim/kernel/event_queue.h"
#include "tools/bench/kernel_bench.h"

namespace shardsim::bench {
namespace {

// The seed and stream name of kernel_bench.cpp, so both programs draw the same schedule.
constexpr std::uint64_t kSeed = 0x5eed'0000'401dULL;
constexpr const char* kStream = "bench.hold";

std::uint64_t fold(std::uint64_t checksum, std::int64_t time_us) {
  return (checksum ^ static_cast<std::uint64_t>(time_us)) * 0x100000001b3ULL;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

struct Run {
  double seconds;
  std::uint64_t checksum;  // over popped times only: independent of how ties are broken
};

// The popped-time checksum from our EventQueue, untimed: every ns-3 run must match it.
std::uint64_t reference_checksum(std::size_t pending, std::uint64_t ops) {
  Rng rng = Rng::stream(kSeed, kStream);
  sim::EventQueue queue;
  for (std::size_t i = 0; i < pending; ++i) {
    sim::Event e;
    e.time = Time::from_micros(hold_increment_us(rng));
    queue.push(e);
  }
  std::uint64_t checksum = 0;
  for (std::uint64_t i = 0; i < ops; ++i) {
    sim::Event e = queue.pop();
    checksum = fold(checksum, e.time.us());
    e.time += Duration::micros(hold_increment_us(rng));
    queue.push(e);
  }
  return checksum;
}

// --- the real ns-3 kernel path ---

// ns-3 handlers are plain functions; the hold state they share lives here for the duration of a
// run.
struct KernelHold {
  Rng* rng = nullptr;
  std::uint64_t remaining = 0;
  std::uint64_t checksum = 0;
};
KernelHold g_hold;

void on_hold_event() {
  g_hold.checksum = fold(g_hold.checksum, ns3::Simulator::Now().GetMicroSeconds());
  if (--g_hold.remaining == 0) ns3::Simulator::Stop();  // stops after this event returns
  ns3::Simulator::Schedule(ns3::MicroSeconds(hold_increment_us(*g_hold.rng)), &on_hold_event);
}

Run run_kernel(const std::string& scheduler, std::size_t pending, std::uint64_t ops) {
  ns3::ObjectFactory factory;
  factory.SetTypeId(scheduler);
  ns3::Simulator::SetScheduler(factory);
  Rng rng = Rng::stream(kSeed, kStream);
  g_hold = KernelHold{&rng, ops, 0};
  for (std::size_t i = 0; i < pending; ++i) {
    ns3::Simulator::Schedule(ns3::MicroSeconds(hold_increment_us(rng)), &on_hold_event);
  }
  const auto start = std::chrono::steady_clock::now();
  ns3::Simulator::Run();
  const auto stop = std::chrono::steady_clock::now();
  SHARD_ASSERT(g_hold.remaining == 0);
  const Run run{std::chrono::duration<double>(stop - start).count(), g_hold.checksum};
  ns3::Simulator::Destroy();  // frees the still-pending events; untimed
  g_hold = KernelHold{};
  return run;
}

// --- the scheduler alone ---

class NopEvent : public ns3::EventImpl {
 protected:
  void Notify() override {}
};

Run run_bare(const std::string& scheduler, std::size_t pending, std::uint64_t ops) {
  ns3::ObjectFactory factory;
  factory.SetTypeId(scheduler);
  ns3::Ptr<ns3::Scheduler> queue = factory.Create<ns3::Scheduler>();
  ns3::Ptr<NopEvent> nop = ns3::Create<NopEvent>();
  Rng rng = Rng::stream(kSeed, kStream);
  std::uint32_t uid = 0;  // ns-3's insertion sequence: ties pop FIFO
  for (std::size_t i = 0; i < pending; ++i) {
    ns3::Scheduler::Event ev;
    ev.impl = ns3::PeekPointer(nop);
    ev.key.m_ts = static_cast<std::uint64_t>(hold_increment_us(rng));
    ev.key.m_uid = uid++;
    ev.key.m_context = 0;
    queue->Insert(ev);
  }
  std::uint64_t checksum = 0;
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < ops; ++i) {
    ns3::Scheduler::Event ev = queue->RemoveNext();
    checksum = fold(checksum, static_cast<std::int64_t>(ev.key.m_ts));
    ev.key.m_ts += static_cast<std::uint64_t>(hold_increment_us(rng));
    ev.key.m_uid = uid++;
    queue->Insert(ev);
  }
  const auto stop = std::chrono::steady_clock::now();
  while (!queue->IsEmpty()) queue->RemoveNext();
  return {std::chrono::duration<double>(stop - start).count(), checksum};
}

void print_row(std::size_t pending, const std::string& queue, std::uint64_t ops, double seconds) {
  std::printf("%9zu  %-38s %8.3f M events/s  (%.3f s for %llu events)\n", pending, queue.c_str(),
              static_cast<double>(ops) / seconds / 1e6, seconds,
              static_cast<unsigned long long>(ops));
  std::fflush(stdout);
}

// Runs the kernel and bare paths of one ns-3 scheduler `repeats` times each and prints the medians.
void run_scheduler(const std::string& scheduler, std::size_t pending, std::uint64_t ops,
                   int repeats, double budget_seconds) {
  constexpr std::uint64_t kPilotOps = 200'000;
  if (ops > kPilotOps) {
    const Run pilot = run_kernel(scheduler, pending, kPilotOps);
    const double projected = pilot.seconds * static_cast<double>(ops) / kPilotOps;
    if (projected > budget_seconds) {
      ops = std::max(kPilotOps, static_cast<std::uint64_t>(static_cast<double>(ops) *
                                                           budget_seconds / projected));
    }
  }
  const std::uint64_t expected = reference_checksum(pending, ops);
  std::vector<double> kernel_seconds;
  std::vector<double> bare_seconds;
  for (int i = 0; i < repeats; ++i) {
    const Run kernel = run_kernel(scheduler, pending, ops);
    const Run bare = run_bare(scheduler, pending, ops);
    SHARD_ASSERT_MSG(kernel.checksum == expected, "{} kernel path popped other times", scheduler);
    SHARD_ASSERT_MSG(bare.checksum == expected, "{} bare path popped other times", scheduler);
    kernel_seconds.push_back(kernel.seconds);
    bare_seconds.push_back(bare.seconds);
  }
  print_row(pending, scheduler + " kernel", ops, median(kernel_seconds));
  print_row(pending, scheduler + " bare", ops, median(bare_seconds));
}

int run(std::uint64_t ops_min, int repeats, double budget_seconds) {
  const std::vector<std::size_t> pendings = {1'000, 100'000, 1'000'000};
  const std::vector<std::string> schedulers = {"ns3::MapScheduler", "ns3::HeapScheduler",
                                               "ns3::ListScheduler", "ns3::CalendarScheduler",
                                               "ns3::PriorityQueueScheduler"};
  std::printf(
      "hold model: max(%llu, 3 x pending) events per run, median of %d runs, "
      "mean increment ~%lld us\n",
      static_cast<unsigned long long>(ops_min), repeats,
      static_cast<long long>(kHoldIncrementMeanUs));
  std::printf("%9s  %-38s %8s\n", "pending", "queue", "rate");
  for (const std::size_t pending : pendings) {
    const std::uint64_t ops = std::max<std::uint64_t>(ops_min, 3 * pending);
    for (const HoldResult& r : run_hold_benchmark(pending, ops, repeats)) {
      print_row(pending, "shardsim " + r.queue, ops, r.seconds);
    }
    for (const std::string& scheduler : schedulers) {
      ns3::TypeId tid;
      if (!ns3::TypeId::LookupByNameFailSafe(scheduler, &tid)) {
        std::printf("%9zu  %-40s not in this ns-3 build\n", pending, scheduler.c_str());
        continue;
      }
      // A sorted linked list: O(pending) per insert, only meaningful for small queues.
      if (scheduler == "ns3::ListScheduler" && pending > 1'000) continue;
      run_scheduler(scheduler, pending, ops, repeats, budget_seconds);
    }
  }
  return 0;
}

}  // namespace
}  // namespace shardsim::bench

int main(int argc, char** argv) {
  const std::uint64_t ops = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2'000'000;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  const double budget_seconds = argc > 3 ? std::atof(argv[3]) : 20.0;
  if (ops == 0 || repeats <= 0 || !(budget_seconds > 0)) {
    std::fprintf(stderr, "usage: %s [ops > 0] [repeats > 0] [budget_seconds_per_run > 0]\n",
                 argv[0]);
    return 2;
  }
  return shardsim::bench::run(ops, repeats, budget_seconds);
}
