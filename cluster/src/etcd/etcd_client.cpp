#include "etcd/etcd_client.hpp"

#include <grpcpp/grpcpp.h>
#include <akt/detail/thread_name.hpp>

#include <fstream>
#include <random>
#include <sstream>

#include "etcd.grpc.pb.h"

namespace akt::cluster::detail {

namespace pb = etcdserverpb;
using clock = std::chrono::steady_clock;

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

namespace {

etcd_kv from_pb(const pb::KeyValue& kv) {
  return etcd_kv{kv.key(), kv.value(), kv.create_revision(), kv.mod_revision(), kv.lease()};
}

bool unavailable(const grpc::Status& s) {
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
      s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
    return true;
  // etcd answers a request it could not commit in time (no quorum, a leader
  // election) with its server's own timeout, not always as UNAVAILABLE: in
  // CI a claim under lost quorum came back UNKNOWN "context deadline
  // exceeded". Those are etcd being unable to serve now, not a refusal.
  const std::string& m = s.error_message();
  for (const char* transient : {"context deadline exceeded", "request timed out", "leader changed",
                                "no leader", "too many requests"}) {
    if (m.find(transient) != std::string::npos) return true;
  }
  return false;
}

bool token_expired(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
         s.error_message().find("invalid auth token") != std::string::npos;
}

std::string read_file(const std::string& path, bool& ok) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  ok = static_cast<bool>(in);
  return ss.str();
}

}  // namespace

etcd_client::etcd_client(etcd_config config) : config_(std::move(config)) {
  endpoints_.resize(config_.endpoints.size());
  // Each client starts at an endpoint of its own: a cluster's keep-alives
  // and watches spread over the members instead of all landing on the first.
  if (!config_.endpoints.empty()) current_ = std::random_device{}() % config_.endpoints.size();
}

etcd_client::~etcd_client() = default;

// gRPC stubs are safe for concurrent calls: one set per endpoint serves
// every call, with no allocation per call.
struct etcd_client::endpoint {
  explicit endpoint(const std::shared_ptr<grpc::Channel>& c)
      : channel(c),
        kv(pb::KV::NewStub(c)),
        lease(pb::Lease::NewStub(c)),
        watch(pb::Watch::NewStub(c)),
        maintenance(pb::Maintenance::NewStub(c)),
        cluster(pb::Cluster::NewStub(c)),
        auth(pb::Auth::NewStub(c)) {}
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::KV::Stub> kv;
  std::unique_ptr<pb::Lease::Stub> lease;
  std::unique_ptr<pb::Watch::Stub> watch;
  std::unique_ptr<pb::Maintenance::Stub> maintenance;
  std::unique_ptr<pb::Cluster::Stub> cluster;
  std::unique_ptr<pb::Auth::Stub> auth;
};

std::shared_ptr<etcd_client::endpoint> etcd_client::endpoint_at(std::size_t i) {
  std::lock_guard g(mu_);
  if (!endpoints_[i]) {
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    if (!config_.ca_file.empty()) {
      grpc::SslCredentialsOptions tls;
      bool ok = true;
      tls.pem_root_certs = read_file(config_.ca_file, ok);
      if (!config_.certificate_file.empty()) {
        tls.pem_cert_chain = read_file(config_.certificate_file, ok);
        tls.pem_private_key = read_file(config_.private_key_file, ok);
      }
      credentials = grpc::SslCredentials(tls);
    } else {
      credentials = grpc::InsecureChannelCredentials();
    }
    grpc::ChannelArguments args;
    // Reconnect soon after etcd comes back (gRPC waits up to 20 s by default).
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1000);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    // A member that freezes keeps its connection open: pings find it (every
    // 5 s, etcd's least allowed interval), so a watch on it ends and moves on.
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 5000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 2000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    // Listings are paged (get_prefix), but a page of large values may
    // still pass gRPC's 4 MiB default.
    args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
    endpoints_[i] =
        std::make_shared<endpoint>(grpc::CreateCustomChannel(config_.endpoints[i], credentials, args));
  }
  return endpoints_[i];
}

void etcd_client::prepare(grpc::ClientContext& context, clock::time_point deadline) {
  context.set_deadline(std::chrono::system_clock::now() + (deadline - clock::now()));
  std::lock_guard g(mu_);
  if (!token_.empty()) context.AddMetadata("token", token_);
}

status etcd_client::authenticate(std::size_t i, clock::time_point deadline) {
  auto ep = endpoint_at(i);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + (deadline - clock::now()));
  pb::AuthenticateRequest request;
  request.set_name(config_.username);
  request.set_password(config_.password);
  pb::AuthenticateResponse response;
  const grpc::Status s = ep->auth->Authenticate(&context, request, &response);
  if (!s.ok()) {
    return error(unavailable(s) ? errc::unavailable : errc::invalid_argument,
                 "etcd at " + config_.endpoints[i] + " refused the user '" + config_.username +
                     "': " + s.error_message());
  }
  std::lock_guard g(mu_);
  token_ = response.token();
  return {};
}

template <class Call>
status etcd_client::with_failover(const char* what, etcd_operation op, Call&& call) {
  const auto started = clock::now();
  status s = failover(what, std::forward<Call>(call));
  if (config_.metrics != nullptr) config_.metrics->record(op, clock::now() - started, !s);
  return s;
}

template <class Call>
status etcd_client::failover(const char* what, Call&& call) {
  if (config_.endpoints.empty()) return error(errc::invalid_argument, "no etcd endpoints are configured");
  const auto deadline = clock::now() + config_.request_timeout;
  std::size_t first;
  {
    std::lock_guard g(mu_);
    first = current_;
  }
  std::string failures;
  bool need_token = !config_.username.empty();
  {
    std::lock_guard g(mu_);
    need_token = need_token && token_.empty();
  }
  // Every endpoint in turn until the deadline; after a round in which none
  // answered (etcd electing a leader, all members restarting), a short
  // pause before the next round.
  for (std::size_t attempt = 0; clock::now() < deadline; ++attempt) {
    const std::size_t i = (first + attempt) % config_.endpoints.size();
    if (attempt != 0 && i == first) {
      std::this_thread::sleep_for(
          std::min<clock::duration>(std::chrono::milliseconds(100), deadline - clock::now()));
      if (clock::now() >= deadline) break;
      failures.clear();  // the last round's reasons are the ones to report
    }
    if (need_token) {
      if (auto s = authenticate(i, deadline); !s) {
        if (s.code() != errc::unavailable) return s;
        failures += "; " + s.error().message();
        continue;
      }
      need_token = false;
    }
    // With several endpoints, one may not use the whole deadline (a frozen
    // member accepts and never answers): each attempt gets a share, and
    // the attempt that starts near the end gets what is left.
    const auto share = std::max<clock::duration>(config_.request_timeout / (2 * config_.endpoints.size()),
                                                 std::chrono::milliseconds(250));
    const auto attempt_deadline = config_.endpoints.size() == 1 || deadline - clock::now() <= 2 * share
                                      ? deadline
                                      : clock::now() + share;
    grpc::ClientContext context;
    prepare(context, attempt_deadline);
    const grpc::Status s = call(*endpoint_at(i), context);
    if (s.ok()) {
      std::lock_guard g(mu_);
      current_ = i;
      return {};
    }
    if (!config_.username.empty() && token_expired(s)) {
      need_token = true;
      continue;
    }
    if (!unavailable(s)) {
      return error(errc::invalid_argument, std::string("etcd refused ") + what + ": " + s.error_message());
    }
    failures += "; " + config_.endpoints[i] + ": " + s.error_message();
  }
  return error(errc::unavailable,
               std::string("etcd did not answer ") + what + " within " +
                   akt::detail::format_duration(std::chrono::nanoseconds(config_.request_timeout).count()) +
                   (failures.empty() ? std::string() : " (" + failures.substr(2) + ")"));
}

result<etcd_range> etcd_client::get_prefix(const std::string& prefix) {
  // In pages, all at the first page's revision: one consistent snapshot,
  // however many keys (a single answer is limited to a few MiB).
  constexpr std::int64_t page = 10'000;
  pb::RangeRequest request;
  request.set_key(prefix);
  request.set_range_end(prefix_end(prefix));
  request.set_limit(page);
  etcd_range out;
  for (;;) {
    pb::RangeResponse response;
    auto s = with_failover("a range read", etcd_operation::range, [&](endpoint& ep, grpc::ClientContext& c) {
      return ep.kv->Range(&c, request, &response);
    });
    if (!s) return std::move(s).error();
    if (out.revision == 0) {
      out.revision = response.header().revision();
      request.set_revision(out.revision);
    }
    for (const auto& kv : response.kvs()) out.kvs.push_back(from_pb(kv));
    if (!response.more() || response.kvs_size() == 0) return out;
    request.set_key(response.kvs(response.kvs_size() - 1).key() + '\0');  // after the last one
  }
}

result<std::optional<etcd_kv>> etcd_client::get(const std::string& key) {
  pb::RangeRequest request;
  request.set_key(key);
  pb::RangeResponse response;
  auto s = with_failover("a read", etcd_operation::range, [&](endpoint& ep, grpc::ClientContext& c) {
    return ep.kv->Range(&c, request, &response);
  });
  if (!s) return std::move(s).error();
  if (response.kvs_size() == 0) return std::optional<etcd_kv>();
  return std::optional<etcd_kv>(from_pb(response.kvs(0)));
}

status etcd_client::put(const std::string& key, const std::string& value, std::int64_t lease) {
  pb::PutRequest request;
  request.set_key(key);
  request.set_value(value);
  request.set_lease(lease);
  pb::PutResponse response;
  return with_failover("a write", etcd_operation::put, [&](endpoint& ep, grpc::ClientContext& c) {
    return ep.kv->Put(&c, request, &response);
  });
}

result<std::optional<etcd_kv>> etcd_client::create(const std::string& key, const std::string& value,
                                                   std::int64_t lease, const std::string& also_absent) {
  pb::TxnRequest request;
  for (const std::string* k : {&key, &also_absent}) {
    if (k->empty()) continue;
    auto* absent = request.add_compare();
    absent->set_key(*k);
    absent->set_target(pb::Compare::CREATE);
    absent->set_result(pb::Compare::EQUAL);
    absent->set_create_revision(0);  // no key of that name
    request.add_failure()->mutable_request_range()->set_key(*k);
  }
  auto* put = request.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(lease);
  pb::TxnResponse response;
  auto s = with_failover("a claim", etcd_operation::txn, [&](endpoint& ep, grpc::ClientContext& c) {
    return ep.kv->Txn(&c, request, &response);
  });
  if (!s) return std::move(s).error();
  if (response.succeeded()) return std::optional<etcd_kv>();
  for (const auto& r : response.responses()) {
    if (r.has_response_range() && r.response_range().kvs_size() > 0) {
      return std::optional<etcd_kv>(from_pb(r.response_range().kvs(0)));
    }
  }
  return std::optional<etcd_kv>(etcd_kv{key, {}, 0, 0, 0});  // deleted meanwhile: still not ours
}

result<bool> etcd_client::erase_if(const std::string& key, const std::string& value) {
  pb::TxnRequest request;
  auto* same = request.add_compare();
  same->set_key(key);
  same->set_target(pb::Compare::VALUE);
  same->set_result(pb::Compare::EQUAL);
  same->set_value(value);
  request.add_success()->mutable_request_delete_range()->set_key(key);
  pb::TxnResponse response;
  auto s = with_failover("a release", etcd_operation::txn, [&](endpoint& ep, grpc::ClientContext& c) {
    return ep.kv->Txn(&c, request, &response);
  });
  if (!s) return std::move(s).error();
  return response.succeeded();
}

status etcd_client::erase(const std::string& key) {
  pb::DeleteRangeRequest request;
  request.set_key(key);
  pb::DeleteRangeResponse response;
  return with_failover("a delete", etcd_operation::delete_range, [&](endpoint& ep, grpc::ClientContext& c) {
    return ep.kv->DeleteRange(&c, request, &response);
  });
}

result<std::int64_t> etcd_client::grant_lease(std::chrono::seconds ttl) {
  pb::LeaseGrantRequest request;
  request.set_ttl(ttl.count());
  pb::LeaseGrantResponse response;
  auto s = with_failover(
      "a lease grant", etcd_operation::lease_grant,
      [&](endpoint& ep, grpc::ClientContext& c) { return ep.lease->LeaseGrant(&c, request, &response); });
  if (!s) return std::move(s).error();
  if (!response.error().empty())
    return error(errc::invalid_argument, "etcd refused a lease: " + response.error());
  return response.id();
}

status etcd_client::revoke_lease(std::int64_t lease) {
  pb::LeaseRevokeRequest request;
  request.set_id(lease);
  pb::LeaseRevokeResponse response;
  return with_failover(
      "a lease revoke", etcd_operation::lease_revoke,
      [&](endpoint& ep, grpc::ClientContext& c) { return ep.lease->LeaseRevoke(&c, request, &response); });
}

result<std::int64_t> etcd_client::keep_alive(std::int64_t lease) {
  std::int64_t ttl = 0;
  auto s = with_failover("a keep-alive", etcd_operation::lease_keepalive,
                         [&](endpoint& ep, grpc::ClientContext& c) {
                           auto stream = ep.lease->LeaseKeepAlive(&c);
                           pb::LeaseKeepAliveRequest request;
                           request.set_id(lease);
                           pb::LeaseKeepAliveResponse response;
                           if (stream->Write(request) && stream->Read(&response)) ttl = response.ttl();
                           stream->WritesDone();
                           return stream->Finish();
                         });
  if (!s) return std::move(s).error();
  return ttl;
}

result<std::string> etcd_client::server_version() {
  pb::StatusRequest request;
  pb::StatusResponse response;
  auto s = with_failover("a status", etcd_operation::status, [&](endpoint& ep, grpc::ClientContext& c) {
    return ep.maintenance->Status(&c, request, &response);
  });
  if (!s) return std::move(s).error();
  return response.version();
}

// ---------------------------------------------------------------- members

namespace {
etcd_member member_of(const pb::Member& m) {
  return etcd_member{m.id(),
                     m.name(),
                     {m.peerurls().begin(), m.peerurls().end()},
                     {m.clienturls().begin(), m.clienturls().end()},
                     m.islearner()};
}
std::vector<etcd_member> members_of(const google::protobuf::RepeatedPtrField<pb::Member>& all) {
  std::vector<etcd_member> out;
  for (const auto& m : all) out.push_back(member_of(m));
  return out;
}
}  // namespace

result<etcd_status> etcd_client::status_of() {
  pb::StatusRequest request;
  pb::StatusResponse response;
  auto s = with_failover("a status", etcd_operation::status, [&](endpoint& ep, grpc::ClientContext& c) {
    return ep.maintenance->Status(&c, request, &response);
  });
  if (!s) return std::move(s).error();
  return etcd_status{response.header().cluster_id(), response.header().member_id(), response.leader(),
                     response.version()};
}

result<std::vector<etcd_member>> etcd_client::member_list() {
  pb::MemberListRequest request;
  pb::MemberListResponse response;
  auto s = with_failover(
      "a member list", etcd_operation::member_list,
      [&](endpoint& ep, grpc::ClientContext& c) { return ep.cluster->MemberList(&c, request, &response); });
  if (!s) return std::move(s).error();
  return members_of(response.members());
}

result<std::pair<etcd_member, std::vector<etcd_member>>> etcd_client::member_add(const std::string& peer_url,
                                                                                 bool learner) {
  pb::MemberAddRequest request;
  request.add_peerurls(peer_url);
  request.set_islearner(learner);
  pb::MemberAddResponse response;
  auto s = with_failover(
      "a member add", etcd_operation::member_add,
      [&](endpoint& ep, grpc::ClientContext& c) { return ep.cluster->MemberAdd(&c, request, &response); });
  if (!s) return std::move(s).error();
  return std::pair{member_of(response.member()), members_of(response.members())};
}

status etcd_client::member_remove(std::uint64_t id) {
  pb::MemberRemoveRequest request;
  request.set_id(id);
  pb::MemberRemoveResponse response;
  return with_failover(
      "a member removal", etcd_operation::member_remove,
      [&](endpoint& ep, grpc::ClientContext& c) { return ep.cluster->MemberRemove(&c, request, &response); });
}

status etcd_client::member_promote(std::uint64_t id) {
  pb::MemberPromoteRequest request;
  request.set_id(id);
  pb::MemberPromoteResponse response;
  return with_failover("a member promotion", etcd_operation::member_promote,
                       [&](endpoint& ep, grpc::ClientContext& c) {
                         return ep.cluster->MemberPromote(&c, request, &response);
                       });
}

// ---------------------------------------------------------------- watch

etcd_client::watch_stream::~watch_stream() {
  stop();
}

void etcd_client::watch_stream::stop() {
  stopped_.store(true);
  {
    std::lock_guard g(mu_);
    if (context_) context_->TryCancel();
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

result<std::unique_ptr<etcd_client::watch_stream>> etcd_client::watch(const std::string& prefix,
                                                                      std::int64_t from_revision,
                                                                      on_events_fn on_events,
                                                                      on_end_fn on_end) {
  std::size_t i;
  {
    std::lock_guard g(mu_);
    i = current_;
  }
  auto ep = endpoint_at(i);
  auto w = std::unique_ptr<watch_stream>(new watch_stream());
  w->context_ = std::make_shared<grpc::ClientContext>();
  {
    std::lock_guard g(mu_);
    if (!token_.empty()) w->context_->AddMetadata("token", token_);
  }
  auto stream = std::shared_ptr<grpc::ClientReaderWriter<pb::WatchRequest, pb::WatchResponse>>(
      ep->watch->Watch(w->context_.get()));
  pb::WatchRequest request;
  auto* create = request.mutable_create_request();
  create->set_key(prefix);
  create->set_range_end(prefix_end(prefix));
  create->set_start_revision(from_revision);
  if (!stream->Write(request)) {
    return error(errc::unavailable, "etcd at " + config_.endpoints[i] + " refused a watch of " + prefix);
  }
  const std::string where = config_.endpoints[i];
  w->thread_ = std::thread(
      [w = w.get(), ep, stream, on_events = std::move(on_events), on_end = std::move(on_end), where, prefix] {
        (void)ep;  // the channel lives as long as the stream
        akt::detail::name_this_thread("akt-etcd-watch");
        pb::WatchResponse response;
        status end;
        while (stream->Read(&response)) {
          if (response.compact_revision() != 0) {
            end = error(errc::not_found, "the watch of " + prefix + " started at a compacted revision (" +
                                             std::to_string(response.compact_revision()) + "): list again");
            break;
          }
          if (response.canceled()) {
            end = error(errc::unavailable,
                        "etcd cancelled the watch of " + prefix + ": " + response.cancel_reason());
            break;
          }
          if (response.events_size() == 0) continue;  // created, or progress
          std::vector<etcd_event> events;
          events.reserve(static_cast<std::size_t>(response.events_size()));
          for (const auto& e : response.events()) {
            events.push_back(etcd_event{e.type() == pb::Event::DELETE, from_pb(e.kv())});
          }
          on_events(events, response.header().revision());
        }
        {
          std::lock_guard g(w->mu_);
          w->context_->TryCancel();
        }
        const grpc::Status s = stream->Finish();
        if (end && !w->stopped_.load()) {
          end = error(errc::unavailable, "the watch of " + prefix + " at " + where + " ended: " +
                                             (s.ok() ? std::string("closed by etcd") : s.error_message()));
        }
        if (w->stopped_.load()) end = status();
        on_end(end);
      });
  return w;
}

}  // namespace akt::cluster::detail
