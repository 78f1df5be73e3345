// Human and machine renderings of a run: the summary table on stdout and the --json file.
#pragma once

#include <cstdio>
#include <string>

#include "sim/runner/runner.h"

namespace shardsim::tools {

void print_summary(std::FILE* out, const sim::RunResult& r);
// Writes the JSON report atomically (temp file + rename): never a half-written file.
bool write_json(const std::string& path, const sim::RunResult& r, std::string& error);
std::string json_escape(std::string_view s);
// Numbers in JSON: integers for counts, plain decimals (6 significant digits) otherwise.
std::string json_number(double v);

}  // namespace shardsim::tools
