// Remoting's metrics (akt/metrics.hpp), pulled by an exporter: per peer,
// what its connections carried and how they fared, and node-wide counters.
// The send path only bumps counters its connection already holds a lock
// for (connection.hpp, `bump`); everything else happens here, at
// collection time, under the peer table's lock, and the sink is called
// after it is released.
#include <string>
#include <unordered_map>
#include <vector>

#include "node.hpp"

namespace akt::remote::detail {

namespace {

// The series, by name.
namespace series {
constexpr metric_info messages_sent{"akt.remote.messages.sent", "{message}",
                                    "Tells, asks and replies accepted for sending to the peer.",
                                    metric_kind::counter};
constexpr metric_info messages_received{"akt.remote.messages.received", "{message}",
                                        "Tells, asks and replies received from the peer.",
                                        metric_kind::counter};
constexpr metric_info bytes_sent{"akt.remote.bytes.sent", "By",
                                 "Frame bytes written to the peer's connections (TLS overhead excluded).",
                                 metric_kind::counter};
constexpr metric_info bytes_received{"akt.remote.bytes.received", "By",
                                     "Frame bytes read from the peer's connections (TLS overhead excluded).",
                                     metric_kind::counter};
constexpr metric_info connection_up{
    "akt.remote.connection.up", "1",
    "1 while the peer is up (a connection to its proved address is open), else 0.", metric_kind::gauge};
constexpr metric_info reconnects{"akt.remote.reconnects", "{reconnect}",
                                 "Times the peer came up again after it had been down.",
                                 metric_kind::counter};
constexpr metric_info backpressure{"akt.remote.backpressure", "{message}",
                                   "Sends to the peer refused with errc::backpressure.",
                                   metric_kind::counter};
constexpr metric_info backpressure_waits{
    "akt.remote.backpressure.waits", "{message}",
    "Sends to the peer that waited for window or queue space (remoting_options::backpressure_wait), "
    "then went out or were refused.",
    metric_kind::counter};
constexpr metric_info failures{
    "akt.remote.failures", "{failure}",
    "Failures with the peer, by akt.reason: connect (never reached), lost (an open "
    "connection closed), send (a send refused, not for back-pressure).",
    metric_kind::counter};
constexpr metric_info connections_open{"akt.remote.connections.open", "{connection}",
                                       "Connections open now, both directions, handshake included.",
                                       metric_kind::up_down};
constexpr metric_info connections_opened{"akt.remote.connections.opened", "{connection}",
                                         "Connections dialled or accepted since the node started.",
                                         metric_kind::counter};
constexpr metric_info frames_rejected{"akt.remote.frames.rejected", "{frame}",
                                      "Frames refused as malformed, oversized or out of protocol.",
                                      metric_kind::counter};
constexpr metric_info handshakes_refused{"akt.remote.handshakes.refused", "{handshake}",
                                         "Connections refused: failed authentication, handshake deadline, or "
                                         "over max_connections.",
                                         metric_kind::counter};
}  // namespace series

constexpr std::string_view reason_names[] = {"connect", "lost", "send"};

struct peer_row {
  std::string peer;
  connection_traffic traffic;
  std::uint64_t reconnects = 0;
  std::array<std::uint64_t, 3> failures{};
  bool up = false;
};

std::int64_t as_value(std::uint64_t v) noexcept {
  return static_cast<std::int64_t>(v);
}

}  // namespace

void node::report_metrics(metric_sink& sink) {
  static_assert(std::size(reason_names) == failure_reasons);
  std::vector<peer_row> rows;
  std::size_t open_now = 0;
  {
    std::lock_guard g(peers_mu_);
    rows.reserve(peer_records_.size());
    std::unordered_map<std::string_view, std::size_t> at;
    at.reserve(peer_records_.size());
    for (const auto& [peer, r] : peer_records_) {
      at.emplace(peer, rows.size());
      rows.push_back(peer_row{peer, r.closed, r.reconnects, r.failures, up_.contains(peer)});
    }
    for (const auto& c : all_) {
      if (!c->tracked()) continue;  // an accepted connection before its Hello: no peer yet
      if (auto it = at.find(c->peer()); it != at.end()) rows[it->second].traffic += c->traffic();
    }
    open_now = all_.size();
  }
  const std::string system = system_.name();
  const metric_attribute node_attrs[] = {{"akt.system", system}};
  sink.record(series::connections_open, node_attrs, static_cast<std::int64_t>(open_now));
  sink.record(series::connections_opened, node_attrs, as_value(connections_opened()));
  sink.record(series::frames_rejected, node_attrs, as_value(frames_rejected()));
  sink.record(series::handshakes_refused, node_attrs, as_value(handshakes_refused()));
  for (const peer_row& row : rows) {
    const metric_attribute attrs[] = {{"akt.system", system}, {"akt.peer", row.peer}};
    sink.record(series::messages_sent, attrs, as_value(row.traffic.messages_sent));
    sink.record(series::messages_received, attrs, as_value(row.traffic.messages_received));
    sink.record(series::bytes_sent, attrs, as_value(row.traffic.bytes_sent));
    sink.record(series::bytes_received, attrs, as_value(row.traffic.bytes_received));
    sink.record(series::connection_up, attrs, std::int64_t{row.up ? 1 : 0});
    sink.record(series::reconnects, attrs, as_value(row.reconnects));
    sink.record(series::backpressure, attrs, as_value(row.traffic.backpressure));
    sink.record(series::backpressure_waits, attrs, as_value(row.traffic.backpressure_waits));
    for (std::size_t i = 0; i < failure_reasons; ++i) {
      const metric_attribute with_reason[] = {
          {"akt.system", system}, {"akt.peer", row.peer}, {"akt.reason", reason_names[i]}};
      sink.record(series::failures, with_reason, as_value(row.failures[i]));
    }
  }
}

}  // namespace akt::remote::detail
