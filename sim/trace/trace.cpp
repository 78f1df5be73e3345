#include "sim/trace/trace.h"

#include "engine/core/assert.h"

namespace shardsim::sim {

const char* trace_kind_name(TraceKind kind) {
  switch (kind) {
    case TraceKind::send: return "send";
    case TraceKind::deliver: return "deliver";
    case TraceKind::drop: return "drop";
    case TraceKind::duplicate: return "duplicate";
    case TraceKind::timer: return "timer";
    case TraceKind::fault: return "fault";
    case TraceKind::host_start: return "host_start";
    case TraceKind::tick: return "tick";
    case TraceKind::entity_spawn: return "entity_spawn";
    case TraceKind::entity_despawn: return "entity_despawn";
    case TraceKind::handover_local: return "handover_local";
    case TraceKind::client_input: return "client_input";
    case TraceKind::channel_retransmit: return "channel_retransmit";
    case TraceKind::channel_overflow: return "channel_overflow";
    case TraceKind::decode_error: return "decode_error";
    case TraceKind::auth_reject: return "auth_reject";
    case TraceKind::lease_change: return "lease_change";
    case TraceKind::cell_assign: return "cell_assign";
    case TraceKind::cell_migrate: return "cell_migrate";
    case TraceKind::cell_acquire: return "cell_acquire";
    case TraceKind::cell_release: return "cell_release";
    case TraceKind::fence: return "fence";
    case TraceKind::handover_start: return "handover_start";
    case TraceKind::handover_commit: return "handover_commit";
    case TraceKind::handover_install: return "handover_install";
    case TraceKind::handover_abort: return "handover_abort";
    case TraceKind::route_update: return "route_update";
    case TraceKind::store_op: return "store_op";
    case TraceKind::player_restore: return "player_restore";
    case TraceKind::action_ack: return "action_ack";
  }
  return "unknown";
}

Trace::Trace()
    : buffer_{std::make_unique_for_overwrite<std::uint8_t[]>(kBufferSize)} {}

Trace::~Trace() = default;

void Trace::record_bytes_slow(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > kBufferSize / 2) {
    flush();
    if (hashing_) hash_.update(bytes.data(), bytes.size());
    return;
  }
  flush();  // record_bytes() found no room
  std::memcpy(buffer_.get(), bytes.data(), bytes.size());
  pos_ = bytes.size();
}

void Trace::record_slow(Time t, TraceKind kind, HostId host, std::uint64_t a, std::uint64_t b,
                        std::uint64_t c) {
  if (capture_ != nullptr && records_ >= capture_from_ && records_ < capture_to_) {
    capture_->push_back(TraceRecord{records_, t, kind,
                                    host_name_ ? host_name_(host) : std::to_string(host.value()),
                                    a, b, c});
  }
  if (jsonl_ != nullptr) write_jsonl(t, kind, host, a, b, c);
}

void Trace::flush() {
  if (hashing_ && pos_ > 0) {
    hash_.update(buffer_.get(), pos_);
    if (checkpoints_ != nullptr) checkpoints_->emplace_back(records_, hash_.digest());
  }
  pos_ = 0;
}

std::string TraceRecord::describe() const {
  std::string s = "record " + std::to_string(index) + ": t=" + std::to_string(t.us() / 1'000'000) +
                  "." + std::to_string(1'000'000 + t.us() % 1'000'000).substr(1) + "s " + host + " " +
                  trace_kind_name(kind);
  s += " a=" + std::to_string(a) + " b=" + std::to_string(b) + " c=" + std::to_string(c);
  return s;
}

std::uint64_t Trace::digest() {
  flush();
  return hash_.digest();
}

void Trace::attach_jsonl(std::FILE* out, std::function<std::string(HostId)> host_name) {
  jsonl_ = out;
  host_name_ = std::move(host_name);
  update_slow();
}

namespace {
// Field names of a, b, c per kind, so a JSONL trace reads without the source at hand. A name starting
// with '@' is a host id, rendered as the host's name.
struct Fields {
  const char* a;
  const char* b;
  const char* c;
};
Fields fields_of(TraceKind kind) {
  switch (kind) {
    case TraceKind::send: return {"@to", "bytes", nullptr};
    case TraceKind::deliver: return {"@from", "bytes", nullptr};
    case TraceKind::drop: return {"@peer", "bytes", "host_down"};
    case TraceKind::duplicate: return {"@to", "bytes", nullptr};
    case TraceKind::timer: return {"tag", nullptr, nullptr};
    case TraceKind::fault: return {"op", "arg1", "arg2"};  // op: 1 crash 2 restart 3 pause 4 resume 5 clock
    case TraceKind::host_start: return {"incarnation", nullptr, nullptr};
    case TraceKind::tick: return {"tick", nullptr, nullptr};
    case TraceKind::entity_spawn: return {"entity", "cell", "npc"};
    case TraceKind::entity_despawn: return {"entity", "cell", nullptr};
    case TraceKind::handover_local: return {"entity", "source_cell", "target_cell"};
    case TraceKind::client_input: return {"entity", "target_x_mm", "target_y_mm"};
    case TraceKind::channel_retransmit: return {"@client", "frames", nullptr};
    case TraceKind::channel_overflow: return {"entity", "@client", nullptr};
    case TraceKind::decode_error: return {"@peer", "bytes", "stage"};
    case TraceKind::auth_reject: return {"@peer", "bytes", "where"};
    case TraceKind::lease_change: return {"node", "lease", "what"};  // 0 expired 1 granted 2/3 left
    case TraceKind::cell_assign: return {"cell", "node", "epoch"};
    case TraceKind::cell_migrate: return {"cell", "from_node", "to_node"};
    case TraceKind::cell_acquire: return {"cell", "epoch", "how"};  // 0 fresh 1 restore 2 migration
    case TraceKind::cell_release: return {"cell", "epoch", "why"};  // 0 fence 1 migrated 2 lost
    case TraceKind::fence: return {"node", "cells", nullptr};
    case TraceKind::handover_start: return {"hid", "player", "target_cell"};
    case TraceKind::handover_commit: return {"hid", "player", "gen"};
    case TraceKind::handover_install: return {"hid", "player", "gen"};
    case TraceKind::handover_abort: return {"hid", "player", "reason"};
    case TraceKind::route_update: return {"player", "node", "gen"};
    case TraceKind::store_op: return {"op", "entries", "ok"};  // op 0 cas 1 write 2 restore
    case TraceKind::player_restore: return {"player", "cell", "gen"};
    case TraceKind::action_ack: return {"player", "seq", "how"};
  }
  return {"a", "b", "c"};
}
}  // namespace

void Trace::write_jsonl(Time t, TraceKind kind, HostId host, std::uint64_t a, std::uint64_t b,
                        std::uint64_t c) {
  const auto name = [&](std::uint64_t h) {
    return host_name_ ? host_name_(HostId{static_cast<std::uint32_t>(h)}) : std::to_string(h);
  };
  std::string line = "{\"t_us\":" + std::to_string(t.us()) + ",\"kind\":\"" + trace_kind_name(kind) +
                     "\",\"host\":\"" + name(host.value()) + "\"";
  const Fields f = fields_of(kind);
  const std::uint64_t values[3] = {a, b, c};
  const char* names[3] = {f.a, f.b, f.c};
  for (int i = 0; i < 3; ++i) {
    if (names[i] == nullptr) continue;
    if (names[i][0] == '@')
      line += std::string{",\""} + (names[i] + 1) + "\":\"" + name(values[i]) + "\"";
    else
      line += std::string{",\""} + names[i] + "\":" + std::to_string(values[i]);
  }
  line += "}\n";
  std::fwrite(line.data(), 1, line.size(), jsonl_);
}

}  // namespace shardsim::sim
