#include "tools/shardsim/json_value.h"

#include <fmt/format.h>

#include <charconv>

namespace shardsim::tools {

const JsonValue* JsonValue::find(std::string_view key) const {
  for (const auto& [k, v] : members_)
    if (k == key) return &v;
  return nullptr;
}

std::optional<std::uint64_t> JsonValue::as_u64() const {
  if (kind_ != Kind::number || text_.empty()) return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), v);
  if (ec != std::errc{} || end != text_.data() + text_.size()) return std::nullopt;
  return v;
}

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : s_{text} {}

  JsonParseResult parse() {
    JsonValue v;
    if (!value(v, 0)) return {std::nullopt, error_};
    skip_ws();
    if (pos_ != s_.size()) return {std::nullopt, fail("unexpected text after the value")};
    return {std::move(v), {}};
  }

 private:
  static constexpr int kDepthMax = 32;

  std::string fail(std::string_view what) {
    if (error_.empty()) error_ = fmt::format("at byte {}: {}", pos_ + 1, what);
    return error_;
  }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool value(JsonValue& v, int depth) {
    if (depth > kDepthMax) return fail("nested too deeply"), false;
    skip_ws();
    if (pos_ >= s_.size()) return fail("expected a value"), false;
    const char c = s_[pos_];
    if (c == '{') return object(v, depth);
    if (c == '[') return array(v, depth);
    if (c == '"') {
      v.kind_ = JsonValue::Kind::string;
      return string(v.text_);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return number(v);
    if (literal("true")) {
      v.kind_ = JsonValue::Kind::boolean;
      v.boolean_ = true;
      return true;
    }
    if (literal("false")) {
      v.kind_ = JsonValue::Kind::boolean;
      return true;
    }
    if (literal("null")) return true;
    return fail("expected a value"), false;
  }

  bool object(JsonValue& v, int depth) {
    v.kind_ = JsonValue::Kind::object;
    ++pos_;  // '{'
    if (eat('}')) return true;
    do {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') return fail("expected a key string"), false;
      std::string key;
      if (!string(key)) return false;
      if (v.find(key) != nullptr) return fail(fmt::format("duplicate key \"{}\"", key)), false;
      if (!eat(':')) return fail("expected ':'"), false;
      JsonValue member;
      if (!value(member, depth + 1)) return false;
      v.members_.emplace_back(std::move(key), std::move(member));
    } while (eat(','));
    if (!eat('}')) return fail("expected ',' or '}'"), false;
    return true;
  }

  bool array(JsonValue& v, int depth) {
    v.kind_ = JsonValue::Kind::array;
    ++pos_;  // '['
    if (eat(']')) return true;
    do {
      JsonValue item;
      if (!value(item, depth + 1)) return false;
      v.items_.push_back(std::move(item));
    } while (eat(','));
    if (!eat(']')) return fail("expected ',' or ']'"), false;
    return true;
  }

  bool hex4(std::uint32_t& out) {
    if (pos_ + 4 > s_.size()) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_++];
      out <<= 4;
      if (h >= '0' && h <= '9')
        out |= static_cast<std::uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f')
        out |= static_cast<std::uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        out |= static_cast<std::uint32_t>(h - 'A' + 10);
      else
        return false;
    }
    return true;
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool string(std::string& out) {
    ++pos_;  // '"'
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string"), false;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) break;
      const char e = s_[pos_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!hex4(cp)) return fail("bad \\u escape"), false;
          if (cp >= 0xD800 && cp < 0xDC00) {  // a surrogate pair: the low half must follow
            std::uint32_t low = 0;
            if (!literal("\\u") || !hex4(low) || low < 0xDC00 || low >= 0xE000)
              return fail("unpaired surrogate"), false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            return fail("unpaired surrogate"), false;
          }
          append_utf8(out, cp);
          break;
        }
        default:
          return fail("bad escape"), false;
      }
    }
    return fail("unterminated string"), false;
  }

  bool number(JsonValue& v) {
    const std::size_t start = pos_;
    auto digits = [&] {
      const std::size_t from = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ > from;
    };
    if (s_[pos_] == '-') ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '0') {
      ++pos_;
    } else if (!digits()) {
      return fail("bad number"), false;
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (!digits()) return fail("bad number"), false;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digits()) return fail("bad number"), false;
    }
    v.kind_ = JsonValue::Kind::number;
    v.text_ = std::string{s_.substr(start, pos_ - start)};
    const auto [end, ec] =
        std::from_chars(v.text_.data(), v.text_.data() + v.text_.size(), v.number_);
    if (ec != std::errc{} || end != v.text_.data() + v.text_.size())
      return fail("bad number"), false;
    return true;
  }

  std::string_view s_;
  std::size_t pos_{0};
  std::string error_;
};

JsonParseResult parse_json(std::string_view text) { return JsonParser{text}.parse(); }

}  // namespace shardsim::tools
