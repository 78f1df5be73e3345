#include "engine/core/assert.h"

#include <cstdio>
#include <cstdlib>

namespace shardsim {
namespace {
AssertContextFn g_context = nullptr;
}

void set_assert_context(AssertContextFn fn) { g_context = fn; }

void assert_fail(const char* expr, const char* file, int line, const std::string& detail) {
  std::string ctx = g_context ? g_context() : std::string{};
  std::fprintf(stderr, "%s:%d: assertion failed: %s%s%s%s%s\n", file, line, expr,
               detail.empty() ? "" : " (", detail.c_str(), detail.empty() ? "" : ")",
               ctx.empty() ? "" : (" at " + ctx).c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace shardsim
