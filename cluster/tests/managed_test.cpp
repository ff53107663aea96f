// Managed mode: every node runs its own etcd member (clients-port,
// peers-port), found through static discovery; real etcd processes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <akt/testkit/proc.hpp>

#include "cluster_fixture.hpp"
#include "etcd/etcd_client.hpp"

namespace {

using namespace std::chrono_literals;
using akt_test::eventually;
using akt_test::node;

struct planned {
  std::string id;
  std::uint16_t clients = akt_test::free_port();
  std::uint16_t peers = akt_test::free_port();
};

class managed_test : public ::testing::Test {
 protected:
  managed_test() {
    dir_ = std::filesystem::temp_directory_path() /
           ("akt-managed-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    for (int i = 0; i < 5; ++i) plan_.push_back({"node-" + std::to_string(i)});
  }
  ~managed_test() override {
    nodes_.clear();  // stop every system (and its member) before the directory goes
    std::filesystem::remove_all(dir_);
  }

  // Static discovery of the first `count` planned nodes.
  std::shared_ptr<akt::discovery::provider> discovery_of(std::size_t count) {
    std::vector<akt::discovery::node> list;
    for (std::size_t i = 0; i < count; ++i) {
      list.push_back({.id = plan_[i].id,
                      .host = "127.0.0.1",
                      .ports = {{"clients-port", plan_[i].clients}, {"peers-port", plan_[i].peers}}});
    }
    return std::shared_ptr<akt::discovery::provider>(akt::discovery::static_nodes(std::move(list)).value());
  }

  akt::cluster::managed_etcd_options managed(std::size_t i, std::size_t discovered) {
    return {.discovery = discovery_of(discovered),
            .data_dir = (dir_ / plan_[i].id).string(),
            .clients_port = plan_[i].clients,
            .peers_port = plan_[i].peers,
            .join_timeout = 60s};
  }

  node start(std::size_t i, std::size_t discovered) {
    return akt_test::join_cluster(plan_[i].id, {},
                                  {.managed_etcd = managed(i, discovered), .name = "managed"});
  }

  // etcd's own view of its members, asked of node i's member.
  std::vector<akt::cluster::detail::etcd_member> etcd_members(std::size_t i) {
    akt::cluster::detail::etcd_client c({.endpoints = {"127.0.0.1:" + std::to_string(plan_[i].clients)}});
    auto m = c.member_list();
    return m ? *m : std::vector<akt::cluster::detail::etcd_member>{};
  }
  std::uint64_t cluster_id(std::size_t i) {
    akt::cluster::detail::etcd_client c({.endpoints = {"127.0.0.1:" + std::to_string(plan_[i].clients)}});
    auto s = c.status_of();
    return s ? s->cluster_id : 0;
  }
  static bool all_voters(const std::vector<akt::cluster::detail::etcd_member>& m, std::size_t n) {
    return m.size() == n && std::none_of(m.begin(), m.end(), [](const auto& x) { return x.learner; });
  }

  std::filesystem::path dir_;
  std::vector<planned> plan_;
  std::vector<node> nodes_;
};

namespace {

// POSTs `body` to http://127.0.0.1:<port><path> in plain HTTP and returns
// whatever came back within 3 s ("" if nothing did).
std::string plain_http_post(std::uint16_t port, const std::string& path, const std::string& body) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {};
  timeval tv{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req =
        "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
        "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      for (ssize_t n; out.size() < 65536 && (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
        out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

}  // namespace

TEST_F(managed_test, three_nodes_started_at_once_form_one_cluster_then_a_fourth_joins_and_one_leaves) {
  // All three at the same moment, from nothing: one etcd cluster, not two or three.
  nodes_.resize(3);
  {
    std::vector<std::thread> starting;
    for (std::size_t i = 0; i < 3; ++i) starting.emplace_back([&, i] { nodes_[i] = start(i, 3); });
    for (auto& t : starting) t.join();
  }
  for (auto& n : nodes_) ASSERT_NE(n.cluster, nullptr);
  ASSERT_TRUE(eventually([&] { return all_voters(etcd_members(0), 3); }, 20s));
  EXPECT_EQ(cluster_id(0), cluster_id(1));
  EXPECT_EQ(cluster_id(1), cluster_id(2));
  for (auto& n : nodes_) ASSERT_TRUE(eventually([&] { return n.cluster->members().size() == 3; }));
  ASSERT_TRUE(nodes_[1].sys->spawn<akt_test::echo>("on-managed-etcd"));
  ASSERT_TRUE(eventually([&] { return bool(nodes_[2].sys->lookup("on-managed-etcd")); }));

  // A fourth joins: as a learner, then promoted.
  nodes_.push_back(start(3, 4));
  ASSERT_NE(nodes_[3].cluster, nullptr);
  ASSERT_TRUE(eventually([&] { return all_voters(etcd_members(0), 4); }, 20s));
  EXPECT_EQ(cluster_id(3), cluster_id(0));
  EXPECT_TRUE(eventually([&] { return bool(nodes_[3].sys->lookup("on-managed-etcd")); }));

  // One leaves gracefully: its member is removed, its data directory goes.
  ASSERT_TRUE(nodes_[3].sys->stop());
  nodes_[3].sys.reset();
  ASSERT_TRUE(eventually([&] { return all_voters(etcd_members(0), 3); }, 10s));
  EXPECT_FALSE(std::filesystem::exists(dir_ / plan_[3].id / "member"));
  EXPECT_TRUE(eventually([&] { return nodes_[0].cluster->members().size() == 3; }));
}

TEST_F(managed_test, a_port_in_use_and_a_missing_binary_are_clear_errors) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(plan_[0].clients);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  auto sys = akt::actor_system::launch("busy", {.logger = akt::make_discard_logger()}).value();
  ASSERT_TRUE(akt::remote::remoting::enable(*sys, {.secret = "cluster-test-secret-0123"}));
  auto busy = akt::cluster::cluster::enable(*sys, {.managed_etcd = managed(0, 1)});
  ::close(fd);
  ASSERT_FALSE(busy);
  EXPECT_NE(busy.error().message().find("clients-port"), std::string::npos) << busy.error().to_string();
  EXPECT_NE(busy.error().message().find("in use"), std::string::npos) << busy.error().to_string();

  auto options = managed(1, 2);
  options.binary = "/nonexistent/etcd";
  auto sys2 = akt::actor_system::launch("nobinary", {.logger = akt::make_discard_logger()}).value();
  ASSERT_TRUE(akt::remote::remoting::enable(*sys2, {.secret = "cluster-test-secret-0123"}));
  auto missing = akt::cluster::cluster::enable(*sys2, {.managed_etcd = options});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.code(), akt::errc::invalid_argument);
  EXPECT_NE(missing.error().message().find("/nonexistent/etcd"), std::string::npos)
      << missing.error().to_string();
}

TEST_F(managed_test, a_node_alone_founds_its_cluster_and_restarts_from_its_data) {
  {
    node alone = start(0, 1);
    ASSERT_NE(alone.cluster, nullptr);
    ASSERT_TRUE(alone.sys->spawn<akt_test::echo>("first-life"));
    ASSERT_TRUE(alone.sys->stop());
  }
  EXPECT_TRUE(std::filesystem::exists(dir_ / plan_[0].id / "member")) << "the last member keeps its data";
  node again = start(0, 1);
  ASSERT_NE(again.cluster, nullptr);
  EXPECT_EQ(etcd_members(0).size(), 1u);
  EXPECT_TRUE(again.sys->spawn<akt_test::echo>("second-life"));
}

// The pid of node i's etcd member process (found by its data directory).
pid_t etcd_pid_of(const std::filesystem::path& data_dir) {
  const std::string flag = "--data-dir=" + data_dir.string();
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string cmdline = akt::testkit::read_proc_file(entry.path() / "cmdline");  // empty if gone
    for (auto& c : cmdline) c = c == '\0' ? ' ' : c;
    if (cmdline.find(flag + " ") != std::string::npos)
      return static_cast<pid_t>(std::stoi(entry.path().filename()));
  }
  return -1;
}

TEST_F(managed_test, quorum_lost_is_said_plainly_and_the_cluster_comes_back) {
  for (std::size_t i = 0; i < 3; ++i) {
    nodes_.push_back(start(i, 3));
    ASSERT_NE(nodes_.back().cluster, nullptr);
  }
  ASSERT_TRUE(eventually([&] { return all_voters(etcd_members(0), 3); }, 20s));
  // Two of three members freeze: no quorum.
  const pid_t b = etcd_pid_of(dir_ / plan_[1].id), c = etcd_pid_of(dir_ / plan_[2].id);
  ASSERT_GT(b, 0);
  ASSERT_GT(c, 0);
  ::kill(b, SIGSTOP);
  ::kill(c, SIGSTOP);
  auto named = nodes_[0].sys->spawn<akt_test::echo>("needs-quorum");
  ::kill(b, SIGCONT);
  ::kill(c, SIGCONT);
  ASSERT_FALSE(named);
  EXPECT_EQ(named.code(), akt::errc::unavailable) << named.error().to_string();
  EXPECT_NE(named.error().message().find("quorum is lost"), std::string::npos) << named.error().message();
  EXPECT_TRUE(eventually([&] { return bool(nodes_[0].sys->spawn<akt_test::echo>("after-quorum")); }, 20s));
}

TEST_F(managed_test, a_killed_node_takes_its_member_down_and_the_others_keep_quorum_and_forget_its_names) {
  // node-0 and node-1 here, node-2 a process of its own that gets SIGKILL.
  std::string all;
  for (std::size_t i = 0; i < 3; ++i) {
    all += (all.empty() ? "" : ";") + plan_[i].id + "," + std::to_string(plan_[i].clients) + "," +
           std::to_string(plan_[i].peers);
  }
  nodes_.push_back(start(0, 3));
  nodes_.push_back(start(1, 3));
  ::setenv("AKT_PEER_NODES", all.c_str(), 1);
  ::setenv("AKT_PEER_ID", plan_[2].id.c_str(), 1);
  ::setenv("AKT_PEER_DATA", (dir_ / plan_[2].id).c_str(), 1);
  akt_test::peer_process killed("managed", {"doomed"}, "managed");
  ::unsetenv("AKT_PEER_NODES");
  ASSERT_FALSE(killed.address().empty());
  ASSERT_TRUE(eventually([&] { return all_voters(etcd_members(0), 3); }, 20s));
  ASSERT_TRUE(eventually([&] { return bool(nodes_[0].sys->lookup("doomed")); }));
  const pid_t its_etcd = etcd_pid_of(dir_ / plan_[2].id);
  ASSERT_GT(its_etcd, 0);
  killed.kill_now();
  // Its etcd dies with it (it was the node's child), the other two keep quorum.
  EXPECT_TRUE(eventually([&] { return ::kill(its_etcd, 0) != 0; }, 5s)) << "its member went with it";
  ASSERT_TRUE(eventually([&] { return !nodes_[0].sys->lookup("doomed"); }, 10s))
      << "its names went with its lease";
  EXPECT_TRUE(nodes_[1].sys->spawn<akt_test::echo>("with-two-of-three"));
  EXPECT_EQ(etcd_members(0).size(), 3u) << "a killed node keeps its member (it may come back with its data)";
}

TEST_F(managed_test, a_member_process_that_dies_is_started_again) {
  nodes_.push_back(start(0, 1));
  ASSERT_NE(nodes_[0].cluster, nullptr);
  const pid_t first = etcd_pid_of(dir_ / plan_[0].id);
  ASSERT_GT(first, 0);
  ::kill(first, SIGKILL);
  ASSERT_TRUE(eventually(
      [&] {
        const pid_t now = etcd_pid_of(dir_ / plan_[0].id);
        return now > 0 && now != first;
      },
      15s))
      << "the supervisor starts it again";
  EXPECT_TRUE(eventually([&] { return bool(nodes_[0].sys->spawn<akt_test::echo>("after-restart")); }, 15s));
}

TEST_F(managed_test, a_node_whose_member_was_removed_joins_again_with_a_fresh_member) {
  for (std::size_t i = 0; i < 3; ++i) {
    nodes_.push_back(start(i, 3));
    ASSERT_NE(nodes_.back().cluster, nullptr);
  }
  ASSERT_TRUE(eventually([&] { return all_voters(etcd_members(0), 3); }, 20s));
  std::uint64_t removed = 0;
  for (const auto& m : etcd_members(0)) {
    if (m.name == plan_[2].id) removed = m.id;
  }
  ASSERT_NE(removed, 0u);
  // An operator removes node-2's member (etcdctl member remove).
  akt::cluster::detail::etcd_client c({.endpoints = {"127.0.0.1:" + std::to_string(plan_[0].clients)}});
  // (etcd refuses removals as "unhealthy cluster" until every member has
  // been connected a few seconds: node-2 was just promoted.)
  akt::status gone = akt::error(akt::errc::timeout, "not tried");
  ASSERT_TRUE(eventually([&] { return bool(gone = c.member_remove(removed)); }, 20s))
      << gone.error().to_string();
  // Its etcd stops, finds itself removed: node-2 starts over and joins again.
  ASSERT_TRUE(eventually(
      [&] {
        const auto members = etcd_members(0);
        return all_voters(members, 3) && std::any_of(members.begin(), members.end(), [&](const auto& m) {
                 return m.name == plan_[2].id && m.id != removed;
               });
      },
      40s));
}

TEST_F(managed_test, members_with_mutual_tls_form_a_cluster_that_plain_clients_cannot_use) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Debian's gRPC 1.51 aborts inside the library (absl's optional<grpc_status_code>
  // assertion, "this->engaged_") in some runs while the nodes' TLS clients
  // connect to members still starting, at the sanitizers' pace: 2 of 4
  // sanitized CI runs on 2026-12-03, never in Release. Not our code: run in
  // Release only until it is traced (see the issue note).
  GTEST_SKIP() << "not run under sanitizers: a gRPC 1.51 internal assertion (see the comment)";
#endif
  // A CA and one certificate for 127.0.0.1 (server and client alike), by the openssl CLI.
  const auto certs = dir_ / "tls";
  std::filesystem::create_directories(certs);
  const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::string script =
      "cd '" + certs.string() + "' && printf 'subjectAltName=IP:127.0.0.1\\n' > san.cnf" +
      " && openssl req -x509" + key + " -keyout ca.key -out ca.pem -days 2 -subj /CN=akt-ca" +
      " && openssl req" + key + " -keyout node.key -out node.csr -subj /CN=127.0.0.1" +
      " && openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2" +
      " -extfile san.cnf -out node.pem";
  ASSERT_EQ(std::system(("(" + script + ") >/dev/null 2>&1").c_str()), 0)
      << "openssl could not make certificates";
  const akt::cluster::etcd_tls tls{.ca_file = (certs / "ca.pem").string(),
                                   .certificate_file = (certs / "node.pem").string(),
                                   .private_key_file = (certs / "node.key").string()};
  for (std::size_t i = 0; i < 2; ++i) {
    auto m = managed(i, 2);
    m.tls = tls;
    nodes_.push_back(akt_test::join_cluster(plan_[i].id, {}, {.managed_etcd = m, .name = "managed"}));
    ASSERT_NE(nodes_.back().cluster, nullptr);
  }
  ASSERT_TRUE(nodes_[0].sys->spawn<akt_test::echo>("over-tls"));
  EXPECT_TRUE(eventually([&] { return bool(nodes_[1].sys->lookup("over-tls")); }));
  // A client without TLS gets nothing: etcd's JSON gateway on the same port,
  // asked in plain HTTP, gives no answer (the TLS listener drops it). (Not through a
  // plain gRPC channel: Debian's gRPC 1.51 can trip an internal assertion
  // on a TLS server's answer, under load.)
  const std::string endpoint = "127.0.0.1:" + std::to_string(plan_[0].clients);
  const std::string plain = plain_http_post(plan_[0].clients, "/v3/cluster/member/list", "{}");
  EXPECT_EQ(plain.find("\"members\""), std::string::npos) << "a client without TLS read: " << plain;
  akt::cluster::detail::etcd_config with;
  with.endpoints = {endpoint};
  with.ca_file = tls.ca_file;
  with.certificate_file = tls.certificate_file;
  with.private_key_file = tls.private_key_file;
  akt::cluster::detail::etcd_client trusted(with);
  auto members = trusted.member_list();
  ASSERT_TRUE(members) << members.error().to_string();
  EXPECT_EQ(members->size(), 2u);
  EXPECT_TRUE(members->front().peer_urls.front().starts_with("https://"));
}

}  // namespace
