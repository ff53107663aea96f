// The OTLP/HTTP exporter against a real receiver that decodes with the
// OpenTelemetry JavaScript project's definitions (otlp_receiver.hpp), and
// against collectors that are down or silent.
#include "otlp/otlp_exporter.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <akt/testkit/ports.hpp>

#include <future>

#include "otlp_receiver.hpp"

namespace akt::otel::detail {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::find_attribute;
using testing::find_metric;
using testing::otlp_receiver;
using testing::spans_of;
using testing::string_attribute;

constexpr std::uint64_t start_ns = 1'700'000'000'123'456'789;
constexpr std::uint64_t now_ns = 1'700'000'005'000'000'001;

const resource_info test_resource{"akt-test", {{"deployment.environment", "ci"}, {"host.name", "box-1"}}};

otlp_config config_for(const std::string& base, int max_retries = 3,
                       std::chrono::milliseconds timeout = 5000ms) {
  return otlp_config{.metrics_url = base + "/v1/metrics",
                     .traces_url = base + "/v1/traces",
                     .headers = {{"x-api-key", "s3cret"}},
                     .timeout = timeout,
                     .max_retries = max_retries};
}

metric_snapshot sample_snapshot() {
  metric_snapshot s;
  s.start_unix_nano = start_ns;
  s.time_unix_nano = now_ns;
  constexpr metric_info sent{"akt.test.sent", "{message}", "Messages sent.", metric_kind::counter};
  constexpr metric_info open{"akt.test.open", "{connection}", "Connections open.", metric_kind::up_down};
  constexpr metric_info load{"akt.test.load", "1", "Share of workers busy.", metric_kind::gauge};
  constexpr metric_info latency{"akt.test.latency", "s", "Handling time.", metric_kind::histogram};
  const metric_attribute peer_a[] = {{"peer", "10.0.0.1:7000"}};
  const metric_attribute peer_b[] = {{"peer", "10.0.0.2:7000"}};
  s.record(sent, peer_a, std::int64_t{42});
  s.record(sent, peer_b, std::int64_t{9'007'199'254'740'993});  // beyond a double's exact integers
  s.record(open, {}, std::int64_t{-2});
  s.record(load, {}, 0.75);
  const double bounds[] = {0.001, 0.01, 0.1};
  const std::uint64_t counts[] = {1, 2, 3, 4};
  const metric_attribute kind[] = {{"akt.actor.kind", "orders"}};
  s.record(latency, kind, histogram_data{bounds, counts, 10, 1.25});
  return s;
}

TEST(otlp_export, metrics_decode_with_opentelemetry_js_definitions_to_the_exact_values) {
  otlp_receiver receiver;
  otlp_exporter exporter(config_for(receiver.endpoint()));
  ASSERT_TRUE(exporter.export_metrics(sample_snapshot(), test_resource));

  auto request = receiver.wait_for(testing::on_path("/v1/metrics"));
  ASSERT_TRUE(request) << "the receiver got no /v1/metrics request";
  const json& r = *request;
  ASSERT_TRUE(r.contains("body")) << r.dump();
  EXPECT_EQ(r["contentType"], "application/x-protobuf");
  EXPECT_EQ(r["headers"].value("x-api-key", ""), "s3cret");

  const json& rm = r["body"]["resourceMetrics"][0];
  EXPECT_EQ(string_attribute(rm["resource"]["attributes"], "service.name"), "akt-test");
  EXPECT_EQ(string_attribute(rm["resource"]["attributes"], "deployment.environment"), "ci");
  EXPECT_EQ(string_attribute(rm["resource"]["attributes"], "host.name"), "box-1");
  EXPECT_EQ(rm["scopeMetrics"][0]["scope"]["name"], "akt");
  EXPECT_EQ(rm["scopeMetrics"][0]["scope"]["version"], "0.1.0");

  const json* sent = find_metric(r, "akt.test.sent");
  ASSERT_NE(sent, nullptr) << r.dump();
  EXPECT_EQ((*sent)["unit"], "{message}");
  EXPECT_EQ((*sent)["description"], "Messages sent.");
  EXPECT_EQ((*sent)["sum"]["aggregationTemporality"], "AGGREGATION_TEMPORALITY_CUMULATIVE");
  EXPECT_EQ((*sent)["sum"].value("isMonotonic", false), true);
  const json& sent_points = (*sent)["sum"]["dataPoints"];
  ASSERT_EQ(sent_points.size(), 2u);
  EXPECT_EQ(sent_points[0]["asInt"], "42");
  EXPECT_EQ(string_attribute(sent_points[0]["attributes"], "peer"), "10.0.0.1:7000");
  EXPECT_EQ(sent_points[0]["startTimeUnixNano"], std::to_string(start_ns));
  EXPECT_EQ(sent_points[0]["timeUnixNano"], std::to_string(now_ns));
  EXPECT_EQ(sent_points[1]["asInt"], "9007199254740993");
  EXPECT_EQ(string_attribute(sent_points[1]["attributes"], "peer"), "10.0.0.2:7000");

  const json* open = find_metric(r, "akt.test.open");
  ASSERT_NE(open, nullptr);
  EXPECT_EQ((*open)["unit"], "{connection}");
  EXPECT_EQ((*open)["sum"]["aggregationTemporality"], "AGGREGATION_TEMPORALITY_CUMULATIVE");
  EXPECT_EQ((*open)["sum"].value("isMonotonic", false), false);
  EXPECT_EQ((*open)["sum"]["dataPoints"][0]["asInt"], "-2");

  const json* load = find_metric(r, "akt.test.load");
  ASSERT_NE(load, nullptr);
  ASSERT_TRUE(load->contains("gauge")) << load->dump();
  EXPECT_FALSE(load->contains("sum"));
  const json& load_point = (*load)["gauge"]["dataPoints"][0];
  EXPECT_EQ(load_point["asDouble"], 0.75);
  EXPECT_FALSE(load_point.contains("asInt"));
  EXPECT_EQ(load_point["timeUnixNano"], std::to_string(now_ns));
  EXPECT_FALSE(load_point.contains("startTimeUnixNano")) << "a gauge has no start";

  const json* latency = find_metric(r, "akt.test.latency");
  ASSERT_NE(latency, nullptr);
  EXPECT_EQ((*latency)["unit"], "s");
  EXPECT_EQ((*latency)["histogram"]["aggregationTemporality"], "AGGREGATION_TEMPORALITY_CUMULATIVE");
  const json& h = (*latency)["histogram"]["dataPoints"][0];
  EXPECT_EQ(h["count"], "10");
  EXPECT_EQ(h["sum"], 1.25);
  EXPECT_EQ(h["bucketCounts"], json({"1", "2", "3", "4"}));
  EXPECT_EQ(h["explicitBounds"], json({0.001, 0.01, 0.1}));
  EXPECT_EQ(h["startTimeUnixNano"], std::to_string(start_ns));
  EXPECT_EQ(string_attribute(h["attributes"], "akt.actor.kind"), "orders");
}

span_data make_span(std::uint8_t trace_seed, std::uint8_t span_seed, std::string name, span_kind kind) {
  span_data d;
  for (std::size_t i = 0; i < d.trace.size(); ++i) d.trace[i] = static_cast<std::uint8_t>(trace_seed + i);
  for (std::size_t i = 0; i < d.span.size(); ++i) d.span[i] = static_cast<std::uint8_t>(span_seed + i);
  d.name = std::move(name);
  d.kind = kind;
  d.start_unix_nano = start_ns;
  d.end_unix_nano = now_ns;
  return d;
}

TEST(otlp_export, spans_decode_with_parents_kinds_attributes_tracestate_and_error_status) {
  otlp_receiver receiver;
  otlp_exporter exporter(config_for(receiver.endpoint()));
  std::vector<span_data> spans;
  spans.push_back(make_span(0xa0, 0x10, "POST /orders", span_kind::server));
  spans[0].tracestate = "vendor=abc,other=1";
  spans[0].attributes = {
      {"sku", std::string("A-1")}, {"quantity", std::int64_t{3}}, {"price", 2.5}, {"express", true}};
  spans.push_back(make_span(0xa0, 0x20, "price lookup", span_kind::client));
  spans[1].parent = spans[0].span;
  spans[1].is_error = true;
  spans[1].status_message = "no price for A-1";
  spans.push_back(make_span(0xa0, 0x30, "orders handle", span_kind::consumer));
  spans[2].parent = spans[1].span;
  spans[2].flags = 0x03;
  ASSERT_TRUE(exporter.export_spans(spans, test_resource));

  auto request = receiver.wait_for(testing::has_span("POST /orders"));
  ASSERT_TRUE(request) << "the receiver got no span";
  const json& rs = (*request)["body"]["resourceSpans"][0];
  EXPECT_EQ(string_attribute(rs["resource"]["attributes"], "service.name"), "akt-test");
  EXPECT_EQ(rs["scopeSpans"][0]["scope"]["name"], "akt");
  const auto got = spans_of(*request);
  ASSERT_EQ(got.size(), 3u);

  const json& root = got[0];
  EXPECT_EQ(root["traceId"], "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
  EXPECT_EQ(root["spanId"], "1011121314151617");
  EXPECT_EQ(root.value("parentSpanId", ""), "") << "a root span has no parent";
  EXPECT_EQ(root["name"], "POST /orders");
  EXPECT_EQ(root["kind"], "SPAN_KIND_SERVER");
  EXPECT_EQ(root["traceState"], "vendor=abc,other=1");
  EXPECT_EQ(root["flags"], 1);
  EXPECT_EQ(root["startTimeUnixNano"], std::to_string(start_ns));
  EXPECT_EQ(root["endTimeUnixNano"], std::to_string(now_ns));
  EXPECT_FALSE(root.contains("status") && root["status"].contains("code")) << root.dump();
  const json& attrs = root["attributes"];
  ASSERT_NE(find_attribute(attrs, "quantity"), nullptr);
  EXPECT_EQ(string_attribute(attrs, "sku"), "A-1");
  EXPECT_EQ((*find_attribute(attrs, "quantity"))["intValue"], "3");
  EXPECT_EQ((*find_attribute(attrs, "price"))["doubleValue"], 2.5);
  EXPECT_EQ((*find_attribute(attrs, "express"))["boolValue"], true);

  const json& client = got[1];
  EXPECT_EQ(client["traceId"], root["traceId"]);
  EXPECT_EQ(client["parentSpanId"], "1011121314151617");
  EXPECT_EQ(client["kind"], "SPAN_KIND_CLIENT");
  EXPECT_EQ(client["status"]["code"], "STATUS_CODE_ERROR");
  EXPECT_EQ(client["status"]["message"], "no price for A-1");

  const json& consumer = got[2];
  EXPECT_EQ(consumer["parentSpanId"], "2021222324252627");
  EXPECT_EQ(consumer["kind"], "SPAN_KIND_CONSUMER");
  EXPECT_EQ(consumer["flags"], 3);
}

TEST(otlp_export, an_empty_span_batch_sends_nothing) {
  otlp_receiver receiver;
  otlp_exporter exporter(config_for(receiver.endpoint()));
  ASSERT_TRUE(exporter.export_spans({}, test_resource));
  ASSERT_TRUE(receiver.sync());
  EXPECT_EQ(receiver.count("/v1/traces"), 0u);
}

TEST(otlp_export, retries_503_then_succeeds) {
  otlp_receiver receiver({.respond = {503, 503}});
  otlp_exporter exporter(config_for(receiver.endpoint(), 3));
  const auto spans = std::vector<span_data>{make_span(1, 2, "retried", span_kind::internal)};
  auto st = exporter.export_spans(spans, test_resource);
  ASSERT_TRUE(st) << st.error().to_string();
  ASSERT_TRUE(receiver.sync());
  const auto got = receiver.requests();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0]["status"], 503);
  EXPECT_EQ(got[1]["status"], 503);
  EXPECT_EQ(got[2]["status"], 200);
  EXPECT_EQ(spans_of(got[2]).at(0)["name"], "retried");
}

TEST(otlp_export, gives_up_after_max_retries_of_503_naming_the_status) {
  otlp_receiver receiver({.respond = {503, 503, 503, 503}});
  otlp_exporter exporter(config_for(receiver.endpoint(), 2));
  auto st = exporter.export_metrics(sample_snapshot(), test_resource);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.code(), errc::unavailable);
  EXPECT_NE(st.error().message().find("HTTP 503"), std::string::npos) << st.error().message();
  EXPECT_NE(st.error().message().find(receiver.endpoint() + "/v1/metrics"), std::string::npos)
      << st.error().message();
  ASSERT_TRUE(receiver.sync());
  EXPECT_EQ(receiver.count("/v1/metrics"), 3u) << "one attempt and two retries";
}

TEST(otlp_export, a_400_is_permanent_names_the_status_and_is_not_retried) {
  otlp_receiver receiver({.respond = {400}});
  otlp_exporter exporter(config_for(receiver.endpoint(), 3));
  auto st = exporter.export_metrics(sample_snapshot(), test_resource);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.code(), errc::invalid_argument);
  const std::string& m = st.error().message();
  EXPECT_NE(m.find("HTTP 400"), std::string::npos) << m;
  EXPECT_NE(m.find("scripted failure: 400"), std::string::npos) << "the collector's own words: " << m;
  EXPECT_NE(m.find(receiver.endpoint() + "/v1/metrics"), std::string::npos) << m;
  ASSERT_TRUE(receiver.sync());
  EXPECT_EQ(receiver.count("/v1/metrics"), 1u);
}

// A loopback port that was free a moment ago and has nothing listening.
std::uint16_t closed_port() {
  return akt::testkit::free_tcp_port();
}

// A collector that takes connections (the kernel completes them: it listens)
// and never says a word.
class silent_collector {
 public:
  silent_collector() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~silent_collector() {
    for (int c : accepted_) ::close(c);
    ::close(fd_);
  }
  silent_collector(const silent_collector&) = delete;
  silent_collector& operator=(const silent_collector&) = delete;
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Takes one connection (bounded); true when one came.
  bool accept_one(std::chrono::milliseconds limit) {
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return false;
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return false;
    accepted_.push_back(c);
    return true;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::vector<int> accepted_;
};

TEST(otlp_export, an_unreachable_collector_is_unavailable_after_the_retries) {
  const std::string base = "http://127.0.0.1:" + std::to_string(closed_port());
  otlp_exporter exporter(config_for(base, 2));
  auto done = std::async(std::launch::async,
                         [&] { return exporter.export_metrics(sample_snapshot(), test_resource); });
  ASSERT_EQ(done.wait_for(20s), std::future_status::ready)
      << "backoff from 100 ms, two retries: well under a second";
  auto st = done.get();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.code(), errc::unavailable);
  const std::string& m = st.error().message();
  EXPECT_NE(m.find("cannot connect"), std::string::npos) << m;
  EXPECT_NE(m.find("failed 3 times"), std::string::npos) << m;
  EXPECT_NE(m.find(base + "/v1/metrics"), std::string::npos) << m;
}

TEST(otlp_export, a_collector_that_never_answers_times_out_instead_of_hanging) {
  silent_collector silent;
  otlp_exporter exporter(config_for(silent.endpoint(), 1, 300ms));
  auto done = std::async(std::launch::async,
                         [&] { return exporter.export_metrics(sample_snapshot(), test_resource); });
  ASSERT_EQ(done.wait_for(20s), std::future_status::ready) << "two attempts of 300 ms each";
  auto st = done.get();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.code(), errc::unavailable);
  EXPECT_NE(st.error().message().find("no answer within 300 ms"), std::string::npos) << st.error().message();
}

TEST(otlp_export, cancel_ends_a_backoff_wait_promptly) {
  // Retry-After 30 s (capped at 5 s): the exporter would wait 5 s before its retry.
  otlp_receiver receiver({.respond = {503, 503}, .retry_after_seconds = 30});
  otlp_exporter exporter(config_for(receiver.endpoint(), 3));
  auto done = std::async(std::launch::async,
                         [&] { return exporter.export_metrics(sample_snapshot(), test_resource); });
  ASSERT_TRUE(receiver.wait_for(testing::on_path("/v1/metrics"))) << "the first attempt never arrived";
  exporter.cancel();
  ASSERT_EQ(done.wait_for(3s), std::future_status::ready) << "still waiting out the 5 s backoff";
  auto st = done.get();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.code(), errc::not_running);
  EXPECT_NE(st.error().message().find("cancelled"), std::string::npos) << st.error().message();
  // Cancelled for good: the next export fails at once.
  auto again = exporter.export_metrics(sample_snapshot(), test_resource);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.code(), errc::not_running);
}

TEST(otlp_export, cancel_aborts_a_request_in_flight) {
  silent_collector silent;
  otlp_exporter exporter(config_for(silent.endpoint(), 3, 60000ms));
  auto done = std::async(std::launch::async,
                         [&] { return exporter.export_metrics(sample_snapshot(), test_resource); });
  ASSERT_TRUE(silent.accept_one(10s)) << "the exporter never connected";
  exporter.cancel();
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready) << "the request in flight was not aborted";
  auto st = done.get();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.code(), errc::not_running);
}

}  // namespace
}  // namespace akt::otel::detail
