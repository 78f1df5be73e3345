#include "sim/scenario/yaml_reader.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <tuple>

namespace shardsim::scenario::detail {

SourceLoc Diagnostics::at(const YAML::Mark& mark) const {
  if (mark.is_null() || mark.line < 0) return {file_, 1, 1};
  return {file_, mark.line + 1, mark.column + 1};
}

std::vector<Diagnostic> Diagnostics::take() {
  std::stable_sort(list_.begin(), list_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.loc.line, a.loc.column) < std::tie(b.loc.line, b.loc.column);
  });
  return std::move(list_);
}

const char* kind_name(const YAML::Node& n) {
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  if (n.IsScalar()) return "a single value";
  return "nothing";
}

namespace {

Entry child_entry(const Diagnostics& diag, const Entry& parent, std::string_view key,
                  const YAML::Node& key_node, const YAML::Node& value) {
  std::string path =
      parent.path.empty() ? std::string{key} : fmt::format("{}.{}", parent.path, key);
  const SourceLoc key_loc = diag.at(key_node.Mark());
  const SourceLoc loc = value.IsNull() ? key_loc : diag.at(value.Mark());
  return Entry{path, fmt::format("`{}`", path), value, key_loc, loc};
}

// Optimal string alignment distance (Levenshtein plus adjacent transpositions), for suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string lowercase(std::string_view s) {
  std::string out{s};
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

// The candidate close enough to `word` to be what was meant (a typo), or "".
std::string suggested_word(std::string_view word, std::span<const std::string_view> candidates) {
  const std::string lower = lowercase(word);
  std::string_view best;
  std::size_t best_distance = SIZE_MAX;
  for (std::string_view c : candidates) {
    const std::size_t dist = edit_distance(lower, c);
    if (dist < best_distance) {
      best = c;
      best_distance = dist;
    }
  }
  const std::size_t allowed = std::max<std::size_t>(1, std::min(word.size(), best.size()) / 3);
  if (best.empty() || best_distance > allowed) return {};
  return std::string{best};
}

}  // namespace

std::string suggestion(std::string_view word, std::span<const std::string_view> candidates) {
  const std::string best = suggested_word(word, candidates);
  return best.empty() ? std::string{} : fmt::format("; did you mean `{}`?", best);
}

// ---------------------------------------------------------------------------------------------
// MapReader

namespace {

std::string key_examples(std::span<const std::string_view> known) {
  std::string out;
  for (std::size_t i = 0; i < known.size() && i < 3; ++i) {
    out += fmt::format("{}`{}`", i == 0 ? "" : ", ", known[i]);
  }
  return out;
}

}  // namespace

MapReader::MapReader(Diagnostics& diag, const Entry& self, std::span<const std::string_view> known,
                     std::span<const Reserved> reserved, Keys policy)
    : diag_{diag}, self_{self} {
  if (!self.value.IsMap()) {
    const std::string examples =
        policy == Keys::metric_names ? "`players.lost: \"== 0\"`" : key_examples(known);
    diag.error(self.loc, fmt::format("{} must be a map with keys such as {}, got {}", self.name,
                                     examples, kind_name(self.value)));
    return;
  }
  is_map_ = true;
  for (auto it = self.value.begin(); it != self.value.end(); ++it) {
    add(it->first, it->second, known, reserved, policy);
  }
}

const Entry* MapReader::get(std::string_view key) const {
  for (const auto& e : entries_)
    if (e.path == child_path(key)) return &e;
  return nullptr;
}

const Entry* MapReader::require(std::string_view key) {
  const Entry* e = get(key);
  // A misspelt key was already reported with this key as the suggestion; say it once.
  const bool suggested = std::find(suggested_.begin(), suggested_.end(), key) != suggested_.end();
  if (e == nullptr && is_map_ && !suggested) {
    diag_.error(self_.key_loc, self_.path.empty() ? fmt::format("missing required key `{}`", key)
                                                  : fmt::format("{} is missing required key `{}`",
                                                                self_.name, key));
  }
  return e;
}

std::string MapReader::child_path(std::string_view key) const {
  return self_.path.empty() ? std::string{key} : fmt::format("{}.{}", self_.path, key);
}

std::string MapReader::where() const {
  return self_.path.empty() ? "at the top level" : fmt::format("in {}", self_.name);
}

void MapReader::add(const YAML::Node& key_node, const YAML::Node& value,
                    std::span<const std::string_view> known, std::span<const Reserved> reserved,
                    Keys policy) {
  const SourceLoc key_loc = diag_.at(key_node.Mark());
  if (!key_node.IsScalar()) {
    diag_.error(key_loc,
                fmt::format("keys must be plain names, got {} {}", kind_name(key_node), where()));
    return;
  }
  const std::string& key = key_node.Scalar();
  for (const auto& e : entries_) {
    if (e.path == child_path(key)) {
      diag_.error(key_loc, fmt::format("duplicate key `{}` {} (first defined at line {})", key,
                                       where(), e.key_loc.line));
      return;
    }
  }
  for (const auto& r : reserved) {
    if (r.key == key) {
      diag_.error(key_loc, fmt::format("`{}` is not supported yet (planned: {}); remove it for now",
                                       child_path(key), r.planned));
      return;
    }
  }
  if (policy == Keys::closed && std::find(known.begin(), known.end(), key) == known.end()) {
    std::vector<std::string_view> candidates{known.begin(), known.end()};
    for (const auto& r : reserved) candidates.push_back(r.key);
    const std::string hint = suggestion(key, candidates);
    diag_.error(key_loc, fmt::format("unknown key `{}` {}{}", key, where(), hint));
    if (!hint.empty()) suggested_.push_back(suggested_word(key, candidates));
    return;
  }
  entries_.push_back(child_entry(diag_, self_, key, key_node, value));
}

// ---------------------------------------------------------------------------------------------
// Typed values

const Quantity kDuration{
    "a duration such as 250ms or 2s",
    [](std::string_view t) {
      auto d = parse_duration(t);
      return d.ok() ? Parsed<std::int64_t>{d.value->us(), {}} : Parsed<std::int64_t>{{}, d.error};
    },
    [](std::int64_t us) { return format_duration(Duration::micros(us)); }};
const Quantity kDistance{"a distance such as 100m", parse_distance_mm, format_distance_mm};
const Quantity kSpeed{"a speed such as 6m/s", parse_speed_mm_s, format_speed_mm_s};
const Quantity kPercent{"a percentage such as 0.5%", parse_percent_ppm, format_ppm_percent};
const Quantity kCount{"a whole number", parse_integer,
                      [](std::int64_t v) { return fmt::format("{}", v); }};

std::optional<std::string> read_scalar(Diagnostics& diag, const Entry& e,
                                       std::string_view expected) {
  if (e.value.IsScalar()) return e.value.Scalar();
  diag.error(e.loc, fmt::format("{} must be {}, got {}", e.name, expected, kind_name(e.value)));
  return std::nullopt;
}

std::optional<std::int64_t> read(Diagnostics& diag, const Entry& e, const Quantity& q,
                                 std::int64_t lo, std::int64_t hi) {
  const auto text = read_scalar(diag, e, q.expected);
  if (!text) return std::nullopt;
  const auto parsed = q.parse(*text);
  if (!parsed.ok()) {
    diag.error(e.loc, fmt::format("{}: {}", e.name, parsed.error));
    return std::nullopt;
  }
  const std::int64_t v = *parsed.value;
  if (v < 0 && lo >= 0) {
    diag.error(e.loc, fmt::format("{} cannot be negative, got {}", e.name, q.format(v)));
  } else if (v < lo && lo == 1) {
    diag.error(e.loc, fmt::format("{} must be greater than zero, got {}", e.name, q.format(v)));
  } else if (v < lo || v > hi) {
    diag.error(e.loc, fmt::format("{} must be between {} and {}, got {}", e.name, q.format(lo),
                                  q.format(hi), q.format(v)));
  } else {
    return v;
  }
  return std::nullopt;
}

std::optional<Duration> read_duration(Diagnostics& diag, const Entry& e, Duration lo, Duration hi) {
  const auto us = read(diag, e, kDuration, lo.us(), hi.us());
  return us ? std::optional{Duration::micros(*us)} : std::nullopt;
}

std::optional<std::array<Entry, 2>> read_pair(Diagnostics& diag, const Entry& e,
                                              std::string_view expected,
                                              std::array<std::string_view, 2> names) {
  if (!e.value.IsSequence() || e.value.size() != 2) {
    const std::string got = e.value.IsSequence() ? fmt::format("a list of {}", e.value.size())
                                                 : std::string{kind_name(e.value)};
    diag.error(e.loc, fmt::format("{} must be {}, got {}", e.name, expected, got));
    return std::nullopt;
  }
  std::array<Entry, 2> out;
  for (std::size_t i = 0; i < 2; ++i) {
    const YAML::Node item = e.value[i];
    const SourceLoc loc = item.IsNull() ? e.loc : diag.at(item.Mark());
    out[i] = Entry{fmt::format("{}[{}]", e.path, i), fmt::format("{} {}", e.name, names[i]), item,
                   loc, loc};
  }
  return out;
}

std::optional<std::array<std::int64_t, 2>> read_range(Diagnostics& diag, const Entry& e,
                                                      const Quantity& q, std::string_view expected,
                                                      std::int64_t lo, std::int64_t hi) {
  const auto items = read_pair(diag, e, expected, {"min", "max"});
  if (!items) return std::nullopt;
  const auto min = read(diag, (*items)[0], q, lo, hi);
  const auto max = read(diag, (*items)[1], q, lo, hi);
  if (!min || !max) return std::nullopt;
  if (*min > *max) {
    diag.error(e.loc, fmt::format("{}: min ({}) must not exceed max ({})", e.name, q.format(*min),
                                  q.format(*max)));
    return std::nullopt;
  }
  return std::array{*min, *max};
}

std::optional<Rate> read_rate(Diagnostics& diag, const Entry& e) {
  const auto text = read_scalar(diag, e, "a rate such as 1/s, 30/min or 2/h");
  if (!text) return std::nullopt;
  const auto rate = parse_rate(*text);
  if (!rate.ok()) {
    diag.error(e.loc, fmt::format("{}: {}", e.name, rate.error));
    return std::nullopt;
  }
  // The mean interval is what the simulator uses: it must be at least 1us (else it would round to
  // zero, which means "off") and at most the longest run.
  const Duration every = rate.value->mean_interval();
  if (every < Duration::micros(1)) {
    diag.error(e.loc, fmt::format("{}: `{}` is faster than one event per microsecond", e.name,
                                  *text));
  } else if (every > kMaxDuration) {
    diag.error(e.loc, fmt::format("{}: `{}` is slower than one event per {}, the longest run",
                                  e.name, *text, format_duration(kMaxDuration)));
  } else {
    return rate.value;
  }
  return std::nullopt;
}

std::optional<bool> read_flag(Diagnostics& diag, const Entry& e) {
  static constexpr std::array<std::pair<std::string_view, bool>, 2> kFlags{
      {{"true", true}, {"false", false}}};
  return read_choice(diag, e, kFlags);
}

std::optional<std::vector<Entry>> read_list(Diagnostics& diag, const Entry& e,
                                            std::string_view expected) {
  if (!e.value.IsSequence()) {
    diag.error(e.loc, fmt::format("{} must be {}, got {}", e.name, expected, kind_name(e.value)));
    return std::nullopt;
  }
  std::vector<Entry> out;
  for (std::size_t i = 0; i < e.value.size(); ++i) {
    const YAML::Node item = e.value[i];
    const SourceLoc loc = item.IsNull() ? e.loc : diag.at(item.Mark());
    const std::string path = fmt::format("{}[{}]", e.path, i);
    out.push_back(Entry{path, fmt::format("`{}`", path), item, loc, loc});
  }
  return out;
}

std::optional<std::size_t> read_choice_index(Diagnostics& diag, const Entry& e,
                                             std::span<const std::string_view> words) {
  const std::size_t n = words.size();
  std::string list;
  for (std::size_t i = 0; i < n; ++i) {
    list += fmt::format("{}{}", i == 0 ? "" : (i + 1 == n ? " or " : ", "), words[i]);
  }
  const auto text = read_scalar(diag, e, fmt::format("one of {}", list));
  if (!text) return std::nullopt;
  for (std::size_t i = 0; i < n; ++i)
    if (words[i] == *text) return i;
  diag.error(e.loc, fmt::format("{} must be one of {}, got `{}`{}", e.name, list, *text,
                                suggestion(*text, words)));
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Reading the YAML stream. yaml-cpp 0.7's LoadAll loops forever, allocating, when a token cannot
// start a node (a stray `,`: jbeder/yaml-cpp#1040, fixed upstream after 0.7): the parser reports
// an empty document without consuming the token, again and again. So documents are walked with
// the event parser, an empty document that makes no progress is malformed YAML, and nodes are
// built for the first document only (YAML::Load reads exactly one).

namespace {

// Where a document's first node is and whether that node is all it holds, and empty.
class DocumentShape : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    root_ = mark;
    nodes_ = 0;
    null_root_ = false;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark, true); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark, false); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    node(mark, false);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    node(mark, false);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(mark, false);
  }
  void OnMapEnd() override {}

  const YAML::Mark& root() const { return root_; }
  bool empty() const { return nodes_ == 1 && null_root_; }

 private:
  void node(const YAML::Mark& mark, bool is_null) {
    if (nodes_++ == 0) {
      root_ = mark;
      null_root_ = is_null;
    }
  }
  YAML::Mark root_;
  int nodes_{0};
  bool null_root_{false};
};

struct StreamShape {
  int documents{0};        // counted up to 3
  YAML::Mark second_root;  // the second document's first node, when documents >= 2
  std::optional<YAML::Mark> stuck_at;
};

// Throws YAML::Exception for malformed YAML, like the node API.
StreamShape scan_stream(const std::string& text) {
  std::istringstream in{text};
  YAML::Parser parser{in};
  DocumentShape doc;
  StreamShape shape;
  std::optional<YAML::Mark> previous_empty_root;
  while (shape.documents < 3 && parser.HandleNextDocument(doc)) {
    ++shape.documents;
    if (shape.documents == 2) shape.second_root = doc.root();
    if (doc.empty() && previous_empty_root && previous_empty_root->pos == doc.root().pos) {
      shape.stuck_at = doc.root();
      break;
    }
    previous_empty_root = doc.empty() ? std::optional{doc.root()} : std::nullopt;
  }
  return shape;
}

// yaml-cpp's messages speak parser; for the mistakes designers actually make, say what to do.
std::string yaml_hint(std::string_view message) {
  if (message == YAML::ErrorMsg::CHAR_IN_BLOCK) {
    return " (a value starting with `>` or `|` begins a block of text in YAML: quote "
           "expectations, e.g. \"> 100\")";
  }
  if (message == YAML::ErrorMsg::END_OF_SEQ_FLOW) return " (a `[` is never closed)";
  if (message == YAML::ErrorMsg::END_OF_MAP_FLOW) return " (a `{` is never closed)";
  return {};
}

}  // namespace

std::optional<Document> read_document(Diagnostics& diag, const std::string& text) {
  StreamShape shape;
  YAML::Node root;
  try {
    shape = scan_stream(text);
    if (!shape.stuck_at && shape.documents > 0) root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    diag.error(diag.at(e.mark), fmt::format("malformed YAML: {}{}", e.msg, yaml_hint(e.msg)));
    return std::nullopt;
  }
  if (shape.stuck_at) {
    const auto pos = static_cast<std::size_t>(shape.stuck_at->pos);
    diag.error(diag.at(*shape.stuck_at),
               pos < text.size() ? fmt::format("malformed YAML: unexpected `{}`", text[pos])
                                 : std::string{"malformed YAML"});
    return std::nullopt;
  }
  return Document{root, shape.documents, shape.second_root};
}

}  // namespace shardsim::scenario::detail
