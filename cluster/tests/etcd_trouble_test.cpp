// Cluster mode when etcd is in trouble, and against bad input: a member of
// a three-member etcd lost, every member stopped and started again, a lease
// lost, TLS mismatches, endpoints that do not answer, invalid names and
// inconsistent options. A real etcd on free loopback ports; every wait is
// a poll with a deadline.
#include <akt/cluster/cluster.hpp>
#include <akt/remote/remoting.hpp>

#include <gtest/gtest.h>

#include <poll.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "etcd_server.hpp"

namespace {

using namespace std::chrono_literals;
using akt::cluster::detail::etcd_client;
using clock_type = std::chrono::steady_clock;

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  const auto until = clock_type::now() + timeout;
  while (!pred()) {
    if (clock_type::now() > until) return pred();
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Keeps the warnings the engine logs: printed when a test fails, so that a
// failure says what the cluster saw.
class kept_logger final : public akt::logger {
 public:
  void log(akt::log_level level, std::string_view message) override {
    std::lock_guard g(mu_);
    lines_.push_back(std::string(akt::to_string(level)) + ": " + std::string(message));
  }
  akt::log_level level() const noexcept override { return akt::log_level::info; }
  std::string text() {
    std::lock_guard g(mu_);
    std::string out;
    for (const auto& l : lines_) out += "  " + l + "\n";
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

// The membership events a system saw, in order ("member_joined 127.0.0.1:4100").
struct recorder {
  std::mutex mu;
  std::vector<std::string> seen;
  std::vector<std::string> snapshot() {
    std::lock_guard g(mu);
    return seen;
  }
  bool saw(const std::string& kind, const std::string& address) {
    for (const auto& e : snapshot()) {
      if (e.starts_with(kind + " " + address)) return true;
    }
    return false;
  }
};

struct node {
  std::unique_ptr<akt::actor_system> sys;
  akt::remote::remoting* remoting = nullptr;
  akt::cluster::cluster* cluster = nullptr;
  std::shared_ptr<recorder> events = std::make_shared<recorder>();
  std::shared_ptr<kept_logger> log = std::make_shared<kept_logger>();
  std::string address() const { return remoting->address(); }
};

// A system with remoting and an event recorder; cluster mode not enabled yet.
node make_node(const std::string& name) {
  node n;
  n.sys = akt::actor_system::launch(name, {.logger = n.log}).value();
  auto ev = n.events;
  auto sub = n.sys->spawn_fn(akt::spawn_options{}, [ev](akt::context& ctx) {
    if (auto* e = ctx.message<akt::system_event>()) {
      if (e->kind == akt::event_kind::member_joined || e->kind == akt::event_kind::member_left ||
          e->kind == akt::event_kind::leader_changed) {
        std::lock_guard g(ev->mu);
        ev->seen.push_back(std::string(akt::to_string(e->kind)) + " " + e->detail);
      }
    }
  });
  EXPECT_TRUE(sub && n.sys->subscribe(*sub));
  n.remoting = akt::remote::remoting::enable(*n.sys, {.secret = "etcd-trouble-secret-0123"}).value();
  return n;
}

node join(const std::string& name, akt::cluster::cluster_options options) {
  node n = make_node(name);
  auto c = akt::cluster::cluster::enable(*n.sys, std::move(options));
  EXPECT_TRUE(c) << c.error().to_string();
  n.cluster = c ? *c : nullptr;
  return n;
}

auto idle = [](akt::context&) {};

std::string member_key(const std::string& cluster, const std::string& address) {
  return "/akt/" + cluster + "/members/" + address;
}
std::string name_key(const std::string& cluster, const std::string& name) {
  return "/akt/" + cluster + "/names/" + name;
}

// ------------------------------------------------------------------ one of three lost

// Was cluster_test's DISABLED_losing_one_member_keeps_the_cluster_working.
// Its one TSan failure was not in Akt: when the member both nodes used first
// went away, one node's gRPC thread completed the other node's failed call
// (the two channels share gRPC's subchannel to that member) and built its
// status message; the caller's inline grpcpp code then copied the message
// out, and TSan, blind to gRPC's completion-queue synchronization, reported
// a race (tests/tsan.supp now names that copy-out). It reproduced in about
// one run in five under TSan, and never in Release.
TEST(etcd_trouble, losing_one_of_three_members_keeps_claims_lookups_leases_and_joins_working) {
  akt_test::etcd_cluster etcd;
  const akt::cluster::cluster_options options{
      .etcd = {.endpoints = etcd.endpoints(), .request_timeout = 2000ms}, .name = "three", .lease_ttl = 2s};
  node a = join("alpha", options);
  node b = join("beta", options);
  ASSERT_NE(a.cluster, nullptr);
  ASSERT_NE(b.cluster, nullptr);
  ASSERT_TRUE(a.sys->spawn_fn("before", idle));
  ASSERT_TRUE(eventually([&] { return b.cluster->members().size() == 2; }, 10s));
  etcd_client direct({.endpoints = etcd.endpoints()});
  auto a_key = direct.get(member_key("three", a.address()));
  ASSERT_TRUE(a_key && *a_key);

  // The first endpoint, the one every client uses first, goes away.
  etcd.member(0).stop();
  // The two left elect a leader if the lost one led: until then a claim may
  // find etcd unavailable (never anything else).
  akt::result<akt::pid> after = akt::error(akt::errc::timeout, "not tried");
  ASSERT_TRUE(eventually(
      [&] {
        after = a.sys->spawn_fn("after", idle);
        return after.has_value() || after.code() != akt::errc::unavailable;
      },
      20s))
      << after.error().to_string() << "\n"
      << a.log->text();
  ASSERT_TRUE(after) << after.error().to_string() << "\n" << a.log->text();
  ASSERT_TRUE(eventually([&] { return bool(b.sys->lookup("after")) && bool(b.sys->lookup("before")); }, 10s))
      << b.log->text();
  EXPECT_EQ(b.sys->lookup("after")->path(), after->path());
  auto twin = b.sys->spawn_fn("after", idle);
  ASSERT_FALSE(twin);
  EXPECT_EQ(twin.code(), akt::errc::name_taken) << twin.error().to_string();

  // A node can still join, and the others hear of it.
  node c = join("gamma", options);
  ASSERT_NE(c.cluster, nullptr) << c.log->text();
  for (node* n : {&a, &b}) {
    ASSERT_TRUE(eventually([&] { return n->events->saw("member_joined", c.address()); }, 10s))
        << n->sys->name() << " saw: " << testing::PrintToString(n->events->snapshot());
  }
  ASSERT_TRUE(eventually([&] { return bool(c.sys->lookup("after")); }, 10s));

  // Longer than the lease: nobody left, and a's registration is the one it
  // made before the loss (kept alive through the two members left, not
  // registered again).
  const auto lease_passed = clock_type::now() + options.lease_ttl + 1s;
  ASSERT_FALSE(eventually(
      [&] {
        return a.events->saw("member_left", "") || b.events->saw("member_left", "") ||
               a.cluster->members().size() != 3;
      },
      std::chrono::duration_cast<std::chrono::milliseconds>(lease_passed - clock_type::now())))
      << "a: " << testing::PrintToString(a.events->snapshot()) << "\n"
      << a.log->text();
  auto a_now = direct.get(member_key("three", a.address()));
  ASSERT_TRUE(a_now && *a_now);
  EXPECT_EQ((*a_now)->create_revision, (*a_key)->create_revision);
  EXPECT_EQ((*a_now)->lease, (*a_key)->lease);
}

// ------------------------------------------------------------------ every member down, then back

TEST(etcd_trouble, every_member_down_fails_cluster_calls_fast_keeps_local_actors_then_recovers) {
  akt_test::etcd_cluster etcd;
  constexpr auto timeout = 1000ms;
  const akt::cluster::cluster_options options{
      .etcd = {.endpoints = etcd.endpoints(), .request_timeout = timeout},
      .name = "restart",
      .lease_ttl = 2s};
  node a = join("alpha", options);
  ASSERT_NE(a.cluster, nullptr);
  auto held = a.sys->spawn_fn("held", idle);
  ASSERT_TRUE(held) << held.error().to_string();
  auto local = a.sys->spawn_fn(akt::spawn_options{}, [](akt::context& ctx) {
    if (auto* n = ctx.message<int>()) (void)ctx.reply(*n + 1);
  });
  ASSERT_TRUE(local);
  etcd_client direct({.endpoints = etcd.endpoints()});
  auto before = direct.get(member_key("restart", a.address()));
  ASSERT_TRUE(before && *before);

  etcd.stop_all();

  // A named spawn fails within about request_timeout, saying etcd did not answer.
  auto t0 = clock_type::now();
  auto named = a.sys->spawn_fn("while-down", idle);
  auto took = clock_type::now() - t0;
  ASSERT_FALSE(named);
  EXPECT_EQ(named.code(), akt::errc::unavailable) << named.error().to_string();
  EXPECT_TRUE(contains(named.error().message(), "while-down")) << named.error().message();
  EXPECT_TRUE(contains(named.error().message(), "etcd did not answer")) << named.error().message();
  EXPECT_LT(took, timeout + 1500ms);
  EXPECT_FALSE(a.sys->lookup_local("while-down")) << "a refused spawn leaves no actor";

  // A new node cannot join, within about request_timeout, naming the endpoints.
  node late = make_node("late");
  t0 = clock_type::now();
  auto refused = akt::cluster::cluster::enable(*late.sys, options);
  took = clock_type::now() - t0;
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.code(), akt::errc::unavailable) << refused.error().to_string();
  EXPECT_TRUE(contains(refused.error().message(), etcd.member(1).endpoint())) << refused.error().message();
  EXPECT_LT(took, timeout + 1500ms);

  // Local actors do not need etcd: tell and ask work, anonymous spawns too.
  ASSERT_TRUE(local->tell(1));
  auto r = local->ask<int>(41, 2s);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(*r, 42);
  ASSERT_TRUE(a.sys->spawn_fn(akt::spawn_options{}, idle));
  // The view is kept meanwhile: lookups still answer from it.
  EXPECT_TRUE(a.sys->lookup("held"));

  etcd.start_all();

  // Back: the node's registration (kept through the restart: etcd restores
  // leases and the keep-alives resume; or registered again), its name
  // bound to the same lease, new claims and new members.
  akt::result<akt::pid> after = akt::error(akt::errc::timeout, "not tried");
  ASSERT_TRUE(eventually(
      [&] {
        after = a.sys->spawn_fn("after-restart", idle);
        return after.has_value() || after.code() != akt::errc::unavailable;
      },
      20s))
      << a.log->text();
  ASSERT_TRUE(after) << after.error().to_string() << "\n" << a.log->text();
  auto member_now = direct.get(member_key("restart", a.address()));
  ASSERT_TRUE(member_now && *member_now) << a.log->text();
  auto name_now = direct.get(name_key("restart", "held"));
  ASSERT_TRUE(name_now && *name_now) << "the name it held is held again\n" << a.log->text();
  EXPECT_EQ((*name_now)->value, a.address() + "\t" + held->path());
  EXPECT_EQ((*name_now)->lease, (*member_now)->lease) << "bound to the node's current lease";
  node b = join("beta", options);
  ASSERT_NE(b.cluster, nullptr) << b.log->text();
  ASSERT_TRUE(eventually([&] { return a.cluster->members().size() == 2; }, 10s)) << a.log->text();
  ASSERT_TRUE(eventually([&] { return bool(b.sys->lookup("held")); }, 10s));
  EXPECT_EQ(b.sys->lookup("held")->path(), held->path());
  auto twin = b.sys->spawn_fn("held", idle);
  ASSERT_FALSE(twin);
  EXPECT_EQ(twin.code(), akt::errc::name_taken) << twin.error().to_string();
  // The registration lives on past a lease TTL (a dead lease would take the keys).
  ASSERT_FALSE(eventually([&] { return b.cluster->members().size() != 2; }, 3000ms))
      << testing::PrintToString(b.events->snapshot());
  auto still = direct.get(name_key("restart", "held"));
  ASSERT_TRUE(still && *still);
}

// ------------------------------------------------------------------ a lost lease

// What a node does when its lease expired behind its back (a partition
// longer than the TTL), made deterministic: the test revokes the lease. One
// name was taken by someone else meanwhile (its local actor must stop); the
// other is claimed again.
TEST(etcd_trouble, a_node_whose_lease_was_lost_registers_again_and_reclaims_its_names) {
  akt_test::etcd_server etcd;
  const akt::cluster::cluster_options options{
      .etcd = {.endpoints = {etcd.endpoint()}, .request_timeout = 2000ms}, .name = "lost", .lease_ttl = 2s};
  node a = join("alpha", options);
  ASSERT_NE(a.cluster, nullptr);
  auto kept = a.sys->spawn_fn("kept", idle);
  auto lost = a.sys->spawn_fn("lost", idle);
  ASSERT_TRUE(kept && lost);
  etcd_client direct({.endpoints = {etcd.endpoint()}});
  auto registration = direct.get(member_key("lost", a.address()));
  ASSERT_TRUE(registration && *registration);
  const std::int64_t old_lease = (*registration)->lease;
  ASSERT_NE(old_lease, 0);
  // Another node's claim of "lost", not bound to a's lease, then the lease goes.
  const std::string other = "10.9.9.9:4000\takt://other@10.9.9.9:4000/lost";
  ASSERT_TRUE(direct.put(name_key("lost", "lost"), other));
  ASSERT_TRUE(direct.revoke_lease(old_lease));

  // Registered again (at its next keep-alive, within a third of the TTL).
  ASSERT_TRUE(eventually(
      [&] {
        auto m = direct.get(member_key("lost", a.address()));
        return m && *m && (*m)->lease != 0 && (*m)->lease != old_lease;
      },
      10s))
      << a.log->text();
  // "kept" is claimed again under the new lease; "lost" stays the other's,
  // and a's actor of that name stops.
  ASSERT_TRUE(eventually(
      [&] {
        auto n = direct.get(name_key("lost", "kept"));
        auto m = direct.get(member_key("lost", a.address()));
        return n && *n && m && *m && (*n)->lease == (*m)->lease;
      },
      10s))
      << a.log->text();
  EXPECT_EQ((*direct.get(name_key("lost", "kept")))->value, a.address() + "\t" + kept->path());
  ASSERT_TRUE(lost->wait_stopped(10s)) << a.log->text();
  EXPECT_EQ((*direct.get(name_key("lost", "lost")))->value, other);
  EXPECT_TRUE(kept->is_running());
  ASSERT_TRUE(eventually([&] { return a.cluster->members().size() == 1; }, 10s));
  ASSERT_TRUE(eventually(
      [&] {
        auto p = a.sys->lookup("kept");
        return p && p->path() == kept->path();
      },
      10s));
}

// A name released while etcd is down is released once it is back (the
// release is retried every beat: the lease is kept alive, so the key would
// not go by itself), and is free again for anyone, this node included.
TEST(etcd_trouble, a_name_released_while_etcd_is_down_is_free_again_after_it_returns) {
  akt_test::etcd_server etcd;
  const akt::cluster::cluster_options options{
      .etcd = {.endpoints = {etcd.endpoint()}, .request_timeout = 1000ms},
      .name = "release",
      .lease_ttl = 2s};
  node a = join("alpha", options);
  ASSERT_NE(a.cluster, nullptr);
  auto brief = a.sys->spawn_fn("brief", idle);
  ASSERT_TRUE(brief);
  etcd.stop();
  ASSERT_TRUE(brief->stop());
  ASSERT_TRUE(brief->wait_stopped(5s));
  ASSERT_TRUE(eventually([&] { return contains(a.log->text(), "could not release the name 'brief'"); }, 10s))
      << a.log->text();
  etcd.start();
  etcd_client direct({.endpoints = {etcd.endpoint()}});
  ASSERT_TRUE(eventually(
      [&] {
        auto n = direct.get(name_key("release", "brief"));
        return n && !*n;
      },
      10s))
      << "the name of a stopped actor is still held\n"
      << a.log->text();
  ASSERT_TRUE(a.sys->spawn_fn("brief", idle));
}

// ------------------------------------------------------------------ TLS

// A CA, a server certificate for 127.0.0.1 and a client certificate signed
// by it, and a second CA that signed nothing: made with the openssl CLI,
// once for the suite. etcd serves TLS with its own certificate only, or
// (mutual) also asks clients for theirs.
class etcd_tls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("akt-tls-" + std::to_string(::getpid())));
    std::filesystem::remove_all(*dir_);
    std::filesystem::create_directories(*dir_);
    const std::string d = dir_->string();
    const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string script =
        "cd '" + d + "' && printf 'subjectAltName=IP:127.0.0.1\\n' > san.cnf" + " && openssl req -x509" +
        key + " -keyout ca.key -out ca.pem -days 2 -subj /CN=akt-test-ca" + " && openssl req -x509" + key +
        " -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=other-ca" + " && openssl req" + key +
        " -keyout server.key -out server.csr -subj /CN=127.0.0.1" +
        " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2" +
        " -extfile san.cnf -out server.pem" + " && openssl req" + key +
        " -keyout client.key -out client.csr -subj /CN=akt-test-client" +
        " && openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out "
        "client.pem";
    ok_ = std::system(("(" + script + ") >/dev/null 2>&1").c_str()) == 0;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    std::filesystem::remove_all(*dir_, ec);
    delete dir_;
  }
  void SetUp() override { ASSERT_TRUE(ok_) << "openssl could not make the test certificates in " << *dir_; }

  static std::string file(const char* name) { return (*dir_ / name).string(); }
  static akt_test::etcd_server_tls server_files() {
    return {.certificate_file = file("server.pem"),
            .private_key_file = file("server.key"),
            .ca_file = file("ca.pem")};
  }
  static akt_test::etcd_server_tls mutual_files() {
    auto f = server_files();
    f.client_ca_file = file("ca.pem");
    f.client_certificate_file = file("client.pem");
    f.client_private_key_file = file("client.key");
    return f;
  }

  static inline std::filesystem::path* dir_ = nullptr;
  static inline bool ok_ = false;
};

TEST_F(etcd_tls, the_right_ca_works) {
  akt_test::etcd_server etcd(server_files());
  akt::cluster::cluster_options options{
      .etcd = {.endpoints = {etcd.endpoint()}, .tls = akt::cluster::etcd_tls{.ca_file = file("ca.pem")}},
      .name = "tls",
      .lease_ttl = 2s};
  node a = join("alpha", options);
  node b = join("beta", options);
  ASSERT_NE(a.cluster, nullptr);
  ASSERT_NE(b.cluster, nullptr);
  ASSERT_TRUE(a.sys->spawn_fn("secure", idle));
  ASSERT_TRUE(eventually([&] { return bool(b.sys->lookup("secure")); }, 10s));
  EXPECT_EQ(b.cluster->members().size(), 2u);
}

TEST_F(etcd_tls, mutual_tls_with_the_clients_certificate_works) {
  akt_test::etcd_server etcd(mutual_files());
  akt::cluster::cluster_options options{
      .etcd = {.endpoints = {etcd.endpoint()},
               .tls = akt::cluster::etcd_tls{.ca_file = file("ca.pem"),
                                             .certificate_file = file("client.pem"),
                                             .private_key_file = file("client.key")}},
      .name = "mtls",
      .lease_ttl = 2s};
  node a = join("alpha", options);
  ASSERT_NE(a.cluster, nullptr);
  ASSERT_TRUE(a.sys->spawn_fn("mutual", idle));
  ASSERT_TRUE(eventually([&] { return bool(a.cluster->lookup("mutual")); }, 10s));
}

TEST_F(etcd_tls, a_client_without_a_certificate_fails_against_mutual_tls_within_the_timeout) {
  akt_test::etcd_server etcd(mutual_files());
  node a = make_node("alpha");
  const auto t0 = clock_type::now();
  auto c = akt::cluster::cluster::enable(*a.sys,
                                         {.etcd = {.endpoints = {etcd.endpoint()},
                                                   .tls = akt::cluster::etcd_tls{.ca_file = file("ca.pem")},
                                                   .request_timeout = 1000ms},
                                          .lease_ttl = 2s});
  const auto took = clock_type::now() - t0;
  ASSERT_FALSE(c);
  EXPECT_EQ(c.code(), akt::errc::unavailable) << c.error().to_string();
  EXPECT_TRUE(contains(c.error().message(), etcd.endpoint())) << c.error().message();
  EXPECT_LT(took, 1000ms + 1500ms);
  std::printf("no client certificate: %s\n", c.error().message().c_str());
}

TEST_F(etcd_tls, a_client_without_tls_fails_enable_within_the_timeout) {
  akt_test::etcd_server etcd(server_files());
  node a = make_node("alpha");
  const auto t0 = clock_type::now();
  auto c = akt::cluster::cluster::enable(
      *a.sys, {.etcd = {.endpoints = {etcd.endpoint()}, .request_timeout = 1000ms}, .lease_ttl = 2s});
  const auto took = clock_type::now() - t0;
  ASSERT_FALSE(c);
  EXPECT_EQ(c.code(), akt::errc::unavailable) << c.error().to_string();
  EXPECT_TRUE(contains(c.error().message(), etcd.endpoint())) << c.error().message();
  EXPECT_LT(took, 1000ms + 1500ms);
  std::printf("plain client against TLS etcd: %s\n", c.error().message().c_str());
}

TEST_F(etcd_tls, a_client_trusting_the_wrong_ca_fails_enable_within_the_timeout) {
  akt_test::etcd_server etcd(server_files());
  node a = make_node("alpha");
  const auto t0 = clock_type::now();
  auto c = akt::cluster::cluster::enable(
      *a.sys, {.etcd = {.endpoints = {etcd.endpoint()},
                        .tls = akt::cluster::etcd_tls{.ca_file = file("other-ca.pem")},
                        .request_timeout = 1000ms},
               .lease_ttl = 2s});
  const auto took = clock_type::now() - t0;
  ASSERT_FALSE(c);
  EXPECT_EQ(c.code(), akt::errc::unavailable) << c.error().to_string();
  EXPECT_TRUE(contains(c.error().message(), etcd.endpoint())) << c.error().message();
  EXPECT_LT(took, 1000ms + 1500ms);
  std::printf("wrong CA: %s\n", c.error().message().c_str());
}

// TLS files are checked when the cluster is enabled: a CA that cannot be
// read is refused naming the file (gRPC would quietly trust its defaults).
TEST_F(etcd_tls, a_ca_file_that_cannot_be_read_is_refused_naming_the_file) {
  node a = make_node("alpha");
  const std::string missing = file("no-such-ca.pem");
  auto c = akt::cluster::cluster::enable(
      *a.sys, {.etcd = {.endpoints = {"127.0.0.1:" + std::to_string(akt_test::free_port())},
                        .tls = akt::cluster::etcd_tls{.ca_file = missing},
                        .request_timeout = 500ms}});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.code(), akt::errc::invalid_argument) << c.error().to_string();
  EXPECT_TRUE(contains(c.error().message(), missing)) << c.error().message();
}

// ------------------------------------------------------------------ bad input

class bad_input : public ::testing::Test {
 protected:
  akt::cluster::cluster_options options(std::string name = "bad") {
    return {.etcd = {.endpoints = {etcd_.endpoint()}, .request_timeout = 1000ms},
            .name = std::move(name),
            .lease_ttl = 2s};
  }
  akt_test::etcd_server etcd_;
};

TEST_F(bad_input, invalid_actor_names_are_refused_and_never_reach_etcd) {
  node a = join("alpha", options());
  ASSERT_NE(a.cluster, nullptr);
  const std::string too_long(256, 'n');
  const std::string huge(2 * 1024 * 1024, 'n');  // beyond etcd's 1.5 MiB request limit
  for (const std::string& name : {std::string("a/b"), std::string("a//b"), std::string("/a"),
                                  std::string("a/"), std::string("a\tb"), too_long, huge}) {
    auto r = a.sys->spawn_fn(name, idle);
    ASSERT_FALSE(r) << name.substr(0, 40);
    EXPECT_EQ(r.code(), akt::errc::invalid_name) << r.error().to_string().substr(0, 300);
    EXPECT_TRUE(contains(r.error().message(), "invalid actor name")) << r.error().message().substr(0, 300);
    EXPECT_LT(r.error().message().size(), 400u) << "the message quotes a long name shortened";
  }
  EXPECT_TRUE(contains(a.sys->spawn_fn("a/b", idle).error().message(), "'/'"));
  EXPECT_TRUE(contains(a.sys->spawn_fn(too_long, idle).error().message(), "256 characters"));
  etcd_client direct({.endpoints = {etcd_.endpoint()}});
  auto names = direct.get_prefix("/akt/bad/names/");
  ASSERT_TRUE(names);
  EXPECT_TRUE(names->kvs.empty()) << names->kvs.size() << " names in etcd";
  // The longest valid name is claimed.
  const std::string longest(255, 'n');
  ASSERT_TRUE(a.sys->spawn_fn(longest, idle));
  auto held = direct.get(name_key("bad", longest));
  ASSERT_TRUE(held && *held);
}

TEST_F(bad_input, inconsistent_options_are_refused_naming_what_is_wrong) {
  struct bad_case {
    std::string what;  // in the message
    std::function<void(akt::cluster::cluster_options&)> spoil;
  };
  const std::vector<bad_case> cases = {
      {"etcd.endpoints is empty", [](auto& o) { o.etcd.endpoints.clear(); }},
      {"'localhost' is not host:port", [](auto& o) { o.etcd.endpoints = {"localhost"}; }},
      {"lease_ttl", [](auto& o) { o.lease_ttl = 1s; }},
      {"lease_ttl", [](auto& o) { o.lease_ttl = 0s; }},
      {"lease_ttl", [](auto& o) { o.lease_ttl = -5s; }},
      {"lease_ttl", [](auto& o) { o.lease_ttl = 3601s; }},
      {"request_timeout", [](auto& o) { o.etcd.request_timeout = 0ms; }},
      {"request_timeout", [](auto& o) { o.etcd.request_timeout = -1ms; }},
      {"role 'a,b'",
       [](auto& o) {
         o.roles = {"ok", "a,b"};
       }},
      {"role ''", [](auto& o) { o.roles = {""}; }},
      {"role 'a\tb'", [](auto& o) { o.roles = {"a\tb"}; }},
      {"'/'", [](auto& o) { o.name = "shop/eu"; }},
      {"'/'", [](auto& o) { o.name = "/"; }},
  };
  for (const auto& c : cases) {
    node n = make_node("spoiled");
    auto o = options();
    c.spoil(o);
    const auto t0 = clock_type::now();
    auto r = akt::cluster::cluster::enable(*n.sys, o);
    ASSERT_FALSE(r) << c.what;
    EXPECT_EQ(r.code(), akt::errc::invalid_argument) << r.error().to_string();
    EXPECT_TRUE(contains(r.error().message(), c.what))
        << "wanted '" << c.what << "' in: " << r.error().message();
    EXPECT_LT(clock_type::now() - t0, 200ms) << "refused before any etcd call";
    EXPECT_EQ(n.sys->find_extension<akt::cluster::cluster>(), nullptr);
  }
  // Nothing was registered by any of them.
  etcd_client direct({.endpoints = {etcd_.endpoint()}});
  auto all = direct.get_prefix("/akt/");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->kvs.empty());
}

// A cluster name is a part of every key: one beyond etcd's request limit is
// refused by etcd, clearly and at once, and leaves nothing behind.
TEST_F(bad_input, a_cluster_name_beyond_etcds_limits_is_refused) {
  node n = make_node("alpha");
  const auto t0 = clock_type::now();
  auto r = akt::cluster::cluster::enable(*n.sys, options(std::string(2 * 1024 * 1024, 'c')));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), akt::errc::invalid_argument) << r.error().to_string().substr(0, 400);
  EXPECT_LT(clock_type::now() - t0, 1000ms) << "etcd refuses: no waiting for a timeout";
  EXPECT_LT(r.error().message().size(), 1000u) << "the name is not quoted in full";
  std::printf("huge cluster name: %s\n", r.error().message().substr(0, 400).c_str());
  etcd_client direct({.endpoints = {etcd_.endpoint()}});
  auto all = direct.get_prefix("/akt/");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->kvs.empty());
}

// A cluster name too long for a key prefix is refused naming the option.
TEST_F(bad_input, a_cluster_name_too_long_is_refused_naming_the_option) {
  node n = make_node("alpha");
  auto r = akt::cluster::cluster::enable(*n.sys, options(std::string(2 * 1024 * 1024, 'c')));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), akt::errc::invalid_argument);
  EXPECT_TRUE(contains(r.error().message(), "cluster name")) << r.error().message().substr(0, 400);
}

// A loopback listener that accepts connections and never sends a byte.
class silent_listener {
 public:
  silent_listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) == 1) {
          const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
          if (c >= 0) accepted_.push_back(c);  // held open, never written to
        }
      }
    });
  }
  ~silent_listener() {
    stop_.store(true);
    thread_.join();
    for (int c : accepted_) ::close(c);
    ::close(fd_);
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<int> accepted_;  // the accepting thread's
  std::thread thread_;
};

TEST(etcd_endpoints, an_unused_port_fails_enable_within_the_timeout_naming_it) {
  node a = make_node("alpha");
  const std::string nobody = "127.0.0.1:" + std::to_string(akt_test::free_port());
  const auto t0 = clock_type::now();
  auto c = akt::cluster::cluster::enable(*a.sys, {.etcd = {.endpoints = {nobody}, .request_timeout = 800ms}});
  const auto took = clock_type::now() - t0;
  ASSERT_FALSE(c);
  EXPECT_EQ(c.code(), akt::errc::unavailable) << c.error().to_string();
  EXPECT_TRUE(contains(c.error().message(), nobody)) << c.error().message();
  EXPECT_TRUE(contains(c.error().message(), "etcd did not answer")) << c.error().message();
  EXPECT_LT(took, 800ms + 1500ms);
}

TEST(etcd_endpoints, a_listener_that_never_speaks_fails_enable_within_the_timeout_naming_it) {
  silent_listener silent;
  node a = make_node("alpha");
  const auto t0 = clock_type::now();
  auto c = akt::cluster::cluster::enable(
      *a.sys, {.etcd = {.endpoints = {silent.endpoint()}, .request_timeout = 800ms}});
  const auto took = clock_type::now() - t0;
  ASSERT_FALSE(c);
  EXPECT_EQ(c.code(), akt::errc::unavailable) << c.error().to_string();
  EXPECT_TRUE(contains(c.error().message(), silent.endpoint())) << c.error().message();
  EXPECT_LT(took, 800ms + 1500ms);
  std::printf("silent listener: %s\n", c.error().message().c_str());
}

// A silent first endpoint costs each call one connection attempt: gRPC
// gives up on a connection that never completes its HTTP/2 handshake after
// GRPC_ARG_MIN_RECONNECT_BACKOFF_MS (1 s, the client's setting), then the
// call moves on to the next endpoint. (So request_timeout must exceed 1 s.)
TEST(etcd_endpoints, a_silent_first_endpoint_does_not_hide_a_healthy_second_one) {
  silent_listener silent;
  akt_test::etcd_server etcd;
  node a = make_node("alpha");
  auto c = akt::cluster::cluster::enable(
      *a.sys, {.etcd = {.endpoints = {silent.endpoint(), etcd.endpoint()}, .request_timeout = 2000ms},
               .name = "failover",
               .lease_ttl = 2s});
  ASSERT_TRUE(c) << c.error().to_string();
  ASSERT_TRUE(a.sys->spawn_fn("through-the-second", idle));
  EXPECT_TRUE(eventually([&] { return bool((*c)->lookup("through-the-second")); }, 5s));
}

// An endpoint's port must be a port: "host:http", "host:" and
// "host:99999" are refused at once (gRPC would wrap 99999 to another port).
TEST(etcd_endpoints, an_endpoint_whose_port_is_not_a_port_is_refused_at_once_naming_it) {
  for (const std::string bad : {"127.0.0.1:", "127.0.0.1:http", "127.0.0.1:99999", "127.0.0.1:0", ":2379"}) {
    node a = make_node("alpha");
    const auto t0 = clock_type::now();
    auto c = akt::cluster::cluster::enable(*a.sys, {.etcd = {.endpoints = {bad}, .request_timeout = 800ms}});
    ASSERT_FALSE(c) << bad;
    EXPECT_EQ(c.code(), akt::errc::invalid_argument) << c.error().to_string();
    EXPECT_TRUE(contains(c.error().message(), "'" + bad + "'")) << c.error().message();
    EXPECT_LT(clock_type::now() - t0, 200ms) << "refused before any etcd call";
  }
}

// A frozen member (SIGSTOP: its connections stay open, it never answers)
// among three: the two others can serve every call.
// Each attempt gets a share of the deadline, so the frozen member cannot
// use it all, and the next call starts at the member that answered.
TEST(etcd_trouble, a_frozen_member_among_three_does_not_stop_claims) {
  akt_test::etcd_cluster etcd;
  const akt::cluster::cluster_options options{
      .etcd = {.endpoints = etcd.endpoints(), .request_timeout = 2000ms}, .name = "frozen", .lease_ttl = 2s};
  node a = join("alpha", options);
  ASSERT_NE(a.cluster, nullptr);
  ASSERT_TRUE(a.sys->spawn_fn("before", idle));
  etcd.member(0).freeze();
  akt::result<akt::pid> after = akt::error(akt::errc::timeout, "not tried");
  const bool claimed = eventually(
      [&] {
        after = a.sys->spawn_fn("after", idle);
        return after.has_value() || after.code() != akt::errc::unavailable;
      },
      15s);
  etcd.member(0).thaw();
  ASSERT_TRUE(claimed) << after.error().to_string() << "\n" << a.log->text();
  ASSERT_TRUE(after) << after.error().to_string();
}

}  // namespace
