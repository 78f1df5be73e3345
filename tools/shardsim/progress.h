// Progress of a long batch of runs on stderr: done/total, failures, runs/s and the time left.
//
// On a terminal, one line redrawn in place (\r) a few times a second. Elsewhere (CI logs, files), a
// plain line each time another 5 % is done or 10 s have passed, whichever comes first, so a log
// neither floods nor goes quiet. Progress reads the wall clock; nothing it reads reaches a result.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace shardsim::tools {

class Progress {
 public:
  Progress(std::FILE* out, std::string label, std::size_t total, bool terminal);
  // Call on every completion and now and then in between; redraws only when it is time to.
  void update(std::size_t done, std::size_t failed);
  // Clears the terminal line (the summary follows), or prints a last plain line.
  void finish(std::size_t done, std::size_t failed);

 private:
  using Clock = std::chrono::steady_clock;
  std::string line(std::size_t done, std::size_t failed) const;

  std::FILE* out_;
  std::string label_;
  std::size_t total_;
  bool terminal_;
  Clock::time_point start_{Clock::now()};
  Clock::time_point last_{};
  std::size_t last_done_{0};
  std::size_t last_step_{0};  // plain mode: the last 5 % step printed
};

}  // namespace shardsim::tools
