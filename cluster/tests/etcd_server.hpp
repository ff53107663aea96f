// A real etcd for the cluster tests: started on free loopback ports with a
// fresh data directory, ready when it answers a status call (bounded
// wait), killed and cleaned up at the end. Optionally it serves its clients
// over TLS (etcd_server_tls), and it can be stopped and started again on
// the same ports and data directory.
//
// A first start that fails (the process exits: another test process took
// one of its ports first) is tried again on new ports, up to three times;
// what etcd said on stderr is kept in its directory and quoted when it
// gives up.
#pragma once

#include <akt/testkit/child_process.hpp>
#include <akt/testkit/ports.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "etcd/etcd_client.hpp"

extern char** environ;

namespace akt_test {

using akt::testkit::spawn_child;

inline std::uint16_t free_port() {
  return akt::testkit::free_tcp_port();
}

// PEM files for an etcd that serves its clients over TLS (its peers stay
// on plain HTTP: the tests run them on loopback).
struct etcd_server_tls {
  std::string certificate_file;  // the server's certificate (its SAN must cover 127.0.0.1)
  std::string private_key_file;
  std::string ca_file;  // the authority that signed it: what the readiness probe trusts
  // Set: etcd requires client certificates signed by this authority
  // (--trusted-ca-file; etcd 3.4 then asks every client for one), and the
  // readiness probe presents the client certificate below.
  std::string client_ca_file{};
  std::string client_certificate_file{};
  std::string client_private_key_file{};
};

class etcd_server {
 public:
  // A single-member etcd, started at once.
  etcd_server() : etcd_server(free_port(), free_port(), "akt-test", "") { first_start(); }
  // A single-member etcd serving its clients over TLS, started at once.
  explicit etcd_server(etcd_server_tls tls) : etcd_server(free_port(), free_port(), "akt-test", "") {
    tls_ = std::move(tls);
    first_start();
  }
  // A member of a larger cluster (`initial_cluster`: "name=http://...,..."),
  // started by the caller (all members at once: each waits for a quorum).
  etcd_server(std::uint16_t client_port, std::uint16_t peer_port, std::string name,
              std::string initial_cluster)
      : client_port_(client_port),
        peer_port_(peer_port),
        name_(std::move(name)),
        initial_cluster_(std::move(initial_cluster)) {
    set_dir();
  }
  ~etcd_server() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    std::filesystem::remove(log_file(), ec);
  }
  etcd_server(const etcd_server&) = delete;
  etcd_server& operator=(const etcd_server&) = delete;

  std::string endpoint() const { return "127.0.0.1:" + std::to_string(client_port_); }

  std::string peer_url() const { return "http://127.0.0.1:" + std::to_string(peer_port_); }

  const std::optional<etcd_server_tls>& tls() const { return tls_; }

  // Starts etcd; again after stop(), it keeps its data directory and ports.
  void start(bool wait = true) {
    const std::string client =
        (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(client_port_);
    const std::string peer = peer_url();
    std::vector<std::string> args = {
        AKT_ETCD_BINARY,
        "--name=" + name_,
        "--data-dir=" + dir_.string(),
        "--listen-client-urls=" + client,
        "--advertise-client-urls=" + client,
        "--listen-peer-urls=" + peer,
        "--initial-advertise-peer-urls=" + peer,
        "--initial-cluster=" + (initial_cluster_.empty() ? name_ + "=" + peer : initial_cluster_),
        "--initial-cluster-token=akt-" + std::to_string(::getpid()),
        "--log-level=error",
        "--logger=zap"};
    if (tls_) {
      args.push_back("--cert-file=" + tls_->certificate_file);
      args.push_back("--key-file=" + tls_->private_key_file);
      if (!tls_->client_ca_file.empty()) args.push_back("--trusted-ca-file=" + tls_->client_ca_file);
    }
    std::filesystem::create_directories(log_file().parent_path());
    const int log = ::open(log_file().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    pid_ = spawn_child(std::move(args), -1, -1, log);
    if (log >= 0) ::close(log);
    if (pid_ < 0) throw std::runtime_error("cannot start etcd (" AKT_ETCD_BINARY ")");
    if (wait) wait_ready();
  }

  void wait_ready() {
    // Ready once it answers (bounded). A fresh client each time: a gRPC
    // channel that failed to connect waits before it tries again.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(40);
    while (std::chrono::steady_clock::now() < until) {
      akt::cluster::detail::etcd_client probe({.endpoints = {endpoint()},
                                               .ca_file = tls_ ? tls_->ca_file : std::string(),
                                               .certificate_file = tls_ ? tls_->client_certificate_file : "",
                                               .private_key_file = tls_ ? tls_->client_private_key_file : "",
                                               .request_timeout = std::chrono::milliseconds(300)});
      if (probe.server_version()) return;
      if (exited()) throw start_failed("etcd on " + endpoint() + " exited at start: " + log_tail());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    stop();
    throw std::runtime_error("etcd did not become ready on " + endpoint() + " within 40 s: " + log_tail());
  }

  // The first start failed: the process is gone.
  struct start_failed : std::runtime_error {
    using std::runtime_error::runtime_error;
  };

  // Before a first start that is tried again: new free ports, a new directory.
  void move_to_new_ports(std::uint16_t client_port, std::uint16_t peer_port, std::string initial_cluster) {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    client_port_ = client_port;
    peer_port_ = peer_port;
    initial_cluster_ = std::move(initial_cluster);
    set_dir();
  }

  // A test's etcd holds nothing worth a graceful shutdown (etcd 3.4 takes
  // seconds over SIGTERM): killed, and its data kept for a restart.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void freeze() { ::kill(pid_, SIGSTOP); }
  void thaw() { ::kill(pid_, SIGCONT); }

 private:
  void set_dir() {
    dir_ = std::filesystem::temp_directory_path() /
           ("akt-etcd-" + std::to_string(::getpid()) + "-" + std::to_string(client_port_));
    std::filesystem::remove_all(dir_);
  }
  // Beside the data directory (etcd refuses a data directory it did not make).
  std::filesystem::path log_file() const { return dir_.string() + ".log"; }

  bool exited() {
    if (pid_ <= 0) return true;
    if (::waitpid(pid_, nullptr, WNOHANG) != pid_) return false;
    pid_ = -1;
    return true;
  }

  // The last lines etcd wrote to stderr, for an error message.
  std::string log_tail() const {
    std::ifstream f(log_file());
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (text.size() > 600) text = "..." + text.substr(text.size() - 600);
    return text.empty() ? "(etcd wrote nothing)" : text;
  }

  void first_start() {
    for (int attempt = 1;; ++attempt) {
      try {
        start();
        return;
      } catch (const start_failed&) {
        if (attempt == 3) throw;
        move_to_new_ports(free_port(), free_port(), "");
      }
    }
  }

  std::uint16_t client_port_ = 0;
  std::uint16_t peer_port_ = 0;
  std::string name_;
  std::string initial_cluster_;
  std::filesystem::path dir_;
  std::optional<etcd_server_tls> tls_;
  pid_t pid_ = -1;
};

// Three etcd members on loopback, one cluster.
class etcd_cluster {
 public:
  // Tried again on new ports when a member exits at start (a port taken by
  // another test process); one that never answers is not tried again.
  etcd_cluster() {
    for (int attempt = 1;; ++attempt) {
      std::string initial;
      std::vector<std::pair<std::uint16_t, std::uint16_t>> ports;
      for (int i = 0; i < 3; ++i) {
        ports.emplace_back(free_port(), free_port());
        initial += (i == 0 ? "" : ",") + std::string("m") + std::to_string(i) +
                   "=http://127.0.0.1:" + std::to_string(ports.back().second);
      }
      for (int i = 0; i < 3; ++i) {
        if (members_.size() == 3) {
          members_[i]->move_to_new_ports(ports[i].first, ports[i].second, initial);
        } else {
          members_.push_back(std::make_unique<etcd_server>(ports[i].first, ports[i].second,
                                                           "m" + std::to_string(i), initial));
        }
      }
      try {
        for (auto& m : members_) m->start(/*wait=*/false);
        for (auto& m : members_) m->wait_ready();
        return;
      } catch (const etcd_server::start_failed&) {
        if (attempt == 3) throw;
      }
    }
  }
  etcd_server& member(int i) { return *members_[static_cast<std::size_t>(i)]; }
  // Every member killed (data kept), then started again at once: each
  // waits for a quorum of the others, as at the first start.
  void stop_all() {
    for (auto& m : members_) m->stop();
  }
  void start_all() {
    for (auto& m : members_) m->start(/*wait=*/false);
    for (auto& m : members_) m->wait_ready();
  }
  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (auto& m : members_) out.push_back(m->endpoint());
    return out;
  }

 private:
  std::vector<std::unique_ptr<etcd_server>> members_;
};

}  // namespace akt_test
