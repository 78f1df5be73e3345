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
  }
  return "unknown";
}

Trace::Trace() : buffer_(kBufferSize), state_{XXH3_createState()} {
  SHARD_ASSERT(state_ != nullptr);
  XXH3_64bits_reset(state_);
}

Trace::~Trace() { XXH3_freeState(state_); }

void Trace::record_bytes(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > kBufferSize / 2) {
    flush();
    if (hashing_) XXH3_64bits_update(state_, bytes.data(), bytes.size());
    return;
  }
  if (pos_ + bytes.size() > kBufferSize) flush();
  std::copy(bytes.begin(), bytes.end(), buffer_.begin() + static_cast<std::ptrdiff_t>(pos_));
  pos_ += bytes.size();
}

void Trace::flush() {
  if (hashing_ && pos_ > 0) XXH3_64bits_update(state_, buffer_.data(), pos_);
  pos_ = 0;
}

std::uint64_t Trace::digest() {
  flush();
  return XXH3_64bits_digest(state_);
}

void Trace::attach_jsonl(std::FILE* out, std::function<std::string(HostId)> host_name) {
  jsonl_ = out;
  host_name_ = std::move(host_name);
}

void Trace::write_jsonl(Time t, TraceKind kind, HostId host, std::uint64_t a, std::uint64_t b,
                        std::uint64_t c) {
  const std::string name = host_name_ ? host_name_(host) : std::to_string(host.value());
  std::fprintf(jsonl_, "{\"t_us\":%lld,\"kind\":\"%s\",\"host\":\"%s\",\"a\":%llu,\"b\":%llu,\"c\":%llu}\n",
               static_cast<long long>(t.us()), trace_kind_name(kind), name.c_str(),
               static_cast<unsigned long long>(a), static_cast<unsigned long long>(b),
               static_cast<unsigned long long>(c));
}

}  // namespace shardsim::sim
