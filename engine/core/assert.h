// SHARD_ASSERT: always on, in Release too. A failed assertion is a bug, never a simulated fault or bad
// input. It prints the expression, file:line and whatever context the embedding program registered (the
// simulator registers virtual time and seed), then aborts.
#pragma once

#include <string>

#include <fmt/format.h>

namespace shardsim {

// Called on assertion failure to describe where the program is (e.g. "t=12.345000s seed=7").
using AssertContextFn = std::string (*)();
void set_assert_context(AssertContextFn fn);

[[noreturn]] void assert_fail(const char* expr, const char* file, int line, const std::string& detail);

}  // namespace shardsim

#define SHARD_ASSERT(cond)                                                 \
  do {                                                                     \
    if (!(cond)) [[unlikely]]                                              \
      ::shardsim::assert_fail(#cond, __FILE__, __LINE__, std::string{});   \
  } while (0)

// SHARD_ASSERT_MSG(cond, fmt-string, args...) adds formatted values to the report.
#define SHARD_ASSERT_MSG(cond, ...)                                              \
  do {                                                                           \
    if (!(cond)) [[unlikely]]                                                    \
      ::shardsim::assert_fail(#cond, __FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
  } while (0)
