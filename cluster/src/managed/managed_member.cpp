#include "managed/managed_member.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <akt/detail/thread_name.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "etcd/etcd_client.hpp"

extern char** environ;

namespace akt::cluster::detail {

namespace {

using clock = std::chrono::steady_clock;

// Whether something listens on host:port already (bind says so).
bool port_in_use(const std::string& host, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  const bool busy = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno == EADDRINUSE;
  ::close(fd);
  return busy;
}

std::string join_members(const std::vector<etcd_member>& members, std::uint64_t self,
                         const std::string& self_name) {
  std::string out;
  for (const auto& m : members) {
    const std::string& n = m.id == self ? self_name : m.name;  // an added member not started yet has no name
    for (const auto& u : m.peer_urls) out += (out.empty() ? "" : ",") + n + "=" + u;
  }
  return out;
}

}  // namespace

std::unique_ptr<etcd_client> managed_member::client_for(std::vector<std::string> endpoints,
                                                        std::chrono::milliseconds timeout) const {
  etcd_config c;
  c.endpoints = std::move(endpoints);
  c.request_timeout = timeout;
  if (options_.tls) {
    c.ca_file = options_.tls->ca_file;
    c.certificate_file = options_.tls->certificate_file;
    c.private_key_file = options_.tls->private_key_file;
  }
  return std::make_unique<etcd_client>(std::move(c));
}

managed_member::managed_member(managed_etcd_options options, std::string cluster_name, akt::logger& log)
    : options_(std::move(options)), cluster_name_(std::move(cluster_name)), log_(log) {}

managed_member::~managed_member() {
  kill_process();
}

status managed_member::validate(const std::string& default_host) {
  auto bad = [](const std::string& what) { return error(errc::invalid_argument, "managed etcd: " + what); };
  if (!options_.discovery) return bad("no discovery provider (managed_etcd.discovery)");
  if (options_.data_dir.empty()) return bad("no data directory (managed_etcd.data_dir)");
  if (options_.clients_port == 0 || options_.peers_port == 0 || options_.clients_port == options_.peers_port)
    return bad("clients_port and peers_port must be two different ports");
  if (::access(options_.binary.c_str(), X_OK) != 0) {
    return bad("no etcd binary at " + options_.binary +
               " (install Debian's etcd-server, or set managed_etcd.binary)");
  }
  if (const auto& tls = options_.tls) {
    for (const std::string* f : {&tls->ca_file, &tls->certificate_file, &tls->private_key_file}) {
      if (f->empty()) return bad("tls needs ca_file, certificate_file and private_key_file (mutual TLS)");
      if (::access(f->c_str(), R_OK) != 0) return bad("tls: cannot read '" + *f + "'");
    }
  }
  host_ = options_.host.empty() ? default_host : options_.host;
  for (auto [label, port] :
       {std::pair{"clients-port", options_.clients_port}, {"peers-port", options_.peers_port}}) {
    if (port_in_use(host_, port)) {
      return error(errc::unavailable, "managed etcd: " + std::string(label) + " " + host_ + ":" +
                                          std::to_string(port) +
                                          " is in use (another etcd, or another node?)");
    }
  }
  return options_.discovery->start();
}

bool managed_member::has_data() const {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::path(options_.data_dir) / "member", ec);
}

std::vector<std::string> managed_member::peer_endpoints() const {
  std::lock_guard g(mu_);
  return peers_;
}

// ---------------------------------------------------------------- start

result<std::vector<std::string>> managed_member::start() {
  const auto deadline = clock::now() + options_.join_timeout;
  if (!has_data()) {
    if (auto s = find_or_found(deadline); !s) return std::move(s).error();
  } else {
    // A member that ran here before: it knows its cluster; discovery gives the others' endpoints.
    if (auto nodes = options_.discovery->nodes()) {
      std::lock_guard g(mu_);
      for (const auto& n : *nodes) {
        if (n.port(discovery::clients_port) != 0 &&
            !(n.host == host_ && n.port(discovery::peers_port) == options_.peers_port))
          peers_.push_back(n.host + ":" + std::to_string(n.port(discovery::clients_port)));
      }
    }
    log_.info("managed etcd: restarting the member in " + options_.data_dir);
  }
  supervisor_ = std::thread([this] {
    akt::detail::name_this_thread("akt-etcd-member");
    supervise();
  });
  status up = wait_ready(deadline);
  if (up) up = promote_self(deadline);
  if (!up) {
    // A learner that never came up would block every later join (etcd
    // takes one learner at a time): take it out again.
    std::uint64_t id;
    {
      std::lock_guard g(mu_);
      id = member_id_;
    }
    if (id != 0 && !peer_endpoints().empty())
      (void)client_for(peer_endpoints(), std::chrono::milliseconds(2000))->member_remove(id);
    return std::move(up).error();
  }
  // A data directory of another cluster: its member answers, but not for the discovered cluster.
  auto mine = client_for({client_endpoint()}, std::chrono::milliseconds(1000))->status_of();
  for (const auto& peer : peer_endpoints()) {
    auto theirs = client_for({peer}, std::chrono::milliseconds(500))->status_of();
    if (mine && theirs && mine->cluster_id != theirs->cluster_id) {
      return error(errc::invalid_argument, "managed etcd: the data directory " + options_.data_dir +
                                               " holds a member of another etcd cluster (" +
                                               std::to_string(mine->cluster_id) + "; " + peer + " is in " +
                                               std::to_string(theirs->cluster_id) +
                                               "): remove the directory to join afresh");
    }
  }
  std::vector<std::string> endpoints{client_endpoint()};
  for (auto& p : peer_endpoints()) endpoints.push_back(std::move(p));
  return endpoints;
}

status managed_member::find_or_found(clock::time_point deadline) {
  auto pause = std::chrono::milliseconds(100);
  std::string last_reason = "no attempt";
  while (clock::now() < deadline) {
    auto nodes = options_.discovery->nodes();
    if (!nodes) {
      last_reason = "discovery: " + nodes.error().message();
    } else {
      std::string self_id = options_.id;
      std::vector<std::string> others;
      std::string lowest;
      for (const auto& n : *nodes) {
        const bool is_self = options_.id.empty()
                                 ? n.host == host_ && n.port(discovery::peers_port) == options_.peers_port
                                 : n.id == options_.id;
        if (is_self) {
          self_id = n.id;
        } else if (n.port(discovery::clients_port) != 0) {
          others.push_back(n.host + ":" + std::to_string(n.port(discovery::clients_port)));
        }
        if (lowest.empty() || n.id < lowest) lowest = n.id;
      }
      if (!self_id.empty() && (lowest.empty() || self_id < lowest))
        lowest = self_id;  // itself, listed or not
      if (self_id.empty()) {
        return error(errc::invalid_argument, "managed etcd: this node (" + host_ + " with peers-port " +
                                                 std::to_string(options_.peers_port) +
                                                 ") is not among the discovered nodes; set managed_etcd.id");
      }
      name_ = self_id;
      {
        std::lock_guard g(mu_);
        peers_ = others;
      }
      // A cluster exists where any other node's etcd answers.
      for (const auto& peer : others) {
        auto probe = client_for({peer}, std::chrono::milliseconds(500));
        if (auto members = probe->member_list()) return add_self(others, deadline);
      }
      if (self_id <= lowest) {
        log_.info("managed etcd: no etcd answers at the " + std::to_string(others.size()) +
                  " other discovered nodes and this node has the lowest id (" + self_id +
                  "): creating the cluster");
        std::lock_guard g(mu_);
        initial_cluster_ = name_ + "=" + peer_url();
        new_cluster_ = true;
        return {};
      }
      last_reason = "waiting for " + lowest + " (the lowest id) to create the cluster";
    }
    std::this_thread::sleep_for(std::min<clock::duration>(pause, deadline - clock::now()));
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
  }
  return error(errc::unavailable, "managed etcd: no cluster to join and none created within " +
                                      std::to_string(options_.join_timeout.count()) + " s (" + last_reason +
                                      ")");
}

status managed_member::add_self(const std::vector<std::string>& endpoints, clock::time_point deadline) {
  auto cluster = client_for(endpoints, std::chrono::milliseconds(2000));
  auto pause = std::chrono::milliseconds(100);
  std::string why;
  while (clock::now() < deadline) {
    // Added already (an earlier attempt whose answer was lost)?
    if (auto members = cluster->member_list()) {
      for (const auto& m : *members) {
        if (std::find(m.peer_urls.begin(), m.peer_urls.end(), peer_url()) == m.peer_urls.end()) continue;
        if (!m.name.empty()) {
          // A member of ours from an earlier life (it started, so it has a
          // name) whose data is gone: it can never come back; replace it.
          log_.warn("managed etcd: removing this node's earlier member " + m.name + " (its data is gone)");
          (void)cluster->member_remove(m.id);
          break;
        }
        {
          std::lock_guard g(mu_);
          member_id_ = m.id;
          initial_cluster_ = join_members(*members, m.id, name_);
          new_cluster_ = false;
          return {};
        }
      }
    }
    auto added = cluster->member_add(peer_url(), /*learner=*/true);
    if (added) {
      log_.info("managed etcd: added as a learner to the cluster at " + endpoints.front());
      std::lock_guard g(mu_);
      member_id_ = added->first.id;
      initial_cluster_ = join_members(added->second, added->first.id, name_);
      new_cluster_ = false;
      return {};
    }
    // Another node is joining (etcd takes one learner at a time) or the
    // cluster is electing: try again shortly.
    why = added.error().message();
    std::this_thread::sleep_for(std::min<clock::duration>(pause, deadline - clock::now()));
    pause = std::min(pause * 2, std::chrono::milliseconds(500));
  }
  return error(errc::unavailable,
               "managed etcd: could not join the cluster at " + endpoints.front() + ": " + why);
}

status managed_member::promote_self(clock::time_point deadline) {
  std::uint64_t id;
  {
    std::lock_guard g(mu_);
    id = member_id_;
  }
  if (id == 0) return {};  // founded or restarted: a voter already
  auto cluster = client_for(
      [&] {
        auto e = peer_endpoints();
        e.push_back(client_endpoint());
        return e;
      }(),
      std::chrono::milliseconds(2000));
  std::string why;
  while (clock::now() < deadline) {
    {
      std::lock_guard g(mu_);
      if (stopping_) return error(errc::not_running, "managed etcd: stopping");
    }
    auto s = cluster->member_promote(id);
    // "can only promote a learner member": a voter already (an earlier
    // promotion whose answer was lost); "... which is in sync with
    // leader": still catching up, try again.
    const bool voter_already =
        !s && s.error().message().find("can only promote a learner member") != std::string::npos &&
        s.error().message().find("in sync") == std::string::npos;
    if (s || voter_already) {
      log_.info("managed etcd: " + name_ + " is a voting member now");
      std::lock_guard g(mu_);
      member_id_ = 0;
      return {};
    }
    why = s.error().message();  // "not in sync with leader": catching up
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return error(errc::unavailable, "managed etcd: the learner " + name_ + " was not promoted: " + why);
}

status managed_member::wait_ready(clock::time_point deadline) {
  std::string why = "not started";
  while (clock::now() < deadline) {
    {
      std::lock_guard g(mu_);
      if (stopping_) return error(errc::not_running, "managed etcd: stopping");
    }
    auto s = client_for({client_endpoint()}, std::chrono::milliseconds(300))->status_of();
    if (s) return {};
    why = s.error().message();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return error(errc::unavailable, "managed etcd: the member at " + client_endpoint() +
                                      " did not come up within " +
                                      std::to_string(options_.join_timeout.count()) + " s (" + why +
                                      "); its log: " + options_.data_dir + ".log");
}

// ---------------------------------------------------------------- the process

pid_t managed_member::spawn_process() {
  std::vector<std::string> args = {options_.binary,
                                   "--name=" + name_,
                                   "--data-dir=" + options_.data_dir,
                                   "--listen-client-urls=" + client_url(),
                                   "--advertise-client-urls=" + client_url(),
                                   "--listen-peer-urls=" + peer_url(),
                                   "--initial-advertise-peer-urls=" + peer_url(),
                                   "--initial-cluster-token=akt-" + cluster_name_,
                                   "--logger=zap",
                                   "--log-level=warn"};
  if (const auto& tls = options_.tls) {
    // Mutual TLS both ways: clients (nodes) and peers (members) alike must
    // show a certificate signed by the cluster's CA.
    for (const char* side : {"", "peer-"}) {
      args.push_back(std::string("--") + side + "cert-file=" + tls->certificate_file);
      args.push_back(std::string("--") + side + "key-file=" + tls->private_key_file);
      args.push_back(std::string("--") + side + "trusted-ca-file=" + tls->ca_file);
      args.push_back(std::string("--") + side + "client-cert-auth");
    }
  }
  {
    std::lock_guard g(mu_);
    if (!initial_cluster_.empty()) {
      args.push_back("--initial-cluster=" + initial_cluster_);
      args.push_back(std::string("--initial-cluster-state=") + (new_cluster_ ? "new" : "existing"));
    }
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log_file = options_.data_dir + ".log";
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(options_.data_dir).parent_path(), ec);
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child != 0) return child;
  // The child: only async-signal-safe calls until exec. It dies with the
  // node (this thread is the supervisor's, which lives as long as it).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  const int null = ::open("/dev/null", O_RDONLY);
  const int out = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ::dup2(null, STDIN_FILENO);
  ::dup2(out, STDOUT_FILENO);
  ::dup2(out, STDERR_FILENO);
  ::close_range(3, ~0U, 0);
  ::execve(argv[0], argv.data(), environ);
  ::_exit(127);
}

bool managed_member::log_says_removed() const {
  // Only the end of the log says why the process just exited: read its last
  // 8 KiB, not the whole file (it grows over the member's life).
  std::ifstream in(options_.data_dir + ".log", std::ios::binary);
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size <= 0) return false;
  const std::streamoff from = std::max<std::streamoff>(0, size - 8192);
  std::string tail(static_cast<std::size_t>(size - from), '\0');
  in.seekg(from);
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  return tail.find("removed from the cluster") != std::string::npos ||
         tail.find("has already been removed") != std::string::npos;
}

void managed_member::supervise() {
  auto backoff = std::chrono::milliseconds(500);
  for (;;) {
    const pid_t child = spawn_process();
    {
      std::lock_guard g(mu_);
      pid_ = child;
      initial_cluster_.clear();  // later launches restart from the data
    }
    changed_.notify_all();
    int wstatus = 0;
    const auto began = clock::now();
    while (::waitpid(child, &wstatus, 0) < 0 && errno == EINTR) {
    }
    std::unique_lock g(mu_);
    pid_ = -1;
    changed_.notify_all();
    if (stopping_) return;
    if (clock::now() - began > std::chrono::seconds(60)) backoff = std::chrono::milliseconds(500);
    log_.warn("managed etcd: the member process exited (" +
              (WIFSIGNALED(wstatus) ? "signal " + std::to_string(WTERMSIG(wstatus))
                                    : "status " + std::to_string(WEXITSTATUS(wstatus))) +
              "); starting it again in " + std::to_string(backoff.count()) +
              " ms; its log: " + options_.data_dir + ".log");
    if (changed_.wait_for(g, backoff, [&] { return stopping_; })) return;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
    if (log_says_removed()) {
      // Removed from the cluster (by an operator, or as a dead member):
      // start over with an empty directory and join again.
      g.unlock();
      log_.warn(
          "managed etcd: this member was removed from the cluster; joining again with a fresh data "
          "directory");
      std::error_code ec;
      std::filesystem::remove_all(options_.data_dir, ec);
      std::filesystem::remove(options_.data_dir + ".log", ec);
      if (auto s = add_self(peer_endpoints(), clock::now() + options_.join_timeout); !s) {
        log_.warn(s.error().message());
      }
      if (promoter_.joinable()) promoter_.join();
      promoter_ = std::thread([this] {
        akt::detail::name_this_thread("akt-etcd-promo");
        (void)promote_self(clock::now() + options_.join_timeout);
      });
    }
  }
}

void managed_member::kill_process() {
  std::unique_lock g(mu_);
  stopping_ = true;
  if (pid_ > 0) ::kill(pid_, SIGTERM);
  changed_.notify_all();
  if (!changed_.wait_for(g, std::chrono::seconds(10), [&] { return pid_ < 0; }) && pid_ > 0) {
    ::kill(pid_, SIGKILL);
  }
  g.unlock();
  if (supervisor_.joinable()) supervisor_.join();
  if (promoter_.joinable()) promoter_.join();
}

std::string managed_member::diagnose() const {
  auto here = client_for({client_endpoint()}, std::chrono::milliseconds(500))->status_of();
  if (!here) {
    return "this node's etcd member at " + client_endpoint() +
           " does not answer (it is being restarted; its log: " + options_.data_dir + ".log)";
  }
  if (here->leader == 0) {
    return "etcd has no leader: quorum is lost (fewer than half of the members answer). Start the stopped "
           "nodes again; if they are gone for good, see docs/operations.md, \"Quorum lost\"";
  }
  return {};
}

void managed_member::leave() {
  auto here = client_for({client_endpoint()}, std::chrono::milliseconds(2000));
  auto status = here->status_of();
  bool removed = false;
  if (status) {
    auto members = here->member_list();
    if (members && members->size() > 1) {
      auto others = client_for(
          peer_endpoints().empty() ? std::vector<std::string>{client_endpoint()} : peer_endpoints(),
          std::chrono::milliseconds(3000));
      // etcd refuses a removal as "unhealthy cluster" until every member
      // has been connected for its 5 s health interval (a node leaving right
      // after a join); a member that is down makes it refuse for good (the
      // removal would cost quorum).
      akt::status s = others->member_remove(status->member_id);
      for (const auto until = clock::now() + std::chrono::seconds(6);
           !s && s.error().message().find("unhealthy cluster") != std::string::npos &&
           clock::now() < until;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        s = others->member_remove(status->member_id);
      }
      if (s) {
        removed = true;
        log_.info("managed etcd: " + name_ + " left the etcd cluster");
      } else {
        log_.warn("managed etcd: could not leave the etcd cluster (" + s.error().message() +
                  "); the member stays, its data is kept");
      }
    } else if (members) {
      log_.info("managed etcd: the last member keeps its data (" + options_.data_dir + ")");
    }
  }
  kill_process();
  if (removed) {
    std::error_code ec;
    std::filesystem::remove_all(options_.data_dir, ec);
  }
}

}  // namespace akt::cluster::detail
