#include "tools/shardsim/atomic_file.h"

#include <fmt/format.h>

namespace shardsim::tools {

AtomicFile::~AtomicFile() {
  if (file_ == nullptr) return;
  std::fclose(file_);
  std::remove(tmp_.c_str());
}

bool AtomicFile::open(const std::string& path, std::string& error) {
  path_ = path;
  tmp_ = path + ".tmp";
  file_ = std::fopen(tmp_.c_str(), "w");
  if (file_ == nullptr) error = fmt::format("cannot write {}", path);
  return file_ != nullptr;
}

void AtomicFile::write_line(std::string_view line) {
  if (file_ == nullptr) return;
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() ||
      std::fputc('\n', file_) == EOF)
    write_failed_ = true;
}

bool AtomicFile::commit(std::string& error) {
  if (file_ == nullptr) return true;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (write_failed_ || !closed || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    std::remove(tmp_.c_str());
    error = fmt::format("cannot write {}", path_);
    return false;
  }
  return true;
}

}  // namespace shardsim::tools
