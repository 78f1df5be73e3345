// The YAML reading layer under the scenario loader: turns scenario text into one YAML document and
// hands its values out as Entries, reporting every problem as a Diagnostic that names the key and
// points at the node. It knows nothing about which keys the scenario format has; loader.cpp does.
//
// Internal to sim/scenario: only loader.cpp includes this header.
//
// Rules:
// - Nothing here throws for bad input and nothing stops at the first problem: every reader
//   reports what is wrong to Diagnostics and returns nullopt (or skips the entry), so the caller
//   carries on and the designer sees every problem at once.
// - A value is only ever reached through an Entry, so a message can always say which key it is
//   about (`world.aoi_radius`) and point at its node, or at its key when the value is empty.
// - A map's keys are checked once, when its MapReader is made: unknown, reserved, duplicate and
//   non-scalar keys are reported there, and later lookups see only the accepted keys.
// - Positions are 1-based, as editors show them; diagnostics come out sorted by position, in the
//   order they were reported where positions tie. Message texts are pinned by the loader tests.
// - yaml-cpp 0.7's LoadAll can hang on malformed input, so documents are only ever read through
//   read_document, never with YAML::LoadAll.
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/core/time.h"
#include "sim/scenario/loader.h"
#include "sim/scenario/units.h"

namespace shardsim::scenario::detail {

// Collects diagnostics for one file.
class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_{std::move(file)} {}

  // yaml-cpp marks are zero-based and null for nodes it made up; editors count from 1.
  SourceLoc at(const YAML::Mark& mark) const;
  void error(const SourceLoc& loc, std::string message) {
    list_.push_back({loc, std::move(message)});
  }
  bool empty() const { return list_.empty(); }
  std::size_t count() const { return list_.size(); }

  // Every diagnostic so far, stably sorted by (line, column).
  std::vector<Diagnostic> take();

 private:
  std::string file_;
  std::vector<Diagnostic> list_;
};

// One value in the document, with the name messages use for it and where to point.
struct Entry {
  std::string path;  // dotted key path, "world.aoi_radius"; "" for the document itself
  std::string name;  // as messages show it: "`world.aoi_radius`", "`world.size` width"
  YAML::Node value;
  SourceLoc key_loc;  // the key (for a list element: the element)
  SourceLoc loc;      // the value, or the key when the value is empty (yaml-cpp marks of empty
                      // values point at the next token, which would confuse)
};

// "a list", "a map", "a single value" or "nothing", for "got ..." in messages.
const char* kind_name(const YAML::Node& n);

// "; did you mean `aoi_radius`?" when one candidate is close enough to `word` to be a typo;
// "" otherwise.
std::string suggestion(std::string_view word, std::span<const std::string_view> candidates);

// A key reserved for a later issue: accepted by the parser, rejected with a clear message.
struct Reserved {
  std::string_view key;
  std::string_view planned;
};

// closed: only the listed keys; metric_names: any key, checked later against the metric registry.
enum class Keys { closed, metric_names };

// Checks a map's keys once — unknown, reserved, duplicate and non-scalar keys are reported here —
// and hands out its entries by key. A value that is not a map is reported, and the reader is empty.
class MapReader {
 public:
  MapReader(Diagnostics& diag, const Entry& self, std::span<const std::string_view> known,
            std::span<const Reserved> reserved = {}, Keys policy = Keys::closed);

  bool is_map() const { return is_map_; }
  const std::vector<Entry>& entries() const { return entries_; }

  const Entry* get(std::string_view key) const;

  // Reports a missing key at the key of this map (or 1:1 for the document).
  const Entry* require(std::string_view key);

 private:
  std::string child_path(std::string_view key) const;
  std::string where() const;
  void add(const YAML::Node& key_node, const YAML::Node& value,
           std::span<const std::string_view> known, std::span<const Reserved> reserved,
           Keys policy);

  Diagnostics& diag_;
  Entry self_;
  std::vector<Entry> entries_;
  std::vector<std::string> suggested_;  // keys offered as "did you mean" for a misspelt key
  bool is_map_{false};
};

// ---------------------------------------------------------------------------------------------
// Typed values. A Quantity is one kind of scalar (duration, distance, ...) stored as int64 in its
// base unit (us, mm, mm/s, ppm, plain), with how to parse it and how to show it back.

struct Quantity {
  std::string_view expected;  // "a duration such as 250ms or 2s"
  Parsed<std::int64_t> (*parse)(std::string_view);
  std::string (*format)(std::int64_t);
};

extern const Quantity kDuration;
extern const Quantity kDistance;
extern const Quantity kSpeed;
extern const Quantity kPercent;
extern const Quantity kCount;

// The scalar text of `e`; anything else is reported as "must be <expected>".
std::optional<std::string> read_scalar(Diagnostics& diag, const Entry& e,
                                       std::string_view expected);

// Parses `e` as `q` and checks lo <= value <= hi, with a message that names the key.
std::optional<std::int64_t> read(Diagnostics& diag, const Entry& e, const Quantity& q,
                                 std::int64_t lo, std::int64_t hi);

std::optional<Duration> read_duration(Diagnostics& diag, const Entry& e, Duration lo, Duration hi);

// A two-element list, such as `size: [4000m, 4000m]`; the elements are named for messages.
std::optional<std::array<Entry, 2>> read_pair(Diagnostics& diag, const Entry& e,
                                              std::string_view expected,
                                              std::array<std::string_view, 2> names);

// A [min, max] pair of one quantity, both within [lo, hi] and min <= max.
std::optional<std::array<std::int64_t, 2>> read_range(Diagnostics& diag, const Entry& e,
                                                      const Quantity& q, std::string_view expected,
                                                      std::int64_t lo, std::int64_t hi);

// A rate such as 1/s, 30/min or 2/h: above zero, one event every 1us to kMaxDuration on average.
std::optional<Rate> read_rate(Diagnostics& diag, const Entry& e);

// `true` or `false`.
std::optional<bool> read_flag(Diagnostics& diag, const Entry& e);

// The elements of a list, named `path[0]`, `path[1]`, ... (counted from 0, as in JSON paths); a
// value that is not a list is reported as "must be <expected>".
std::optional<std::vector<Entry>> read_list(Diagnostics& diag, const Entry& e,
                                            std::string_view expected);

// The index of the word `e` holds among `words`, with a suggestion for a near miss.
std::optional<std::size_t> read_choice_index(Diagnostics& diag, const Entry& e,
                                             std::span<const std::string_view> words);

// One of a fixed set of words, with a suggestion for a near miss.
template <class T, std::size_t N>
std::optional<T> read_choice(Diagnostics& diag, const Entry& e,
                             const std::array<std::pair<std::string_view, T>, N>& choices) {
  std::array<std::string_view, N> words;
  for (std::size_t i = 0; i < N; ++i) words[i] = choices[i].first;
  const auto index = read_choice_index(diag, e, words);
  if (!index) return std::nullopt;
  return choices[*index].second;
}

// ---------------------------------------------------------------------------------------------
// The YAML stream.

struct Document {
  YAML::Node root;         // the first document; null when there is none or it is empty
  int documents{0};        // how many documents the stream holds, counted up to 3
  YAML::Mark second_root;  // the second document's first node, when documents >= 2
};

// Reads the first document of `text` and counts the documents after it. Malformed YAML is
// reported ("malformed YAML: ...", with a hint for common mistakes) and yields nullopt.
std::optional<Document> read_document(Diagnostics& diag, const std::string& text);

}  // namespace shardsim::scenario::detail
