// Telemetry: two nodes under load, each serving Prometheus's /metrics and
// exporting metrics and traces over OTLP, with one trace crossing both.
//
//   ./example_observability                 # 2 s of load, prints what it measured
//   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 ./example_observability 30
//   curl http://127.0.0.1:9464/metrics      # while it runs (node "shop")
//
// Node "shop" has a checkout actor; node "prices" has a pricer. A plain
// thread opens a trace per request (start_span), asks checkout, which asks
// the pricer on the other node and answers. Every hop is a span: the
// request (server), checkout's send (client) and handling (server), the
// pricer's handling on the other node (server), and a span the pricer opens
// itself inside receive. docs/observability.md lists every metric.
#include <akt/otel/telemetry.hpp>
#include <akt/remote/remoting.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "messages.pb.h"

using namespace std::chrono_literals;

namespace {

// GET http://127.0.0.1:<port>/metrics, as Prometheus would (for the printout).
std::string scrape(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {};
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[8192];
      for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

void print_lines_starting_with(const std::string& text, std::initializer_list<const char*> prefixes) {
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(at, end - at);
    for (const char* p : prefixes)
      if (line.rfind(p, 0) == 0) std::printf("  %s\n", line.c_str());
    at = end + 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const auto seconds = std::chrono::seconds(argc > 1 ? std::atoi(argv[1]) : 2);
  const char* secret = std::getenv("AKT_REMOTE_SECRET");
  const std::string shared = secret ? secret : "demo-secret-change-me";

  // Two nodes, each with remoting and telemetry. Ports 0: whatever is free.
  auto shop = akt::actor_system::launch("shop").value();
  auto prices = akt::actor_system::launch("prices").value();
  for (auto* sys : {shop.get(), prices.get()}) {
    sys->registry().register_message<demo::Ping>();
    sys->registry().register_message<demo::Pong>();
  }
  auto shop_node = akt::remote::remoting::enable(*shop, {.host = "127.0.0.1", .secret = shared}).value();
  auto prices_node = akt::remote::remoting::enable(*prices, {.host = "127.0.0.1", .secret = shared}).value();
  (void)shop_node;

  // Every request is traced here (a demo); in production 1 % is plenty.
  auto shop_otel = akt::otel::telemetry::enable(*shop, {.prometheus = "127.0.0.1:0", .sample_ratio = 1.0});
  auto prices_otel =
      akt::otel::telemetry::enable(*prices, {.prometheus = "127.0.0.1:0", .sample_ratio = 1.0});
  if (!shop_otel || !prices_otel) {
    std::fprintf(stderr, "telemetry: %s\n",
                 (!shop_otel ? shop_otel.error() : prices_otel.error()).to_string().c_str());
    return 1;
  }

  // The pricer, on node "prices": opens a span of its own inside receive,
  // and notes the trace context it ran under (to show it below).
  std::mutex seen_mu;
  std::string seen_by_pricer;
  auto pricer = prices->spawn_fn("pricer", [&](akt::context& ctx) {
    if (auto* ping = ctx.message<demo::Ping>()) {
      akt::otel::span lookup("price lookup");  // a child of this message's handling span
      lookup.set_attribute("sku", static_cast<std::int64_t>(ping->seq() % 100));
      if (const akt::trace_context* tc = ctx.trace()) {
        std::lock_guard g(seen_mu);
        seen_by_pricer = tc->traceparent();
      }
      demo::Pong price;
      price.set_seq(ping->seq() * 3);
      (void)ctx.reply(std::move(price));
    }
  });
  if (!pricer) return 1;

  // Checkout, on node "shop": asks the pricer on the other node, answers its asker.
  auto remote_pricer =
      shop->lookup("akt://prices@127.0.0.1:" + std::to_string(prices_node->port()) + "/pricer").value();
  auto checkout = shop->spawn_fn("checkout", [remote_pricer](akt::context& ctx) {
    if (auto* ping = ctx.message<demo::Ping>()) {
      auto price = remote_pricer.ask<demo::Pong>(*ping, 2s);
      demo::Pong total;
      total.set_seq(price ? price->seq() + 1 : -1);
      (void)ctx.reply(std::move(total));
    }
  });
  if (!checkout) return 1;
  (*shop_otel)->track(*checkout).value();  // per-actor series for this one, beside its kind's

  std::printf("shop:   http://127.0.0.1:%u/metrics\nprices: http://127.0.0.1:%u/metrics\n",
              static_cast<unsigned>((*shop_otel)->prometheus_port()),
              static_cast<unsigned>((*prices_otel)->prometheus_port()));

  // Load: requests from a plain thread, each its own trace.
  std::int64_t requests = 0, failed = 0;
  std::string last_request_trace;
  const auto until = std::chrono::steady_clock::now() + seconds;
  while (std::chrono::steady_clock::now() < until) {
    akt::otel::span request = (*shop_otel)->start_span("checkout request");
    request.set_attribute("request", requests);
    if (request.context() != nullptr) last_request_trace = request.context()->traceparent();
    demo::Ping ping;
    ping.set_seq(requests++);
    auto total = checkout->ask<demo::Pong>(std::move(ping), 2s);
    if (!total || total->seq() < 0) {
      ++failed;
      request.set_error(total ? "the pricer did not answer" : total.error().to_string());
    }
  }
  std::printf("%lld requests, %lld failed\n", static_cast<long long>(requests),
              static_cast<long long>(failed));

  {
    std::lock_guard g(seen_mu);
    std::printf("last request's trace, opened on shop:      %s\n", last_request_trace.c_str());
    std::printf("the pricer's span for it, on node prices:  %s\n", seen_by_pricer.c_str());
    const bool same_trace = last_request_trace.size() > 35 && seen_by_pricer.size() > 35 &&
                            last_request_trace.substr(3, 32) == seen_by_pricer.substr(3, 32);
    std::printf("one trace across both nodes: %s\n", same_trace ? "yes" : "NO");
    if (!same_trace) ++failed;
  }

  std::printf("\nfrom shop's /metrics:\n");
  print_lines_starting_with(scrape((*shop_otel)->prometheus_port()),
                            {"akt_actor_messages_processed_total", "akt_remote_messages_sent_total",
                             "akt_actor_instance_messages_processed_total", "akt_system_actors_alive"});
  std::printf("from prices' /metrics:\n");
  print_lines_starting_with(
      scrape((*prices_otel)->prometheus_port()),
      {"akt_actor_processing_duration_seconds_count", "akt_remote_messages_received_total"});

  for (auto* t : {*shop_otel, *prices_otel}) (void)t->flush(5s);  // spans and metrics out, if OTLP is set
  const auto s = (*shop_otel)->stats();
  const auto p = (*prices_otel)->stats();
  std::printf(
      "\nspans recorded: shop %llu, prices %llu (exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is "
      "set)\n",
      static_cast<unsigned long long>(s.spans_recorded), static_cast<unsigned long long>(p.spans_recorded));
  return failed == 0 && requests > 0 ? 0 : 1;
}
