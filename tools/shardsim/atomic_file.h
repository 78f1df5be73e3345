// An output file that appears whole or not at all: lines go to "PATH.tmp", and commit() renames it
// to PATH. Destroyed uncommitted, it removes the temporary file, so a failed or refused command
// leaves nothing behind. (Only SIGKILL can leave a PATH.tmp; PATH itself is never half-written.)
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace shardsim::tools {

class AtomicFile {
 public:
  AtomicFile() = default;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  bool open(const std::string& path, std::string& error);
  bool is_open() const { return file_ != nullptr; }
  void write_line(std::string_view line);  // appends line + '\n'
  bool commit(std::string& error);         // flush, close, rename into place

 private:
  std::string path_;
  std::string tmp_;
  std::FILE* file_{nullptr};
  bool write_failed_{false};
};

}  // namespace shardsim::tools
