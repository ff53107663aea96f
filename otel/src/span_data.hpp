// span_data.hpp — a finished span, owned, waiting in the export queue; and
// the resource every export names.
//
// Thread safety: none; a span_data is moved between threads whole.
#pragma once

#include <akt/otel/telemetry.hpp>
#include <akt/trace.hpp>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace akt::otel::detail {

struct span_attribute {
  std::string key;
  std::variant<std::string, std::int64_t, double, bool> value;
};

struct span_data {
  trace_context::trace_id trace{};
  trace_context::span_id span{};
  trace_context::span_id parent{};  // all zero: a root span
  std::string tracestate;
  std::uint8_t flags = 1;
  std::string name;
  span_kind kind = span_kind::internal;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t end_unix_nano = 0;
  std::vector<span_attribute> attributes;
  bool is_error = false;
  std::string status_message;
};

// service.name and the other resource attributes, resolved once.
struct resource_info {
  std::string service_name;
  std::vector<std::pair<std::string, std::string>> attributes;  // service.name not among them
};

}  // namespace akt::otel::detail
