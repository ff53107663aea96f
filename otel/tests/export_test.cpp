// Telemetry end to end: real actors, real nodes over TCP, exported to a
// real OTLP receiver whose decoder is the OpenTelemetry JavaScript
// project's (otlp_receiver.hpp) and scraped by a real Prometheus
// (prometheus_server.hpp). Every wait is bounded.
#include <akt/akt.hpp>
#include <akt/otel/telemetry.hpp>
#include <akt/remote/remoting.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "messages.pb.h"
#include "otlp_receiver.hpp"
#include "prometheus_server.hpp"

namespace akt::otel {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::otlp_receiver;

std::unique_ptr<actor_system> launch(std::string_view name) {
  auto sys = actor_system::launch(name, {.workers = 2});
  EXPECT_TRUE(sys) << sys.error().to_string();
  return std::move(sys).value();
}

options to(const otlp_receiver& r) {
  options o{.read_environment = false, .time_one_turn_in = 1};
  o.otlp.endpoint = r.endpoint();
  return o;
}

// Every span the receiver got, by name (the last one of each name).
std::map<std::string, json> spans_by_name(const otlp_receiver& r) {
  std::map<std::string, json> out;
  for (const json& req : r.requests()) {
    if (req.value("path", "") != "/v1/traces") continue;
    for (const auto& rs : req["body"].value("resourceSpans", json::array())) {
      const std::string service =
          testing::string_attribute(rs["resource"].value("attributes", json::array()), "service.name");
      for (const auto& ss : rs.value("scopeSpans", json::array())) {
        for (json s : ss.value("spans", json::array())) {
          s["service"] = service;
          out[s.value("name", "")] = s;
        }
      }
    }
  }
  return out;
}

// The pricer replies with a price and opens a span of its own.
class pricer : public actor {
 public:
  void receive(context& ctx) override {
    if (auto* ping = ctx.message<demo::Ping>()) {
      span lookup("price lookup");
      lookup.set_attribute("sku", ping->seq());
      demo::Pong price;
      price.set_seq(7);
      ctx.reply(std::move(price));
    }
  }
};

TEST(otel, trace_crosses_two_nodes) {
  otlp_receiver receiver;
  auto shop = launch("shop");
  auto prices = launch("prices");
  for (auto* sys : {shop.get(), prices.get()}) {
    sys->registry().register_message<demo::Ping>();
    sys->registry().register_message<demo::Pong>();
  }
  auto shop_node =
      remote::remoting::enable(*shop, {.host = "127.0.0.1", .secret = "a-secret-of-sixteen-bytes"}).value();
  auto prices_node =
      remote::remoting::enable(*prices, {.host = "127.0.0.1", .secret = "a-secret-of-sixteen-bytes"}).value();
  (void)shop_node;
  options traced = to(receiver);
  traced.sample_ratio = 1.0;  // the request's trace is sampled; the other node follows its flag
  auto* shop_otel = telemetry::enable(*shop, traced).value();
  auto* prices_otel = telemetry::enable(*prices, to(receiver)).value();

  ASSERT_TRUE(prices->spawn<pricer>("pricer"));
  pid remote_pricer =
      shop->lookup("akt://prices@127.0.0.1:" + std::to_string(prices_node->port()) + "/pricer").value();
  pid checkout = shop->spawn_fn("checkout",
                                [remote_pricer](context& ctx) {
                                  if (auto* ping = ctx.message<demo::Ping>()) {
                                    auto price = remote_pricer.ask<demo::Pong>(*ping, 5s);
                                    demo::Pong total;
                                    total.set_seq(price ? price->seq() : -1);
                                    ctx.reply(std::move(total));
                                  }
                                })
                     .value();

  std::string trace_id;
  {
    span request = shop_otel->start_span("checkout request");
    ASSERT_TRUE(request.is_recording());
    trace_id = request.context()->traceparent().substr(3, 32);
    demo::Ping ping;
    ping.set_seq(42);
    ASSERT_EQ(checkout.ask<demo::Pong>(std::move(ping), 5s).value().seq(), 7);
  }
  // A handling's span ends when its handler returns, which can be just
  // after its reply reached the asker: flush until the trace's six spans
  // (request, two sends, two handlings, the lookup) are in, within a bound.
  auto spans_in_trace = [&] {
    std::size_t n = 0;
    for (const json& req : receiver.requests())
      if (req.value("path", "") == "/v1/traces")
        for (const json& s : testing::spans_of(req)) n += s.value("traceId", "") == trace_id ? 1 : 0;
    return n;
  };
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  do {
    ASSERT_TRUE(prices_otel->flush(10s));
    ASSERT_TRUE(shop_otel->flush(10s));
    ASSERT_TRUE(receiver.sync());  // every request answered so far is decoded and visible
  } while (spans_in_trace() < 6 && std::chrono::steady_clock::now() < deadline);

  const auto spans = spans_by_name(receiver);
  const std::string send = "send " + demo::Ping::descriptor()->full_name();
  const std::string process = "process " + demo::Ping::descriptor()->full_name();
  const std::string names[] = {"checkout request", send, process, "price lookup"};
  for (const std::string& n : names)
    ASSERT_TRUE(spans.count(n)) << "no span " << n << " among " << spans.size();
  // Two sends and two handlings share names: find them by service and parent.
  std::vector<json> all;
  for (const json& req : receiver.requests())
    if (req.value("path", "") == "/v1/traces")
      for (const json& s : testing::spans_of(req)) all.push_back(s);
  auto child_of = [&](const json& parent, std::string_view name) -> json {
    for (const json& s : all)
      if (s.value("name", "") == name && s.value("parentSpanId", "") == parent.value("spanId", "")) return s;
    return json();
  };
  const json& request = spans.at("checkout request");
  const json send_checkout = child_of(request, send);
  ASSERT_FALSE(send_checkout.is_null()) << "the ask to checkout has no send span under the request";
  const json process_checkout = child_of(send_checkout, process);
  ASSERT_FALSE(process_checkout.is_null());
  const json send_pricer = child_of(process_checkout, send);
  ASSERT_FALSE(send_pricer.is_null()) << "the ask across nodes has no send span";
  const json process_pricer = child_of(send_pricer, process);
  ASSERT_FALSE(process_pricer.is_null()) << "the other node did not continue the trace";
  const json lookup = child_of(process_pricer, "price lookup");
  ASSERT_FALSE(lookup.is_null());

  for (const json* s : {&request, &send_checkout, &process_checkout, &send_pricer, &process_pricer, &lookup})
    EXPECT_EQ(s->value("traceId", ""), trace_id) << s->value("name", "");
  EXPECT_EQ(request.value("kind", ""), "SPAN_KIND_SERVER");
  EXPECT_EQ(send_checkout.value("kind", ""), "SPAN_KIND_CLIENT");
  EXPECT_EQ(process_checkout.value("kind", ""), "SPAN_KIND_SERVER");
  EXPECT_EQ(send_pricer.value("kind", ""), "SPAN_KIND_CLIENT");
  EXPECT_EQ(process_pricer.value("kind", ""), "SPAN_KIND_SERVER");
  EXPECT_EQ(lookup.value("kind", ""), "SPAN_KIND_INTERNAL");
  EXPECT_FALSE(request.contains("parentSpanId"));  // the root
  EXPECT_EQ(testing::string_attribute(process_pricer.value("attributes", json::array()),
                                      "messaging.destination.name"),
            "akt://prices@127.0.0.1:" + std::to_string(prices_node->port()) + "/pricer");
  // Which node exported which span: the pricer's handling came from "prices".
  EXPECT_EQ(spans.at("price lookup").value("service", ""), "prices");
  EXPECT_EQ(spans.at("checkout request").value("service", ""), "shop");
}

class worker : public actor {
 public:
  void receive(context& ctx) override {
    if (ctx.message<int>()) ctx.reply(1);
  }
};

TEST(otel, metrics_reach_an_otlp_collector_with_the_values_the_actors_made) {
  otlp_receiver receiver;
  auto sys = launch("metrics-otlp");
  auto* t = telemetry::enable(*sys, to(receiver)).value();
  pid w = sys->spawn<worker>("worker").value();
  for (int i = 0; i < 25; ++i) ASSERT_EQ(w.ask<int>(0, 5s).value(), 1);
  ASSERT_TRUE(t->flush(10s));

  auto req = receiver.wait_for(testing::has_metric("akt.actor.messages.processed"), 10s);
  ASSERT_TRUE(req);
  const json* processed = testing::find_metric(*req, "akt.actor.messages.processed");
  ASSERT_NE(processed, nullptr);
  EXPECT_EQ(processed->value("unit", ""), "{message}");
  const json& sum = (*processed)["sum"];
  EXPECT_TRUE(sum.value("isMonotonic", false));
  EXPECT_EQ(sum.value("aggregationTemporality", ""), "AGGREGATION_TEMPORALITY_CUMULATIVE");
  bool found = false;
  for (const json& p : sum["dataPoints"]) {
    if (testing::string_attribute(p["attributes"], "akt.actor.kind") == std::string(w.ref()->kind())) {
      EXPECT_EQ(p.value("asInt", ""), "25");
      found = true;
    }
  }
  EXPECT_TRUE(found);
  const json* duration = testing::find_metric(*req, "akt.actor.processing.duration");
  ASSERT_NE(duration, nullptr);
  EXPECT_EQ(duration->value("unit", ""), "s");
  ASSERT_TRUE(duration->contains("histogram"));
  const json* alive = testing::find_metric(*req, "akt.system.actors.alive");
  ASSERT_NE(alive, nullptr);
  EXPECT_FALSE((*alive)["sum"].value("isMonotonic", false));
  EXPECT_EQ(t->stats().metric_exports, 1u);
}

TEST(otel, a_collector_that_is_down_costs_bounded_memory_and_never_stops_the_actors) {
  // A port nothing listens on: every export fails at once and is retried.
  const std::uint16_t closed = akt_test::free_tcp_port();
  options o{.read_environment = false, .max_queued_spans = 16, .max_export_batch = 8};
  o.sample_ratio = 1.0;
  o.otlp.endpoint = "http://127.0.0.1:" + std::to_string(closed);
  o.otlp.max_retries = 1;
  o.otlp.timeout = 1000ms;
  auto sys = launch("down");
  auto* t = telemetry::enable(*sys, o).value();
  pid w = sys->spawn<worker>("worker").value();
  // Each ask from this plain thread starts a sampled trace at its handling: one span each.
  for (int i = 0; i < 200; ++i) ASSERT_EQ(w.ask<int>(0, 5s).value(), 1);
  auto st = t->flush(20s);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), errc::unavailable) << st.error().to_string();
  EXPECT_NE(st.error().message().find(std::to_string(closed)), std::string::npos) << st.error().message();
  const auto s = t->stats();
  EXPECT_GE(s.failed_exports, 1u);
  EXPECT_GE(s.spans_recorded, 200u);
  EXPECT_GE(s.spans_dropped, 200u - 16u - 8u);  // at most the queue and one batch were kept
  EXPECT_EQ(w.ask<int>(0, 5s).value(), 1);      // the actors never waited
}

TEST(otel, prometheus_scrapes_what_the_actors_did) {
  auto sys = launch("scraped");
  auto* t = telemetry::enable(*sys, {.read_environment = false, .prometheus = "127.0.0.1:0"}).value();
  ASSERT_NE(t->prometheus_port(), 0);
  pid w = sys->spawn<worker>("worker").value();
  for (int i = 0; i < 40; ++i) ASSERT_EQ(w.ask<int>(0, 5s).value(), 1);

  akt_test::prometheus_server prom({"127.0.0.1:" + std::to_string(t->prometheus_port())});
  const std::string kind(w.ref()->kind());
  // Prometheus label values are the kind as is; select by system instead
  // (one kind of worker there) to keep the query free of C++ punctuation.
  const std::string processed = "sum(akt_actor_messages_processed_total{akt_system=\"scraped\"})";
  auto v = prom.wait_for_value(
      processed, [](double x) { return x >= 40; }, 30s);
  ASSERT_TRUE(v) << prom.describe(processed);
  EXPECT_EQ(*v, 40);
  auto alive = prom.wait_for_value(
      "akt_system_actors_alive{akt_system=\"scraped\"}", [](double x) { return x >= 1; }, 30s);
  ASSERT_TRUE(alive);
  EXPECT_EQ(*alive, static_cast<double>(sys->actor_count()));

  // More work shows up at the next scrape.
  for (int i = 0; i < 10; ++i) ASSERT_EQ(w.ask<int>(0, 5s).value(), 1);
  auto more = prom.wait_for_value(
      processed, [](double x) { return x >= 50; }, 30s);
  ASSERT_TRUE(more) << prom.describe(processed);
  EXPECT_EQ(*more, 50);
}

TEST(otel, a_prometheus_port_in_use_is_a_clear_error) {
  auto first = launch("first");
  auto* t = telemetry::enable(*first, {.read_environment = false, .prometheus = "127.0.0.1:0"}).value();
  auto second = launch("second");
  auto r = telemetry::enable(*second, {.read_environment = false,
                                       .prometheus = "127.0.0.1:" + std::to_string(t->prometheus_port())});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unavailable);
  EXPECT_NE(r.error().message().find(std::to_string(t->prometheus_port())), std::string::npos)
      << r.error().message();
  pid w = second->spawn_anonymous<worker>().value();  // the system goes on without telemetry
  EXPECT_EQ(w.ask<int>(0, 5s).value(), 1);
}

}  // namespace
}  // namespace akt::otel
