// A minimal JSON reader for the files shardsim itself writes (sweep results, one object per line).
//
// It accepts standard JSON (RFC 8259) — objects, arrays, strings with escapes, numbers, true,
// false, null — and rejects everything else with a message naming the byte offset. Objects keep
// their keys in file order; a duplicate key is an error, so a line cannot say two things about one
// field. Depth is limited (depth_max) so a hostile file cannot exhaust the stack.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shardsim::tools {

class JsonValue {
 public:
  enum class Kind { null, boolean, number, string, array, object };

  Kind kind() const { return kind_; }
  bool is_string() const { return kind_ == Kind::string; }
  bool is_number() const { return kind_ == Kind::number; }
  bool is_array() const { return kind_ == Kind::array; }
  bool is_object() const { return kind_ == Kind::object; }

  const std::string& string() const { return text_; }  // a string's value; a number's source text
  double number() const { return number_; }
  const std::vector<JsonValue>& items() const { return items_; }
  const std::vector<std::pair<std::string, JsonValue>>& members() const { return members_; }
  // An object's member, or nullptr.
  const JsonValue* find(std::string_view key) const;
  // A number written as a non-negative integer that fits in 64 bits (e.g. a seed), exactly.
  std::optional<std::uint64_t> as_u64() const;

 private:
  friend class JsonParser;
  Kind kind_{Kind::null};
  bool boolean_{false};
  double number_{0};
  std::string text_;
  std::vector<JsonValue> items_;
  std::vector<std::pair<std::string, JsonValue>> members_;
};

struct JsonParseResult {
  std::optional<JsonValue> value;
  std::string error;  // "at byte 17: expected ':'" when value is empty
};

// Parses one complete JSON text; trailing non-whitespace is an error.
JsonParseResult parse_json(std::string_view text);

}  // namespace shardsim::tools
