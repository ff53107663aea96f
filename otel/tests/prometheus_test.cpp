#include <civetweb.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "prometheus/prometheus_endpoint.hpp"
#include "prometheus_server.hpp"

namespace akt::otel::detail {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

std::string name_of(std::string name, std::string unit, metric_kind kind) {
  return prometheus_name(metric_family{std::move(name), std::move(unit), "", kind, {}});
}

TEST(prometheus_name, replaces_dots_and_adds_total_to_counters) {
  EXPECT_EQ(name_of("akt.actor.messages.processed", "{message}", metric_kind::counter),
            "akt_actor_messages_processed_total");
  EXPECT_EQ(name_of("akt.system.actors.alive", "{actor}", metric_kind::up_down), "akt_system_actors_alive");
}

TEST(prometheus_name, adds_the_unit_as_a_suffix) {
  EXPECT_EQ(name_of("akt.system.uptime", "s", metric_kind::gauge), "akt_system_uptime_seconds");
  EXPECT_EQ(name_of("http.server.duration", "ms", metric_kind::histogram),
            "http_server_duration_milliseconds");
  EXPECT_EQ(name_of("akt.remote.sent", "By", metric_kind::counter), "akt_remote_sent_bytes_total");
  EXPECT_EQ(name_of("net.io.rate", "By/s", metric_kind::gauge), "net_io_rate_bytes_per_second");
  EXPECT_EQ(name_of("akt.remote.frames.rate", "{frame}/s", metric_kind::gauge),
            "akt_remote_frames_rate_per_second");
  EXPECT_EQ(name_of("akt.stock", "widgets", metric_kind::gauge), "akt_stock_widgets");
}

TEST(prometheus_name, unit_one_is_a_ratio_on_gauges_and_nothing_on_counters) {
  EXPECT_EQ(name_of("akt.cluster.is_leader", "1", metric_kind::gauge), "akt_cluster_is_leader_ratio");
  EXPECT_EQ(name_of("akt.restarts", "1", metric_kind::counter), "akt_restarts_total");
}

TEST(prometheus_name, does_not_double_a_suffix_already_there) {
  EXPECT_EQ(name_of("process.cpu.time_seconds", "s", metric_kind::counter), "process_cpu_time_seconds_total");
  EXPECT_EQ(name_of("akt.remote.sent_bytes", "By", metric_kind::counter), "akt_remote_sent_bytes_total");
  EXPECT_EQ(name_of("http.requests.total", "{request}", metric_kind::counter), "http_requests_total");
  // _total moves after the unit.
  EXPECT_EQ(name_of("akt.wait.total", "s", metric_kind::counter), "akt_wait_seconds_total");
}

TEST(prometheus_name, replaces_invalid_characters_and_a_leading_digit) {
  EXPECT_EQ(name_of("weird-name/with spaces", "", metric_kind::gauge), "weird_name_with_spaces");
  EXPECT_EQ(name_of("a..b", "", metric_kind::gauge), "a_b");
  EXPECT_EQ(name_of("2xx.responses", "", metric_kind::counter), "_2xx_responses_total");
  EXPECT_EQ(name_of("ns:name", "", metric_kind::gauge), "ns:name");
}

// --- the endpoint, scraped over plain TCP --------------------------------

int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Everything the server sends until it closes, or until `timeout`.
std::string read_all(int fd, std::chrono::milliseconds timeout) {
  std::string out;
  const auto until = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) != 1) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// The whole response (status line, headers, body) to one request.
std::string http_request(std::uint16_t port, std::string_view request,
                         std::chrono::milliseconds timeout = 3s) {
  const int fd = connect_to(port);
  if (fd < 0) return {};
  std::string out = send_all(fd, request) ? read_all(fd, timeout) : std::string();
  ::close(fd);
  return out;
}

std::string scrape(std::uint16_t port, std::chrono::milliseconds timeout = 3s) {
  return http_request(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", timeout);
}

constexpr metric_info sent{"akt.test.sent", "{message}", "Messages sent.", metric_kind::counter};
constexpr metric_info share{"akt.test.share", "1", "Share of the pool in use.", metric_kind::gauge};
constexpr metric_info connections{"akt.test.connections", "{connection}", "Connections open.",
                                  metric_kind::up_down};
constexpr metric_info latency{"akt.test.latency", "s", "How long a turn took.", metric_kind::histogram};

// A snapshot with one of each kind; `sent_value` for the counter.
metric_snapshot sample_snapshot(std::int64_t sent_value) {
  metric_snapshot s;
  const metric_attribute peer[] = {{"peer", "10.0.0.2:7000"}, {"actor.kind", "orders"}};
  s.record(sent, peer, sent_value);
  s.record(share, {}, 0.25);
  s.record(connections, {}, std::int64_t{-3});
  const double bounds[] = {0.001, 0.01, 0.1};
  const std::uint64_t counts[] = {1, 2, 3, 4};
  s.record(latency, {}, histogram_data{bounds, counts, 10, 1.5});
  return s;
}

resource_info sample_resource() {
  return {"shop", {{"host.name", "node-1"}, {"service.version", "1.2"}}};
}

std::unique_ptr<prometheus_endpoint> start_endpoint(std::function<metric_snapshot()> collect) {
  auto e = prometheus_endpoint::start("127.0.0.1:0", sample_resource(), std::move(collect));
  if (!e) throw std::runtime_error(e.error().to_string());
  return std::move(e).value();
}

TEST(prometheus_endpoint, port_zero_binds_a_free_port_and_reports_it) {
  auto e = start_endpoint([] { return metric_snapshot{}; });
  ASSERT_NE(e->port(), 0);
  EXPECT_THAT(scrape(e->port()), HasSubstr("HTTP/1.1 200"));
}

TEST(prometheus_endpoint, serves_every_kind_in_the_text_format) {
  auto e = start_endpoint([] { return sample_snapshot(7); });
  const std::string text = scrape(e->port());
  EXPECT_THAT(text, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(text, HasSubstr("# HELP akt_test_sent_total Messages sent.\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE akt_test_sent_total counter\n"));
  EXPECT_THAT(text, HasSubstr("akt_test_sent_total{actor_kind=\"orders\",peer=\"10.0.0.2:7000\"} 7\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE akt_test_share_ratio gauge\n"));
  EXPECT_THAT(text, HasSubstr("akt_test_share_ratio 0.25\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE akt_test_connections gauge\n"));
  EXPECT_THAT(text, HasSubstr("akt_test_connections -3\n"));
  EXPECT_THAT(text, HasSubstr("# HELP akt_test_latency_seconds How long a turn took.\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE akt_test_latency_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("akt_test_latency_seconds_count 10\n"));
  EXPECT_THAT(text, HasSubstr("akt_test_latency_seconds_sum 1.5\n"));
  // Cumulative, up to +Inf (once).
  EXPECT_THAT(text, HasSubstr("akt_test_latency_seconds_bucket{le=\"0.001\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("akt_test_latency_seconds_bucket{le=\"0.01\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("akt_test_latency_seconds_bucket{le=\"0.1\"} 6\n"));
  const std::string inf = "akt_test_latency_seconds_bucket{le=\"+Inf\"} 10\n";
  ASSERT_THAT(text, HasSubstr(inf));
  EXPECT_EQ(text.find(inf), text.rfind(inf));
  // The resource, once.
  EXPECT_THAT(text, HasSubstr("# TYPE target_info gauge\n"));
  EXPECT_THAT(
      text, HasSubstr("target_info{host_name=\"node-1\",service_name=\"shop\",service_version=\"1.2\"} 1\n"));
}

TEST(prometheus_endpoint, collects_afresh_at_every_scrape) {
  std::atomic<std::int64_t> value{1};
  auto e = start_endpoint([&] { return sample_snapshot(value.load()); });
  EXPECT_THAT(scrape(e->port()),
              HasSubstr("akt_test_sent_total{actor_kind=\"orders\",peer=\"10.0.0.2:7000\"} 1\n"));
  value = 42;
  EXPECT_THAT(scrape(e->port()),
              HasSubstr("akt_test_sent_total{actor_kind=\"orders\",peer=\"10.0.0.2:7000\"} 42\n"));
}

TEST(prometheus_endpoint, escapes_help_and_replaces_invalid_utf8_in_labels) {
  constexpr metric_info odd{"akt.test.odd", "", "First line\nsecond \\ line.", metric_kind::gauge};
  auto e = start_endpoint([&] {
    metric_snapshot s;
    const metric_attribute a[] = {
        {"9lives", "bad \xff byte"}, {"a.b", "x"}, {"a-b", "y"}, {"quote", "say \"hi\""}};
    s.record(odd, a, std::int64_t{1});
    return s;
  });
  const std::string text = scrape(e->port());
  EXPECT_THAT(text, HasSubstr("# HELP akt_test_odd First line\\nsecond \\\\ line.\n"));
  // Colliding label names join in the order of the original keys ("a-b" < "a.b").
  EXPECT_THAT(
      text,
      HasSubstr(
          "akt_test_odd{a_b=\"y;x\",key_9lives=\"bad \xEF\xBF\xBD byte\",quote=\"say \\\"hi\\\"\"} 1\n"));
}

TEST(prometheus_endpoint, two_metrics_of_one_name_and_kind_share_a_family_and_another_kind_is_left_out) {
  constexpr metric_info a{"akt.test.x", "", "A.", metric_kind::gauge};
  constexpr metric_info b{"akt_test_x", "", "B.", metric_kind::up_down};
  constexpr metric_info c{"akt-test-x", "", "C.", metric_kind::counter};
  constexpr metric_info c2{"akt.test.x_total", "", "C2.", metric_kind::gauge};
  auto e = start_endpoint([&] {
    metric_snapshot s;
    const metric_attribute one[] = {{"k", "1"}};
    const metric_attribute two[] = {{"k", "2"}};
    s.record(a, one, std::int64_t{1});
    s.record(b, two, std::int64_t{2});
    s.record(c, {}, std::int64_t{3});   // akt_test_x_total, a counter
    s.record(c2, {}, std::int64_t{4});  // akt_test_x_total again, a gauge: left out
    return s;
  });
  const std::string text = scrape(e->port());
  EXPECT_THAT(text, HasSubstr("akt_test_x{k=\"1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("akt_test_x{k=\"2\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("akt_test_x_total 3\n"));
  EXPECT_THAT(text, Not(HasSubstr("akt_test_x_total 4")));
  EXPECT_EQ(text.find("# TYPE akt_test_x gauge"), text.rfind("# TYPE akt_test_x gauge"));
}

TEST(prometheus_endpoint, a_collection_that_throws_still_serves_the_resource) {
  auto e = start_endpoint([]() -> metric_snapshot { throw std::runtime_error("reporter broke"); });
  const std::string text = scrape(e->port());
  EXPECT_THAT(text, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(text, HasSubstr("target_info{"));
  EXPECT_THAT(scrape(e->port()), HasSubstr("HTTP/1.1 200"));
}

TEST(prometheus_endpoint, serves_nothing_but_metrics) {
  auto e = start_endpoint([] { return metric_snapshot{}; });
  EXPECT_THAT(http_request(e->port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
              HasSubstr("HTTP/1.1 404"));
  EXPECT_THAT(
      http_request(e->port(), "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      Not(HasSubstr("HTTP/1.1 200")));
}

// --- addresses and binding ------------------------------------------------

TEST(prometheus_endpoint, a_malformed_address_is_an_invalid_argument_naming_it) {
  for (const char* bad :
       {"", "9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:12a", "127.0.0.1:-1", ":9464",
        "::1:9464", "[::1", "[::1]9464", "[zz]:1", "bad host:1", "a,b:1", "127.0.0.1:9464,9465"}) {
    auto e = prometheus_endpoint::start(bad, sample_resource(), [] { return metric_snapshot{}; });
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error().code(), errc::invalid_argument) << bad;
    EXPECT_THAT(e.error().message(), HasSubstr("'" + std::string(bad) + "'"));
  }
}

TEST(prometheus_endpoint, a_host_name_is_resolved) {
  auto e = prometheus_endpoint::start("localhost:0", sample_resource(), [] { return metric_snapshot{}; });
  ASSERT_TRUE(e) << e.error().to_string();
  EXPECT_THAT(scrape((*e)->port()), HasSubstr("HTTP/1.1 200"));
}

TEST(prometheus_endpoint, an_ipv6_address_is_served_if_civetweb_can_or_refused_saying_so) {
  auto e = prometheus_endpoint::start("[::1]:0", sample_resource(), [] { return metric_snapshot{}; });
  if (mg_check_feature(8) == 0) {  // built without IPv6, as Debian's is
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code(), errc::invalid_argument);
    EXPECT_THAT(e.error().message(),
                HasSubstr("'[::1]:0' is IPv6, which this build's civetweb does not serve"));
    return;
  }
  ASSERT_TRUE(e) << e.error().to_string();
  const auto r = akt_test::http_get("http://[::1]:" + std::to_string((*e)->port()) + "/metrics");
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_THAT(r.body, HasSubstr("target_info{"));
}

TEST(prometheus_endpoint, a_port_in_use_is_unavailable_naming_the_address) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string address = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));

  auto e = prometheus_endpoint::start(address, sample_resource(), [] { return metric_snapshot{}; });
  ::close(fd);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), errc::unavailable);
  EXPECT_THAT(e.error().message(), HasSubstr(address));
  EXPECT_THAT(e.error().message(), HasSubstr("could not be bound"));
  EXPECT_THAT(e.error().message(), HasSubstr("in use"));
}

// --- hostile clients -------------------------------------------------------

TEST(prometheus_endpoint, a_silent_connection_does_not_stop_a_concurrent_scrape) {
  auto e = start_endpoint([] { return sample_snapshot(1); });
  const int silent = connect_to(e->port());
  ASSERT_GE(silent, 0);
  // Well within request_timeout: the scrape did not wait for the silent one.
  const auto started = std::chrono::steady_clock::now();
  EXPECT_THAT(scrape(e->port(), 2s), HasSubstr("akt_test_sent_total"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, prometheus_endpoint::request_timeout / 2);
  ::close(silent);
}

TEST(prometheus_endpoint, more_silent_connections_than_workers_delay_a_scrape_but_never_stop_it) {
  auto e = start_endpoint([] { return sample_snapshot(1); });
  std::vector<int> silent;
  for (int i = 0; i < prometheus_endpoint::worker_threads + 2; ++i) {
    silent.push_back(connect_to(e->port()));
    ASSERT_GE(silent.back(), 0);
  }
  // civetweb drops each silent one after request_timeout and moves on.
  EXPECT_THAT(scrape(e->port(), 3 * prometheus_endpoint::request_timeout), HasSubstr("akt_test_sent_total"));
  // Closed by the server, not left hanging.
  for (int fd : silent) {
    EXPECT_EQ(read_all(fd, prometheus_endpoint::request_timeout * 2).find("200 OK"), std::string::npos);
    ::close(fd);
  }
}

TEST(prometheus_endpoint, garbage_gets_an_error_response_and_the_next_scrape_works) {
  auto e = start_endpoint([] { return sample_snapshot(1); });
  EXPECT_THAT(http_request(e->port(), "THIS IS NOT HTTP\r\n\r\n"), HasSubstr(" 400 Bad Request"));
  EXPECT_THAT(
      http_request(e->port(), std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15)),
      HasSubstr(" 400 Bad Request"));
  EXPECT_THAT(scrape(e->port()), HasSubstr("akt_test_sent_total"));
}

TEST(prometheus_endpoint, an_endless_request_head_is_cut_off_and_the_next_scrape_works) {
  auto e = start_endpoint([] { return sample_snapshot(1); });
  const int fd = connect_to(e->port());
  ASSERT_GE(fd, 0);
  // 1 MiB of header that never ends: civetweb refuses it past its size limit
  // (or the send fails once it has closed), long before request_timeout.
  const std::string chunk = "GET /metrics HTTP/1.1\r\nX-Flood: " + std::string(64 * 1024, 'a');
  for (int i = 0; i < 16 && send_all(fd, chunk); ++i) {
  }
  const std::string answer = read_all(fd, prometheus_endpoint::request_timeout + 2s);
  EXPECT_THAT(answer, Not(HasSubstr("200 OK")));
  ::close(fd);
  EXPECT_THAT(scrape(e->port()), HasSubstr("akt_test_sent_total"));
}

TEST(prometheus_endpoint, a_flood_of_concurrent_scrapes_is_served_whole) {
  std::atomic<int> collections{0};
  auto e = start_endpoint([&] {
    collections.fetch_add(1);
    return sample_snapshot(5);
  });
  constexpr int clients = 32;
  std::vector<std::future<std::string>> answers;
  for (int i = 0; i < clients; ++i) {
    answers.push_back(std::async(std::launch::async, [&] { return scrape(e->port(), 10s); }));
  }
  for (auto& a : answers)
    EXPECT_THAT(a.get(), HasSubstr("akt_test_latency_seconds_bucket{le=\"+Inf\"} 10\n"));
  EXPECT_EQ(collections.load(), clients);
}

TEST(prometheus_endpoint, stopping_waits_for_a_scrape_in_progress_and_turns_new_ones_away) {
  std::latch entered(1);
  std::promise<void> release;
  auto released = release.get_future().share();
  std::atomic<bool> stopped{false};
  std::atomic<bool> stopped_during_collect{false};
  auto e = start_endpoint([&] {
    entered.count_down();
    released.wait();
    stopped_during_collect = stopped.load();
    return sample_snapshot(9);
  });
  const std::uint16_t port = e->port();
  auto in_progress = std::async(std::launch::async, [&] { return scrape(port, 20s); });
  entered.wait();
  auto stopping = std::async(std::launch::async, [&] {
    e.reset();
    stopped = true;
  });
  // Once stopping, a new scrape is turned away at once.
  const auto until = std::chrono::steady_clock::now() + 10s;
  bool turned_away = false;
  while (!turned_away && std::chrono::steady_clock::now() < until) {
    turned_away = scrape(port, 1s).find("HTTP/1.1 503") != std::string::npos;
  }
  EXPECT_TRUE(turned_away);
  release.set_value();
  EXPECT_THAT(in_progress.get(),
              HasSubstr("akt_test_sent_total{actor_kind=\"orders\",peer=\"10.0.0.2:7000\"} 9\n"));
  ASSERT_EQ(stopping.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(stopped_during_collect.load());
  // Gone: nothing listens any more.
  EXPECT_EQ(connect_to(port), -1);
}

TEST(prometheus_endpoint, stopping_with_a_silent_connection_open_does_not_wait_for_its_timeout) {
  auto e = start_endpoint([] { return metric_snapshot{}; });
  const int silent = connect_to(e->port());
  ASSERT_GE(silent, 0);
  ASSERT_THAT(scrape(e->port()), HasSubstr("HTTP/1.1 200"));  // the silent one is surely in a worker by now
  const auto started = std::chrono::steady_clock::now();
  e.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - started, prometheus_endpoint::request_timeout);
  ::close(silent);
}

// --- a real Prometheus -----------------------------------------------------

TEST(prometheus_endpoint, a_real_prometheus_scrapes_the_values_and_sees_the_counter_grow) {
  std::atomic<std::int64_t> value{5};
  auto e = start_endpoint([&] { return sample_snapshot(value.load()); });
  akt_test::prometheus_server prom({"127.0.0.1:" + std::to_string(e->port())});

  const std::string counter = "akt_test_sent_total{job=\"akt\",peer=\"10.0.0.2:7000\",actor_kind=\"orders\"}";
  auto seen = prom.wait_for_value(counter, [](double v) { return v == 5; });
  ASSERT_TRUE(seen) << prom.describe(counter);

  value = 12;
  seen = prom.wait_for_value(counter, [](double v) { return v == 12; });
  ASSERT_TRUE(seen) << prom.describe(counter);

  EXPECT_EQ(prom.query_value("akt_test_share_ratio"), 0.25);
  EXPECT_EQ(prom.query_value("akt_test_connections"), -3);
  EXPECT_EQ(prom.query_value("akt_test_latency_seconds_bucket{le=\"0.01\"}"), 3);
  EXPECT_EQ(prom.query_value("akt_test_latency_seconds_bucket{le=\"+Inf\"}"), 10);
  EXPECT_EQ(prom.query_value("akt_test_latency_seconds_count"), 10);
  EXPECT_EQ(prom.query_value("akt_test_latency_seconds_sum"), 1.5);
  // A quantile from the buckets: the median (5th of 10) falls in (0.01, 0.1].
  const auto median = prom.query_value("histogram_quantile(0.5, akt_test_latency_seconds_bucket)");
  ASSERT_TRUE(median);
  EXPECT_GT(*median, 0.01);
  EXPECT_LE(*median, 0.1);

  const auto info = prom.query("target_info");
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].labels.at("service_name"), "shop");
  EXPECT_EQ(info[0].labels.at("host_name"), "node-1");
  EXPECT_EQ(info[0].labels.at("job"), "akt");
  EXPECT_EQ(prom.query_value("up{job=\"akt\"}"), 1);
}

}  // namespace
}  // namespace akt::otel::detail
