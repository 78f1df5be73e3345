// Test doubles for the engine's Env: a clock advanced by hand, timers that only record what was
// asked, a transport that captures every sent byte vector, and a tracer that keeps its events. None
// of them does anything on its own — the test decides when time passes and which bytes arrive where
// — so a unit test drives an engine component step by step without the simulator kernel.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "engine/core/assert.h"
#include "engine/runtime/env.h"

namespace shardsim::testing {

class ManualClock final : public Clock {
 public:
  Time now() const override { return now_; }
  // Time never goes backwards, as Env promises its users.
  void advance(Duration d) {
    SHARD_ASSERT(d >= Duration::zero());
    now_ += d;
  }
  void advance_to(Time t) {
    SHARD_ASSERT(t >= now_);
    now_ = t;
  }

 private:
  Time now_{Time::zero()};
};

class FakeTimers final : public Timers {
 public:
  struct Armed {
    TimerId id;
    Time at;
    std::uint64_t tag{0};
  };

  TimerId set_timer(Time at, std::uint64_t tag) override {
    const TimerId id{++last_id_};
    armed_.push_back(Armed{id, at, tag});
    return id;
  }
  void cancel(TimerId id) override {
    std::erase_if(armed_, [&](const Armed& a) { return a.id.value == id.value; });
  }

  const std::vector<Armed>& armed() const { return armed_; }
  // Removes and returns the earliest armed timer (ties: the first set). The caller fires it.
  Armed pop_next() {
    SHARD_ASSERT(!armed_.empty());
    std::size_t best = 0;
    for (std::size_t i = 1; i < armed_.size(); ++i)
      if (armed_[i].at < armed_[best].at) best = i;
    const Armed a = armed_[best];
    armed_.erase(armed_.begin() + static_cast<std::ptrdiff_t>(best));
    return a;
  }

 private:
  std::uint64_t last_id_{0};
  std::vector<Armed> armed_;
};

class RecordingTransport final : public Transport {
 public:
  struct Sent {
    HostId to;
    std::vector<std::uint8_t> bytes;
  };

  explicit RecordingTransport(HostId self) : self_{self} {}
  HostId self() const override { return self_; }
  void send(HostId to, std::span<const std::uint8_t> bytes) override {
    sent_.push_back(Sent{to, std::vector<std::uint8_t>(bytes.begin(), bytes.end())});
  }

  const std::vector<Sent>& sent() const { return sent_; }
  // Hands over everything sent so far and forgets it.
  std::vector<Sent> take() { return std::exchange(sent_, {}); }

 private:
  HostId self_;
  std::vector<Sent> sent_;
};

class RecordingTracer final : public Tracer {
 public:
  struct Event {
    TraceKind kind;
    std::uint64_t a{0};
    std::uint64_t b{0};
    std::uint64_t c{0};
  };
  void record(TraceKind kind, std::uint64_t a, std::uint64_t b, std::uint64_t c) override {
    events_.push_back(Event{kind, a, b, c});
  }
  const std::vector<Event>& events() const { return events_; }
  std::size_t count(TraceKind kind) const {
    std::size_t n = 0;
    for (const auto& e : events_) n += e.kind == kind;
    return n;
  }

 private:
  std::vector<Event> events_;
};

}  // namespace shardsim::testing
