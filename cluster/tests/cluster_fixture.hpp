// What the cluster tests share: bounded polling, nodes in this process
// (a system with remoting and the cluster, its membership events
// recorded), and nodes in processes of their own (akt_cluster_test_peer),
// driven by one-line commands with bounded waits.
#pragma once

#include <akt/cluster/cluster.hpp>
#include <akt/remote/remoting.hpp>

#include <gtest/gtest.h>

#include <google/protobuf/wrappers.pb.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "etcd_server.hpp"

namespace akt_test {

using namespace std::chrono_literals;

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return pred();
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// Records the cluster's events in order (an event-stream subscriber).
struct recorder {
  std::mutex mu;
  std::vector<std::string> seen;  // "member_joined 127.0.0.1:1234"
  std::vector<std::string> snapshot() {
    std::lock_guard g(mu);
    return seen;
  }
};

// Answers a StringValue with "<its path>:<text>" (the peers' "echo" kind too).
class echo final : public akt::actor {
 public:
  void receive(akt::context& ctx) override {
    if (auto* s = ctx.message<google::protobuf::StringValue>()) {
      google::protobuf::StringValue answer;
      answer.set_value(ctx.self().path() + ":" + s->value());
      (void)ctx.reply(answer);
    }
  }
};

inline google::protobuf::StringValue text(const std::string& s) {
  google::protobuf::StringValue v;
  v.set_value(s);
  return v;
}

struct node {
  std::unique_ptr<akt::actor_system> sys;
  akt::remote::remoting* remoting = nullptr;
  akt::cluster::cluster* cluster = nullptr;
  std::shared_ptr<recorder> events = std::make_shared<recorder>();
};

// A node in this process: remoting with a shared secret, the "echo" kind
// registered (and spawnable by peers), the cluster on `etcd`.
inline node join_cluster(const std::string& name, std::vector<std::string> endpoints,
                         akt::cluster::cluster_options extra = {}) {
  node n;
  // AKT_TEST_LOG=1 shows the nodes' logs when a test needs explaining.
  auto logger = std::getenv("AKT_TEST_LOG") != nullptr ? akt::make_stderr_logger(akt::log_level::debug)
                                                       : akt::make_discard_logger();
  n.sys = akt::actor_system::launch(name, {.logger = logger}).value();
  n.sys->registry().register_message<google::protobuf::StringValue>();
  n.sys->registry().register_kind<echo>("echo");
  auto ev = n.events;
  auto sub = n.sys->spawn_fn(akt::spawn_options{}, [ev](akt::context& ctx) {
    if (auto* e = ctx.message<akt::system_event>()) {
      if (e->kind == akt::event_kind::member_joined || e->kind == akt::event_kind::member_left ||
          e->kind == akt::event_kind::leader_changed) {
        std::lock_guard g(ev->mu);
        ev->seen.push_back(std::string(akt::to_string(e->kind)) + " " +
                           e->detail.substr(0, e->detail.find(": ")));
      }
    }
  });
  EXPECT_TRUE(n.sys->subscribe(*sub));
  n.remoting = akt::remote::remoting::enable(*n.sys, {.secret = "cluster-test-secret-0123",
                                                      .permissions = {.spawnable_kinds = {"echo"}}})
                   .value();
  extra.etcd.endpoints = std::move(endpoints);
  if (extra.name.empty()) extra.name = "shop";
  if (extra.lease_ttl == std::chrono::seconds(5)) extra.lease_ttl = 2s;
  auto c = akt::cluster::cluster::enable(*n.sys, extra);
  EXPECT_TRUE(c) << c.error().to_string();
  n.cluster = c ? *c : nullptr;
  return n;
}

// A node in another process (cluster/tests/peer/cluster_peer.cpp).
class peer_process {
 public:
  peer_process(const std::string& etcd, const std::vector<std::string>& names,
               const std::string& cluster = "shop") {
    int out[2], in[2];
    EXPECT_EQ(::pipe(out), 0);
    EXPECT_EQ(::pipe(in), 0);
    std::vector<std::string> args = {AKT_CLUSTER_TEST_PEER, etcd, cluster, "2"};
    args.insert(args.end(), names.begin(), names.end());
    pid_ = spawn_child(std::move(args), in[0], out[1]);
    EXPECT_GT(pid_, 0);
    ::close(out[1]);
    ::close(in[0]);
    ::fcntl(in[1], F_SETFD, FD_CLOEXEC);
    ::fcntl(out[0], F_SETFD, FD_CLOEXEC);
    to_child_ = in[1];
    from_child_ = out[0];
    const std::string ready = read_line(20s);
    EXPECT_TRUE(ready.starts_with("READY ")) << "the peer said: " << ready;
    if (ready.starts_with("READY ")) address_ = ready.substr(6);
  }
  ~peer_process() { kill_now(); }
  peer_process(const peer_process&) = delete;
  peer_process& operator=(const peer_process&) = delete;

  const std::string& address() const { return address_; }

  // Sends one command and gives its one-line answer ("" when none came in time).
  std::string command(const std::string& line, std::chrono::milliseconds timeout = 10s) {
    const std::string with_newline = line + "\n";
    if (::write(to_child_, with_newline.data(), with_newline.size()) !=
        static_cast<ssize_t>(with_newline.size()))
      return "";
    return read_line(timeout);
  }

  // An orderly stop: "quit", then waits (bounded) for the process to end.
  bool quit(std::chrono::milliseconds timeout = 10s) {
    if (::write(to_child_, "quit\n", 5) != 5) return false;
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        close_pipes();
        return true;
      }
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  // SIGSTOP / SIGCONT: a frozen process keeps its sockets open and says nothing.
  void freeze() { ::kill(pid_, SIGSTOP); }
  void thaw() { ::kill(pid_, SIGCONT); }

  void kill_now() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    close_pipes();
  }

 private:
  void close_pipes() {
    if (to_child_ >= 0) ::close(to_child_);
    if (from_child_ >= 0) ::close(from_child_);
    to_child_ = from_child_ = -1;
  }

  std::string read_line(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd p{from_child_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[512];
      const ssize_t n = ::read(from_child_, buf, sizeof buf);
      if (n <= 0) return "";
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }

  pid_t pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
  std::string address_;
  std::string buffer_;
};

}  // namespace akt_test
