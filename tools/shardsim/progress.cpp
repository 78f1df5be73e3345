#include "tools/shardsim/progress.h"

#include <fmt/format.h>

namespace shardsim::tools {
namespace {

constexpr auto kTerminalRedraw = std::chrono::milliseconds(250);
constexpr auto kPlainEvery = std::chrono::seconds(10);
constexpr std::size_t kPlainSteps = 20;  // a plain line every 5 %

std::string clock_text(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

Progress::Progress(std::FILE* out, std::string label, std::size_t total, bool terminal)
    : out_{out}, label_{std::move(label)}, total_{total}, terminal_{terminal} {}

std::string Progress::line(std::size_t done, std::size_t failed) const {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  const std::string eta =
      done == 0 || rate <= 0 ? "?" : clock_text(static_cast<double>(total_ - done) / rate);
  return fmt::format("{} {}/{}  failed {}  {:.2f} runs/s  elapsed {}  ETA {}", label_, done, total_,
                     failed, rate, clock_text(elapsed), eta);
}

void Progress::update(std::size_t done, std::size_t failed) {
  const auto now = Clock::now();
  if (terminal_) {
    if (now - last_ < kTerminalRedraw && done == last_done_) return;
    fmt::print(out_, "\r{}\x1b[K", line(done, failed));
    std::fflush(out_);
  } else {
    const std::size_t step = total_ == 0 ? kPlainSteps : done * kPlainSteps / total_;
    const bool new_step = step > last_step_;
    const bool quiet_too_long = now - last_ >= kPlainEvery && now - start_ >= kPlainEvery;
    if (!new_step && !quiet_too_long) return;
    if (done == total_) return;  // finish() prints the last line
    last_step_ = step;
    fmt::print(out_, "{}\n", line(done, failed));
    std::fflush(out_);
  }
  last_ = now;
  last_done_ = done;
}

void Progress::finish(std::size_t done, std::size_t failed) {
  if (terminal_)
    fmt::print(out_, "\r\x1b[K");
  else
    fmt::print(out_, "{}\n", line(done, failed));
  std::fflush(out_);
}

}  // namespace shardsim::tools
