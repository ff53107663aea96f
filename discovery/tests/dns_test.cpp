// The DNS provider against a real DNS server (dnsmasq_server.hpp).
#include <akt/discovery/discovery.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

#include "dns_resolver.hpp"
#include "dnsmasq_server.hpp"

namespace {

using namespace std::chrono_literals;
using akt::errc;
using akt::discovery::node;
using node_list = std::vector<node>;

const std::string srv_records =
    "srv-host=_clients-port._tcp.akt.test,node1.akt.test,2379\n"
    "srv-host=_clients-port._tcp.akt.test,node2.akt.test,12379\n"
    "srv-host=_peers-port._tcp.akt.test,node1.akt.test,2380\n"
    "srv-host=_peers-port._tcp.akt.test,node2.akt.test,12380\n"
    "srv-host=_remoting-port._tcp.akt.test,node1.akt.test,4000\n"  // node2 has no remoting-port
    "host-record=node1.akt.test,127.0.0.21\n"
    "host-record=node2.akt.test,127.0.0.22,fd00::22\n";

// Every list a watch delivered, waited on with a deadline.
class recorder {
 public:
  akt::discovery::provider::on_change_fn callback() {
    return [this](const node_list& now) {
      {
        std::lock_guard lock(mutex_);
        lists_.push_back(now);
      }
      changed_.notify_all();
    };
  }
  bool wait_until(const std::function<bool(const std::vector<node_list>&)>& done,
                  std::chrono::milliseconds limit = 5s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return done(lists_); });
  }
  std::vector<node_list> lists() {
    std::lock_guard lock(mutex_);
    return lists_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<node_list> lists_;
};

std::vector<std::string> ids(const node_list& nodes) {
  std::vector<std::string> out;
  for (const auto& n : nodes) out.push_back(n.id);
  return out;
}

TEST(dns_discovery, a_and_aaaa_records_give_one_node_per_address_with_the_given_ports) {
  akt_test::dnsmasq_server server("", "127.0.0.12 akt.test\n127.0.0.11 akt.test\nfd00::1 akt.test\n");
  auto p = akt::discovery::dns(
      {.name = "akt.test", .ports = {{"remoting-port", 4000}}, .servers = {server.address()}});
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_EQ((*p)->name(), "dns");
  ASSERT_TRUE((*p)->start());
  auto nodes = (*p)->nodes();
  ASSERT_TRUE(nodes) << nodes.error().to_string();
  EXPECT_EQ(ids(*nodes), (std::vector<std::string>{"127.0.0.11", "127.0.0.12", "fd00::1"}));
  for (const auto& n : *nodes) {
    EXPECT_EQ(n.host, n.id);
    EXPECT_EQ(n.port("remoting-port"), 4000);
    EXPECT_EQ(n.ports.size(), 1u);
  }
}

TEST(dns_discovery, srv_records_merge_named_ports_per_target_and_list_a_node_missing_a_port_name) {
  // node3 has an SRV record but no address: left out, not a failure.
  // node4's address comes from an address= rule, which dnsmasq leaves out
  // of the additional section: the provider asks for it.
  akt_test::dnsmasq_server server(srv_records +
                                  "srv-host=_clients-port._tcp.akt.test,node3.akt.test,2379\n"
                                  "srv-host=_clients-port._tcp.akt.test,node4.akt.test,2379\n"
                                  "address=/node4.akt.test/127.0.0.24\n");
  auto p = akt::discovery::dns({.name = "akt.test", .srv = true, .servers = {server.address()}});
  ASSERT_TRUE(p) << p.error().to_string();
  auto nodes = (*p)->nodes();
  ASSERT_TRUE(nodes) << nodes.error().to_string();
  ASSERT_EQ(ids(*nodes), (std::vector<std::string>{"node1.akt.test", "node2.akt.test", "node4.akt.test"}));
  const node& n1 = (*nodes)[0];
  EXPECT_EQ(n1.host, "127.0.0.21");
  EXPECT_EQ(n1.ports,
            (decltype(n1.ports){{"clients-port", 2379}, {"peers-port", 2380}, {"remoting-port", 4000}}));
  const node& n2 = (*nodes)[1];
  EXPECT_EQ(n2.host, "127.0.0.22");  // IPv4 before IPv6
  EXPECT_EQ(n2.ports, (decltype(n2.ports){{"clients-port", 12379}, {"peers-port", 12380}}));
  EXPECT_EQ(n2.port("remoting-port"), 0);
  EXPECT_EQ((*nodes)[2].host, "127.0.0.24");
  EXPECT_EQ((*nodes)[2].ports, (decltype(n2.ports){{"clients-port", 2379}}));
}

TEST(dns_discovery, the_addresses_in_an_srv_answers_additional_section_are_read) {
  akt_test::dnsmasq_server server(srv_records);
  using namespace akt::discovery::detail;
  auto resolver = dns_resolver::open({parse_dns_server(server.address()).value()}, 2s);
  ASSERT_TRUE(resolver) << resolver.error().to_string();
  const std::atomic<bool> never{false};
  auto answers = (*resolver)->ask({{"_clients-port._tcp.akt.test", dns_type::srv}}, never);
  ASSERT_EQ(answers.size(), 1u);
  auto records = answer_srv_records(answers[0]);
  ASSERT_TRUE(records) << records.error().to_string();
  EXPECT_EQ(records->size(), 2u);
  const auto additional = additional_addresses(answers[0].message);
  ASSERT_TRUE(additional.count("node1.akt.test")) << "dnsmasq sent no additional section";
  EXPECT_EQ(additional.at("node1.akt.test"), (std::vector<std::string>{"127.0.0.21"}));
  auto node2 = additional.at("node2.akt.test");
  std::sort(node2.begin(), node2.end());
  EXPECT_EQ(node2, (std::vector<std::string>{"127.0.0.22", "fd00::22"}));
  // Cut short anywhere, the message gives no addresses rather than garbage.
  for (std::size_t n = 0; n < answers[0].message.size(); ++n) {
    std::vector<unsigned char> cut(answers[0].message.begin(),
                                   answers[0].message.begin() + static_cast<long>(n));
    EXPECT_TRUE(additional_addresses(cut).empty()) << n;
  }
}

TEST(dns_discovery, srv_mode_asks_only_for_the_given_port_names) {
  akt_test::dnsmasq_server server(srv_records);
  auto p = akt::discovery::dns(
      {.name = "akt.test", .srv = true, .port_names = {"remoting-port"}, .servers = {server.address()}});
  ASSERT_TRUE(p) << p.error().to_string();
  auto nodes = (*p)->nodes();
  ASSERT_TRUE(nodes) << nodes.error().to_string();
  ASSERT_EQ(ids(*nodes), (std::vector<std::string>{"node1.akt.test"}));
  EXPECT_EQ((*nodes)[0].ports.size(), 1u);
}

TEST(dns_discovery, a_name_that_does_not_exist_is_a_clear_error) {
  akt_test::dnsmasq_server server(srv_records);
  auto a =
      akt::discovery::dns({.name = "missing.akt.test", .ports = {{"p", 1}}, .servers = {server.address()}});
  ASSERT_TRUE(a);
  auto nodes = (*a)->nodes();
  ASSERT_FALSE(nodes);
  EXPECT_EQ(nodes.error().code(), errc::not_found);
  EXPECT_NE(nodes.error().message().find("the name missing.akt.test does not exist"), std::string::npos)
      << nodes.error().message();

  auto srv = akt::discovery::dns({.name = "missing.akt.test", .srv = true, .servers = {server.address()}});
  ASSERT_TRUE(srv);
  auto none = (*srv)->nodes();
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), errc::not_found);
  EXPECT_NE(none.error().message().find("no SRV records for any port name of missing.akt.test"),
            std::string::npos)
      << none.error().message();
  EXPECT_NE(none.error().message().find("_clients-port._tcp.missing.akt.test does not exist"),
            std::string::npos)
      << none.error().message();
}

TEST(dns_discovery, a_server_that_never_answers_fails_within_the_timeout) {
  akt_test::silent_udp_port silent;
  auto p = akt::discovery::dns({.name = "akt.test",
                                .ports = {{"p", 1}},
                                .servers = {"127.0.0.1:" + std::to_string(silent.port())},
                                .timeout = 300ms});
  ASSERT_TRUE(p);
  const auto begin = std::chrono::steady_clock::now();
  auto nodes = (*p)->nodes();
  const auto took = std::chrono::steady_clock::now() - begin;
  ASSERT_FALSE(nodes);
  EXPECT_EQ(nodes.error().code(), errc::unavailable);
  EXPECT_NE(nodes.error().message().find("no DNS server answered within 300 ms"), std::string::npos)
      << nodes.error().message();
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2s);
}

TEST(dns_discovery, a_port_with_nothing_behind_it_fails_quickly_and_says_so) {
  const std::uint16_t port = akt_test::free_dns_port();
  auto p = akt::discovery::dns({.name = "akt.test",
                                .ports = {{"p", 1}},
                                .servers = {"127.0.0.1:" + std::to_string(port)},
                                .timeout = 1s});
  ASSERT_TRUE(p);
  const auto begin = std::chrono::steady_clock::now();
  auto nodes = (*p)->nodes();
  ASSERT_FALSE(nodes);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 3s);
  EXPECT_EQ(nodes.error().code(), errc::unavailable);
  EXPECT_NE(nodes.error().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << nodes.error().message();
}

TEST(dns_discovery, bad_options_are_refused_clearly) {
  auto expect_refused = [](akt::discovery::dns_options o, std::string_view says) {
    auto p = akt::discovery::dns(std::move(o));
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code(), errc::invalid_argument);
    EXPECT_NE(p.error().message().find(says), std::string::npos) << p.error().message();
  };
  expect_refused({.ports = {{"p", 1}}}, "name is empty");
  expect_refused({.name = "akt.test", .ports = {{"p", 1}}, .interval = 0ms}, "interval must be positive");
  expect_refused({.name = "akt.test", .ports = {{"p", 1}}, .timeout = -1ms}, "timeout must be positive");
  expect_refused({.name = "akt.test"}, "A/AAAA mode needs ports");
  expect_refused({.name = "akt.test", .ports = {{"p", 0}}}, "'p' is 0");
  expect_refused({.name = "akt.test", .srv = true, .port_names = {}}, "needs port names");
  expect_refused({.name = "akt.test", .srv = true, .port_names = {"a.b"}}, "'a.b' is not a DNS label");
  for (const char* bad : {"localhost:53", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:5x", "[::1",
                          "[::1]x", "", "10.0.0.300:53"}) {
    SCOPED_TRACE(bad);
    expect_refused({.name = "akt.test", .ports = {{"p", 1}}, .servers = {bad}}, "give ip:port");
  }
  for (const char* good : {"10.96.0.10:53", "10.96.0.10", "[fd00::a]:5353", "[::1]", "::1"}) {
    EXPECT_TRUE(akt::discovery::dns({.name = "akt.test", .ports = {{"p", 1}}, .servers = {good}})) << good;
  }
}

TEST(dns_discovery, watch_gives_the_first_list_then_each_change_of_the_records) {
  akt_test::dnsmasq_server server("", "127.0.0.11 akt.test\n");
  auto p = akt::discovery::dns({.name = "akt.test",
                                .ports = {{"remoting-port", 4000}},
                                .servers = {server.address()},
                                .interval = 50ms});
  ASSERT_TRUE(p);
  recorder seen;
  ASSERT_TRUE((*p)->watch(seen.callback()));
  EXPECT_FALSE((*p)->watch(seen.callback())) << "one watcher per provider";
  ASSERT_TRUE(seen.wait_until([](auto& lists) { return !lists.empty(); }));

  server.set_hosts("127.0.0.11 akt.test\n127.0.0.12 akt.test\n");
  ASSERT_TRUE(seen.wait_until([](auto& lists) { return lists.size() >= 2; }))
      << "the watch missed the change";
  (*p)->stop();
  const auto lists = seen.lists();
  ASSERT_EQ(lists.size(), 2u) << "an unchanged list is not reported again";
  EXPECT_EQ(ids(lists[0]), (std::vector<std::string>{"127.0.0.11"}));
  EXPECT_EQ(ids(lists[1]), (std::vector<std::string>{"127.0.0.11", "127.0.0.12"}));
}

TEST(dns_discovery, watch_keeps_the_last_list_while_the_server_is_down_then_sees_the_new_records) {
  akt_test::dnsmasq_server server(srv_records);
  auto p = akt::discovery::dns(
      {.name = "akt.test", .srv = true, .servers = {server.address()}, .interval = 50ms, .timeout = 200ms});
  ASSERT_TRUE(p);
  recorder seen;
  ASSERT_TRUE((*p)->watch(seen.callback()));
  ASSERT_TRUE(seen.wait_until([](auto& lists) { return !lists.empty(); }));

  server.stop();
  // The watch keeps polling a server that is gone: its failures must not
  // reach on_change. Seen from here once a poll of our own fails too.
  EXPECT_FALSE((*p)->nodes());
  server.restart(srv_records +
                 "srv-host=_clients-port._tcp.akt.test,node3.akt.test,2379\n"
                 "host-record=node3.akt.test,127.0.0.23\n");
  ASSERT_TRUE(seen.wait_until([](auto& lists) { return lists.size() >= 2; }))
      << "the watch missed the change";
  (*p)->stop();
  const auto lists = seen.lists();
  ASSERT_EQ(lists.size(), 2u);
  EXPECT_EQ(ids(lists[0]), (std::vector<std::string>{"node1.akt.test", "node2.akt.test"}));
  EXPECT_EQ(ids(lists[1]), (std::vector<std::string>{"node1.akt.test", "node2.akt.test", "node3.akt.test"}));
  EXPECT_EQ(lists[1][2].port("clients-port"), 2379);
}

TEST(dns_discovery, stop_returns_promptly_whether_waiting_or_in_the_middle_of_a_query) {
  akt_test::dnsmasq_server server("", "127.0.0.11 akt.test\n");
  auto idle = akt::discovery::dns({.name = "akt.test",
                                   .ports = {{"p", 1}},
                                   .servers = {server.address()},
                                   .interval = std::chrono::hours(1)});
  ASSERT_TRUE(idle);
  recorder seen;
  ASSERT_TRUE((*idle)->watch(seen.callback()));
  ASSERT_TRUE(seen.wait_until([](auto& lists) { return !lists.empty(); }));
  auto begin = std::chrono::steady_clock::now();
  (*idle)->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);

  akt_test::silent_udp_port silent;
  auto stuck = akt::discovery::dns({.name = "akt.test",
                                    .ports = {{"p", 1}},
                                    .servers = {"127.0.0.1:" + std::to_string(silent.port())},
                                    .timeout = std::chrono::minutes(1)});
  ASSERT_TRUE(stuck);
  recorder never;
  ASSERT_TRUE((*stuck)->watch(never.callback()));
  ASSERT_TRUE(silent.wait_for_query(5s)) << "the watch never asked";
  begin = std::chrono::steady_clock::now();
  (*stuck)->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);
  EXPECT_TRUE(never.lists().empty());
}

}  // namespace
