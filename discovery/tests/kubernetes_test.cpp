// The Kubernetes provider against fake_api_server.hpp (HTTPS on 127.0.0.1
// with certificates made by the openssl tool at run time, a bearer token,
// the real API's JSON): which pods it selects and how it asks, the watch
// (events, resuming, 410 Gone), token rotation, and the errors that say
// what to fix.
#include <akt/discovery/discovery.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fake_api_server.hpp"

namespace {

using namespace std::chrono_literals;
using akt::discovery::node;
using akt::discovery::testing::fake_api_server;
using akt::discovery::testing::make_pod;
using akt::discovery::testing::recorded_request;
namespace fs = std::filesystem;

const std::vector<std::pair<std::string, int>> all_ports = {
    {"clients-port", 2379}, {"peers-port", 2380}, {"remoting-port", 4000}, {"health", 8080}};
constexpr auto deadline = 10s;

// A CA and a certificate for 127.0.0.1 signed by it, in `dir`.
bool make_pki(const fs::path& dir, const std::string& name) {
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::string cmd =
      "cd '" + dir.string() + "' && openssl req -x509" + ec + " -keyout " + name + "-ca.key -out " + name +
      "-ca.pem -days 1 -subj /CN=" + name + "-ca 2>/dev/null && openssl req" + ec + " -keyout " + name +
      ".key -out " + name + ".csr -subj /CN=" + name +
      " 2>/dev/null && printf 'subjectAltName=IP:127.0.0.1\\n' > " + name + ".ext && openssl x509 -req -in " +
      name + ".csr -CA " + name + "-ca.pem -CAkey " + name + "-ca.key -CAcreateserial -out " + name +
      ".pem -days 1 -extfile " + name + ".ext 2>/dev/null";
  return std::system(cmd.c_str()) == 0;
}

// Atomically, as the kubelet swaps a projected token.
void write_file(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  std::ofstream(tmp) << text;
  fs::rename(tmp, path);
}

// Every list on_change got, and a bounded wait for one that fits.
class recorder {
 public:
  akt::discovery::provider::on_change_fn fn() {
    return [this](const std::vector<node>& now) {
      std::lock_guard lock(mu_);
      seen_.push_back(now);
      cv_.notify_all();
    };
  }
  // Waits until the latest list satisfies `ok`.
  bool wait_latest(const std::function<bool(const std::vector<node>&)>& ok) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, deadline, [&] { return !seen_.empty() && ok(seen_.back()); });
  }
  std::vector<std::vector<node>> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<node>> seen_;
};

std::vector<std::string> ids(const std::vector<node>& nodes) {
  std::vector<std::string> out;
  for (const auto& n : nodes) out.push_back(n.id);
  return out;
}

auto has_ids(std::vector<std::string> want) {
  return [want = std::move(want)](const std::vector<node>& now) { return ids(now) == want; };
}

class kubernetes_discovery : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("akt-k8s-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ASSERT_TRUE(make_pki(dir_, "apiserver")) << "openssl could not make the test certificates";
    ASSERT_TRUE(make_pki(dir_, "other"));
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  void SetUp() override {
    write_file(dir_ / "token", "token-1\n");
    write_file(dir_ / "namespace", "shop-ns");
    server_ = std::make_unique<fake_api_server>((dir_ / "apiserver.pem").string(),
                                                (dir_ / "apiserver.key").string(), "token-1", "shop-ns");
    server_->apply("ADDED", make_pod("orders-0", "shop", "orders", "Running", true, "10.0.0.10", all_ports));
    server_->apply("ADDED", make_pod("orders-1", "shop", "orders", "Running", false, "10.0.0.11", all_ports));
    server_->apply("ADDED", make_pod("orders-2", "shop", "orders", "Pending", false, "", all_ports));
    server_->apply("ADDED", make_pod("orders-3", "shop", "orders", "Running", true, "10.0.0.13", all_ports));
    server_->apply("ADDED",
                   make_pod("billing-0", "shop", "billing", "Running", true, "10.0.0.20", all_ports));
    server_->apply("ADDED",
                   make_pod("orders-x", "other-shop", "orders", "Running", true, "10.0.0.30", all_ports));
  }

  akt::discovery::kubernetes_options options() const {
    return {.system = "shop",
            .application = "orders",
            .api_server = server_->url(),
            .token_file = (dir_ / "token").string(),
            .ca_file = (dir_ / "apiserver-ca.pem").string(),
            .namespace_file = (dir_ / "namespace").string(),
            .timeout = 3s};
  }

  std::unique_ptr<akt::discovery::provider> started(akt::discovery::kubernetes_options o) {
    auto p = akt::discovery::kubernetes(std::move(o));
    EXPECT_TRUE(p) << p.error().to_string();
    if (!p) return nullptr;
    auto s = (*p)->start();
    EXPECT_TRUE(s) << s.error().to_string();
    return std::move(*p);
  }

  std::string error_of(akt::discovery::kubernetes_options o) {
    auto p = started(std::move(o));
    auto nodes = p->nodes();
    EXPECT_FALSE(nodes);
    return nodes ? "" : nodes.error().to_string();
  }

  static bool a_watch_with(const std::vector<recorded_request>& rs, const std::string& token, int status) {
    return std::any_of(rs.begin(), rs.end(),
                       [&](const auto& r) { return r.watch && r.token == token && r.status == status; });
  }

  static inline fs::path dir_;
  std::unique_ptr<fake_api_server> server_;
};

TEST_F(kubernetes_discovery, lists_running_ready_pods_selected_by_the_labels_with_their_named_ports) {
  auto p = started(options());
  ASSERT_TRUE(p);
  auto nodes = p->nodes();
  ASSERT_TRUE(nodes) << nodes.error().to_string();
  EXPECT_EQ(ids(*nodes), (std::vector<std::string>{"orders-0", "orders-3"}));
  const node& n = (*nodes)[0];
  EXPECT_EQ(n.host, "10.0.0.10");
  EXPECT_EQ(n.ports, (std::map<std::string, std::uint16_t, std::less<>>{
                         {"clients-port", 2379}, {"peers-port", 2380}, {"remoting-port", 4000}}))
      << "only the ports named in port_names";

  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target,
            "/api/v1/namespaces/shop-ns/pods?labelSelector=app.kubernetes.io%2Fpart-of%3Dshop%2C"
            "app.kubernetes.io%2Fcomponent%3Dorders%2Capp.kubernetes.io%2Fname%3Dorders");
  EXPECT_EQ(requests[0].token, "token-1");
}

TEST_F(kubernetes_discovery, finds_the_api_server_from_the_service_environment) {
  auto o = options();
  o.api_server.clear();
  ::setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", std::to_string(server_->port()).c_str(), 1);
  auto p = started(o);
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  ASSERT_TRUE(p);
  auto nodes = p->nodes();
  ASSERT_TRUE(nodes) << nodes.error().to_string();
  EXPECT_EQ(nodes->size(), 2u);
}

TEST_F(kubernetes_discovery, watch_applies_added_modified_and_deleted_pods) {
  auto p = started(options());
  ASSERT_TRUE(p);
  recorder changes;
  ASSERT_TRUE(p->watch(changes.fn()));
  ASSERT_TRUE(changes.wait_latest(has_ids({"orders-0", "orders-3"})));

  server_->apply("ADDED", make_pod("orders-4", "shop", "orders", "Running", true, "10.0.0.14", all_ports));
  ASSERT_TRUE(changes.wait_latest(has_ids({"orders-0", "orders-3", "orders-4"})));
  server_->apply("MODIFIED",
                 make_pod("orders-0", "shop", "orders", "Running", false, "10.0.0.10", all_ports));
  ASSERT_TRUE(changes.wait_latest(has_ids({"orders-3", "orders-4"})))
      << "a pod that is no longer Ready leaves";
  server_->apply("MODIFIED", make_pod("orders-1", "shop", "orders", "Running", true, "10.0.0.11", all_ports));
  ASSERT_TRUE(changes.wait_latest(has_ids({"orders-1", "orders-3", "orders-4"})))
      << "one that becomes Ready joins";
  server_->apply("DELETED", make_pod("orders-3", "shop", "orders", "Running", true, "10.0.0.13", all_ports));
  ASSERT_TRUE(changes.wait_latest(has_ids({"orders-1", "orders-4"})));
  // A change to a pod the selector does not pick, or one that changes
  // nothing the list shows, is not a change of the list.
  server_->apply("MODIFIED",
                 make_pod("billing-0", "shop", "billing", "Running", false, "10.0.0.20", all_ports));
  server_->apply("MODIFIED",
                 make_pod("orders-2", "shop", "orders", "Running", false, "10.0.0.12", all_ports));

  // The stream ends (the server's timeoutSeconds): the provider resumes
  // from the last version it saw, and misses nothing said in between.
  const auto watches_before = server_->requests().size();
  server_->end_watches();
  ASSERT_TRUE(
      server_->wait_for_requests([&](const auto& rs) { return rs.size() > watches_before; }, deadline));
  server_->apply("DELETED", make_pod("orders-4", "shop", "orders", "Running", true, "10.0.0.14", all_ports));
  ASSERT_TRUE(changes.wait_latest(has_ids({"orders-1"})));
  p->stop();

  auto seen = changes.seen();
  EXPECT_EQ(seen.size(), 6u) << "the first list, then one call per change of the list";
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_NE(seen[i], seen[i - 1]);
  auto requests = server_->requests();
  std::vector<recorded_request> watches;
  std::copy_if(requests.begin(), requests.end(), std::back_inserter(watches),
               [](auto& r) { return r.watch; });
  ASSERT_GE(watches.size(), 2u);
  EXPECT_EQ(requests[0].target.find("watch"), std::string::npos) << "a list first";
  EXPECT_NE(watches[0].target.find("&watch=true&resourceVersion=106&allowWatchBookmarks=true"),
            std::string::npos)
      << watches[0].target;
  EXPECT_NE(watches[1].target.find("&resourceVersion=112&"), std::string::npos)
      << "resumed from the last event's version: " << watches[1].target;
  EXPECT_EQ(std::count_if(requests.begin(), requests.end(), [](auto& r) { return !r.watch; }), 1)
      << "a clean end of the stream needs no new list";
}

TEST_F(kubernetes_discovery, a_rotated_token_is_read_again) {
  auto p = started(options());
  ASSERT_TRUE(p);
  recorder changes;
  ASSERT_TRUE(p->watch(changes.fn()));
  ASSERT_TRUE(
      server_->wait_for_requests([](const auto& rs) { return a_watch_with(rs, "token-1", 200); }, deadline));

  write_file(dir_ / "token", "token-2\n");
  server_->set_token("token-2");
  server_->end_watches();
  ASSERT_TRUE(
      server_->wait_for_requests([](const auto& rs) { return a_watch_with(rs, "token-2", 200); }, deadline));
  server_->apply("DELETED", make_pod("orders-0", "shop", "orders", "Running", true, "10.0.0.10", all_ports));
  ASSERT_TRUE(changes.wait_latest(has_ids({"orders-3"})));
  auto nodes = p->nodes();
  ASSERT_TRUE(nodes) << nodes.error().to_string();
  EXPECT_EQ(ids(*nodes), std::vector<std::string>{"orders-3"});
}

TEST_F(kubernetes_discovery, a_gone_resource_version_makes_it_list_again) {
  for (bool as_http_status : {false, true}) {
    SCOPED_TRACE(as_http_status ? "410 as the response status" : "410 as an ERROR event");
    server_->set_gone_as_http_status(as_http_status);
    auto p = started(options());
    ASSERT_TRUE(p);
    recorder changes;
    ASSERT_TRUE(p->watch(changes.fn()));
    ASSERT_TRUE(changes.wait_latest([](auto& now) { return !now.empty(); }));
    ASSERT_TRUE(server_->wait_for_requests(
        [](const auto& rs) {
          return std::count_if(rs.begin(), rs.end(), [](auto& r) { return r.watch; }) > 0;
        },
        deadline));
    const auto before = server_->requests().size();
    const auto name = as_http_status ? "orders-7" : "orders-6";
    const auto ip = as_http_status ? "10.0.0.17" : "10.0.0.16";
    // A change no watch event tells: only a new list shows it.
    server_->compact_with_silent_change("ADDED",
                                        make_pod(name, "shop", "orders", "Running", true, ip, all_ports));
    ASSERT_TRUE(changes.wait_latest([&](auto& now) { return now.back().id == name; }));
    p->stop();
    auto requests = server_->requests();
    requests.erase(requests.begin(), requests.begin() + static_cast<long>(before));
    ASSERT_GE(requests.size(), 2u);
    EXPECT_TRUE(requests[0].watch);
    EXPECT_EQ(requests[0].status, as_http_status ? 410 : 200);
    EXPECT_FALSE(requests[1].watch) << "then a list";
  }
}

TEST_F(kubernetes_discovery, stop_ends_a_watch_that_waits_for_events_at_once) {
  auto p = started(options());
  ASSERT_TRUE(p);
  recorder changes;
  ASSERT_TRUE(p->watch(changes.fn()));
  ASSERT_TRUE(
      server_->wait_for_requests([](const auto& rs) { return a_watch_with(rs, "token-1", 200); }, deadline));
  const auto t0 = std::chrono::steady_clock::now();
  p->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  EXPECT_FALSE(p->watch(changes.fn())) << "no watch after stop()";
}

TEST_F(kubernetes_discovery, a_bad_token_is_refused_clearly) {
  write_file(dir_ / "token", "not-the-token");
  const std::string e = error_of(options());
  EXPECT_NE(e.find("not_permitted"), std::string::npos) << e;
  EXPECT_NE(e.find("401"), std::string::npos) << e;
  EXPECT_NE(e.find((dir_ / "token").string()), std::string::npos) << e;
  auto p = started(options());
  auto w = p->watch([](auto&) {});
  ASSERT_FALSE(w) << "watch() lists first and says why it cannot";
  EXPECT_NE(w.error().message().find("401"), std::string::npos);
}

TEST_F(kubernetes_discovery, forbidden_says_which_role_the_service_account_needs) {
  server_->set_forbidden(true);
  const std::string e = error_of(options());
  EXPECT_NE(e.find("403"), std::string::npos) << e;
  EXPECT_NE(e.find("get, list and watch on pods"), std::string::npos) << e;
  EXPECT_NE(e.find("shop-ns"), std::string::npos) << e;
}

TEST_F(kubernetes_discovery, a_ca_that_does_not_match_is_refused_clearly) {
  auto o = options();
  o.ca_file = (dir_ / "other-ca.pem").string();
  const std::string e = error_of(o);
  EXPECT_NE(e.find("does not vouch for"), std::string::npos) << e;
  EXPECT_NE(e.find("other-ca.pem"), std::string::npos) << e;
  EXPECT_TRUE(server_->requests().empty()) << "nothing, not even the token, went to the untrusted server";
}

TEST_F(kubernetes_discovery, a_selected_pod_without_a_named_port_is_an_error_naming_both) {
  server_->apply("ADDED", make_pod("orders-5", "shop", "orders", "Running", true, "10.0.0.15",
                                   {{"peers-port", 2380}, {"remoting-port", 4000}, {"etcd", 2379}}));
  const std::string e = error_of(options());
  EXPECT_NE(e.find("orders-5"), std::string::npos) << e;
  EXPECT_NE(e.find("'clients-port'"), std::string::npos) << e;
  EXPECT_NE(e.find("etcd"), std::string::npos) << "says which names it has: " << e;

  // Inside a watch, where no one can be told, such a pod is left out.
  server_->apply("DELETED", make_pod("orders-5", "shop", "orders", "Running", true, "10.0.0.15", all_ports));
  auto p = started(options());
  recorder changes;
  ASSERT_TRUE(p->watch(changes.fn()));
  server_->apply("ADDED",
                 make_pod("orders-5", "shop", "orders", "Running", true, "10.0.0.15", {{"etcd", 2379}}));
  server_->apply("ADDED", make_pod("orders-6", "shop", "orders", "Running", true, "10.0.0.16", all_ports));
  ASSERT_TRUE(changes.wait_latest(has_ids({"orders-0", "orders-3", "orders-6"})));
}

TEST_F(kubernetes_discovery, malformed_json_is_reported) {
  server_->set_list_body("{\"kind\": \"PodList\", \"items\": [");
  const std::string e = error_of(options());
  EXPECT_NE(e.find("malformed PodList"), std::string::npos) << e;
}

TEST_F(kubernetes_discovery, an_unreachable_or_silent_api_server_is_reported) {
  auto o = options();
  {
    // A port that nothing listens on.
    fake_api_server gone((dir_ / "apiserver.pem").string(), (dir_ / "apiserver.key").string(), "t",
                         "shop-ns");
    o.api_server = gone.url();
  }
  std::string e = error_of(o);
  EXPECT_NE(e.find("unavailable"), std::string::npos) << e;
  EXPECT_NE(e.find("cannot reach"), std::string::npos) << e;

  // A server that accepts connections (the kernel does, from the backlog)
  // and never answers.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  o.api_server = "https://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  o.timeout = 300ms;
  const auto t0 = std::chrono::steady_clock::now();
  e = error_of(o);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  ::close(fd);
  EXPECT_NE(e.find("did not answer within 300 ms"), std::string::npos) << e;
}

TEST_F(kubernetes_discovery, start_and_the_options_say_what_is_missing) {
  auto no_system = akt::discovery::kubernetes({.application = "orders"});
  ASSERT_FALSE(no_system);
  EXPECT_NE(no_system.error().message().find("options.system is empty"), std::string::npos);
  auto no_app = akt::discovery::kubernetes({.system = "shop"});
  ASSERT_FALSE(no_app);
  EXPECT_NE(no_app.error().message().find("options.application"), std::string::npos);
  auto bad_label = akt::discovery::kubernetes({.system = "shop/x", .application = "orders"});
  ASSERT_FALSE(bad_label);
  EXPECT_NE(bad_label.error().message().find("not a label value"), std::string::npos);

  auto start_error = [](akt::discovery::kubernetes_options o) {
    auto p = akt::discovery::kubernetes(std::move(o));
    EXPECT_TRUE(p);
    auto s = (*p)->start();
    EXPECT_FALSE(s);
    return s ? std::string() : s.error().message();
  };
  auto o = options();
  o.token_file = (dir_ / "no-such-token").string();
  EXPECT_NE(start_error(o).find("cannot read the service account token"), std::string::npos);
  o = options();
  o.ca_file = (dir_ / "no-such-ca.pem").string();
  EXPECT_NE(start_error(o).find("cannot read the CA file"), std::string::npos);
  o = options();
  o.namespace_file = (dir_ / "no-such-namespace").string();
  EXPECT_NE(start_error(o).find("namespace unknown"), std::string::npos);
  o = options();
  o.api_server.clear();
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  EXPECT_NE(start_error(o).find("KUBERNETES_SERVICE_HOST"), std::string::npos);

  auto not_started = akt::discovery::kubernetes(options());
  ASSERT_TRUE(not_started);
  EXPECT_FALSE((*not_started)->nodes());
}

}  // namespace
