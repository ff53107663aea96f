// metric_snapshot and span_data into OTLP's protobuf requests.
#include <opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h>
#include <opentelemetry/proto/collector/trace/v1/trace_service.pb.h>

#include <algorithm>
#include <type_traits>

#include "otlp/otlp_exporter.hpp"

namespace akt::otel::detail {

namespace {

namespace common_pb = opentelemetry::proto::common::v1;
namespace metrics_pb = opentelemetry::proto::metrics::v1;
namespace trace_pb = opentelemetry::proto::trace::v1;
namespace resource_pb = opentelemetry::proto::resource::v1;

constexpr std::string_view service_name_key = "service.name";

void add_string(google::protobuf::RepeatedPtrField<common_pb::KeyValue>* out, std::string_view key,
                std::string_view value) {
  common_pb::KeyValue* kv = out->Add();
  kv->set_key(std::string(key));
  kv->mutable_value()->set_string_value(std::string(value));
}

void add_attributes(google::protobuf::RepeatedPtrField<common_pb::KeyValue>* out,
                    const std::vector<std::pair<std::string, std::string>>& attributes) {
  out->Reserve(static_cast<int>(attributes.size()));
  for (const auto& [key, value] : attributes) add_string(out, key, value);
}

void fill_resource(resource_pb::Resource* out, const resource_info& r) {
  add_string(out->mutable_attributes(), service_name_key, r.service_name);
  for (const auto& [key, value] : r.attributes) {
    if (key != service_name_key) add_string(out->mutable_attributes(), key, value);
  }
}

void fill_scope(common_pb::InstrumentationScope* out) {
  out->set_name(std::string(scope_name));
  out->set_version(std::string(scope_version));
}

void fill_number(metrics_pb::NumberDataPoint* out, const metric_point& p, std::uint64_t start,
                 std::uint64_t time) {
  add_attributes(out->mutable_attributes(), p.attributes);
  // A gauge is a value sampled now: it has no start (0 leaves the field out).
  if (start != 0) out->set_start_time_unix_nano(start);
  out->set_time_unix_nano(time);
  if (p.is_double) {
    out->set_as_double(p.as_double);
  } else {
    out->set_as_int(p.as_int);
  }
}

void fill_histogram(metrics_pb::HistogramDataPoint* out, const metric_point& p, std::uint64_t start,
                    std::uint64_t time) {
  add_attributes(out->mutable_attributes(), p.attributes);
  out->set_start_time_unix_nano(start);
  out->set_time_unix_nano(time);
  out->set_count(p.count);
  out->set_sum(p.sum);
  out->mutable_bucket_counts()->Add(p.counts.begin(), p.counts.end());
  out->mutable_explicit_bounds()->Add(p.bounds.begin(), p.bounds.end());
}

void fill_metric(metrics_pb::Metric* out, const metric_family& f, const metric_snapshot& s) {
  out->set_name(f.name);
  out->set_description(f.description);
  out->set_unit(f.unit);
  switch (f.kind) {
    case metric_kind::counter:
    case metric_kind::up_down: {
      metrics_pb::Sum* sum = out->mutable_sum();
      sum->set_aggregation_temporality(metrics_pb::AGGREGATION_TEMPORALITY_CUMULATIVE);
      sum->set_is_monotonic(f.kind == metric_kind::counter);
      for (const metric_point& p : f.points) {
        fill_number(sum->add_data_points(), p, s.start_unix_nano, s.time_unix_nano);
      }
      break;
    }
    case metric_kind::gauge: {
      metrics_pb::Gauge* gauge = out->mutable_gauge();
      for (const metric_point& p : f.points) fill_number(gauge->add_data_points(), p, 0, s.time_unix_nano);
      break;
    }
    case metric_kind::histogram: {
      metrics_pb::Histogram* h = out->mutable_histogram();
      h->set_aggregation_temporality(metrics_pb::AGGREGATION_TEMPORALITY_CUMULATIVE);
      for (const metric_point& p : f.points) {
        fill_histogram(h->add_data_points(), p, s.start_unix_nano, s.time_unix_nano);
      }
      break;
    }
  }
}

bool is_zero(std::span<const std::uint8_t> id) {
  return std::all_of(id.begin(), id.end(), [](std::uint8_t b) { return b == 0; });
}

std::string bytes_of(std::span<const std::uint8_t> id) {
  return std::string(reinterpret_cast<const char*>(id.data()), id.size());
}

void fill_attribute(common_pb::KeyValue* out, const span_attribute& a) {
  out->set_key(a.key);
  common_pb::AnyValue* v = out->mutable_value();
  std::visit(
      [v](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          v->set_string_value(x);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          v->set_int_value(x);
        } else if constexpr (std::is_same_v<T, double>) {
          v->set_double_value(x);
        } else {
          static_assert(std::is_same_v<T, bool>);
          v->set_bool_value(x);
        }
      },
      a.value);
}

void fill_span(trace_pb::Span* out, const span_data& d) {
  out->set_trace_id(bytes_of(d.trace));
  out->set_span_id(bytes_of(d.span));
  if (!is_zero(d.parent)) out->set_parent_span_id(bytes_of(d.parent));
  out->set_trace_state(d.tracestate);
  out->set_flags(d.flags);
  out->set_name(d.name);
  out->set_kind(static_cast<trace_pb::Span::SpanKind>(d.kind));
  out->set_start_time_unix_nano(d.start_unix_nano);
  out->set_end_time_unix_nano(d.end_unix_nano);
  out->mutable_attributes()->Reserve(static_cast<int>(d.attributes.size()));
  for (const span_attribute& a : d.attributes) fill_attribute(out->add_attributes(), a);
  if (d.is_error) {
    trace_pb::Status* st = out->mutable_status();
    st->set_code(trace_pb::Status::STATUS_CODE_ERROR);
    st->set_message(d.status_message);
  }
}

}  // namespace

std::string encode_metrics(const metric_snapshot& s, const resource_info& r) {
  opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest request;
  metrics_pb::ResourceMetrics* rm = request.add_resource_metrics();
  fill_resource(rm->mutable_resource(), r);
  metrics_pb::ScopeMetrics* sm = rm->add_scope_metrics();
  fill_scope(sm->mutable_scope());
  sm->mutable_metrics()->Reserve(static_cast<int>(s.families.size()));
  for (const metric_family& f : s.families) fill_metric(sm->add_metrics(), f, s);
  return request.SerializeAsString();
}

std::string encode_spans(std::span<const span_data> spans, const resource_info& r) {
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest request;
  trace_pb::ResourceSpans* rs = request.add_resource_spans();
  fill_resource(rs->mutable_resource(), r);
  trace_pb::ScopeSpans* ss = rs->add_scope_spans();
  fill_scope(ss->mutable_scope());
  ss->mutable_spans()->Reserve(static_cast<int>(spans.size()));
  for (const span_data& d : spans) fill_span(ss->add_spans(), d);
  return request.SerializeAsString();
}

}  // namespace akt::otel::detail
