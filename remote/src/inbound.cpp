// What arrives from other nodes: one handler per envelope kind (the table
// below), each answering over the connection the frame came on. Commands
// beyond messaging (stop, watch, spawn) are checked against
// remoting_options::permissions first.
#include <akt/detail/wire_envelope.hpp>

#include <algorithm>

#include "address.hpp"
#include "node.hpp"

namespace akt::remote::detail {

ref_ptr<reply_sink> make_remote_reply_sink(std::weak_ptr<node> n, std::weak_ptr<connection> via,
                                           std::uint64_t correlation);

const std::array<node::handler, 10> node::handlers_ = {
    &node::on_message,     // tell
    &node::on_message,     // ask
    &node::on_answer,      // reply
    &node::on_answer,      // failure
    &node::on_lookup,      // lookup
    &node::on_stop,        // stop
    &node::on_watch,       // watch
    &node::on_unwatch,     // unwatch
    &node::on_terminated,  // terminated
    &node::on_spawn,       // spawn
};

void node::on_frame(connection& from, frame_view& frame, std::uint32_t cost) {
  switch (frame.kind) {
    case frame_kind::heartbeat:
      return;
    case frame_kind::credit:
      from.on_credit(frame.credit.receiver, frame.credit.bytes);
      return;
    case frame_kind::envelope: {
      envelope_view& env = frame.envelope;
      if ((env.receiver_id | env.sender_id | env.type_id) != 0) {
        // Interned strings: the views become the strings the ids stand for.
        inbound_interns& interned = from.cache().interned;
        std::string why;
        if (!interned.resolve(interned_kind::receiver, env.receiver, env.receiver_id, why) ||
            !interned.resolve(interned_kind::sender, env.sender, env.sender_id, why) ||
            !interned.resolve(interned_kind::type, env.type, env.type_id, why)) {
          frame_rejected();
          from.close("malformed frame: " + why);
          return;
        }
      }
      const auto kind = static_cast<std::size_t>(frame.envelope.kind);  // < 10: checked by the codec
      if (frame.envelope.kind <= envelope_kind::reply) from.count_received_message();  // tell, ask, reply
      (this->*handlers_[kind])(from, frame.envelope, cost);
      return;
    }
    case frame_kind::hello:
    case frame_kind::proof:
      break;
  }
  frame_rejected();
  from.close("a handshake frame after the handshake");
}

// ---------------------------------------------------------------- messages

namespace {
// A tracestate from the network reaches exporters (HTTP headers, files):
// only W3C's printable ASCII, and at most max_tracestate_bytes.
bool acceptable_tracestate(std::string_view s) noexcept {
  if (s.size() > max_tracestate_bytes) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}
}  // namespace

trace_ref node::trace_from_wire(std::string_view traceparent, std::string_view tracestate) {
  // A malformed traceparent is dropped (the message still goes through,
  // untraced), and so is a tracestate that is too long or not printable
  // (the traceparent kept): tracing must never cost a message.
  if (!acceptable_tracestate(tracestate)) {
    warn_limited("dropped a tracestate of " + std::to_string(tracestate.size()) + " bytes (at most " +
                 std::to_string(max_tracestate_bytes) + ", printable ASCII only); the traceparent is kept");
    tracestate = {};
  }
  auto tc = trace_context::parse(traceparent, tracestate);
  if (!tc) {
    system_.logger().debug("remoting: ignored a malformed traceparent: " + tc.error().message());
    return {};
  }
  return std::move(*tc);
}

message_decoder node::decoder_for(inbound_cache& cache, const envelope_view& env) {
  if (env.type_id != 0) {  // interned: by index
    if (env.type_id > cache.by_type_id.size()) cache.by_type_id.resize(env.type_id);
    message_decoder& d = cache.by_type_id[env.type_id - 1];
    if (d == nullptr) d = system_.registry().find_decoder(env.type);
    return d;
  }
  if (cache.last_decoder != nullptr && env.type == cache.last_type) return cache.last_decoder;
  message_decoder d = system_.registry().find_decoder(env.type);
  if (d != nullptr) {
    cache.last_type.assign(env.type);
    cache.last_decoder = d;
  }
  return d;
}

void node::refuse_message(connection& from, const envelope_view& env, const error& why) {
  const bool is_ask = env.kind == envelope_kind::ask;
  const std::string type = env.type.empty() ? std::string("message") : std::string(env.type.substr(0, 256));
  system_.report_dead_letter(
      type, error(why.code(), "from " + from.peer() + " to " + std::string(env.receiver.substr(0, 256)) +
                                  ": " + why.message()));
  send_failure(from, is_ask ? env.correlation_id : 0, why, env.receiver, env.type);
}

inbound_cache::receiver_entry* node::find_target(connection& from, const envelope_view& env) {
  inbound_cache& cache = from.cache();
  if (env.receiver_id != 0) {  // interned: by index
    if (env.receiver_id > cache.by_receiver_id.size()) cache.by_receiver_id.resize(env.receiver_id);
    inbound_cache::receiver_entry& entry = cache.by_receiver_id[env.receiver_id - 1];
    if (!entry.target || !entry.target.is_running()) {
      auto target = system_.lookup_local(env.receiver);
      if (!target) {
        entry.target = pid();
        refuse_message(from, env, target.error());
        return nullptr;
      }
      entry.target = *target;
      if (!entry.credit) {
        entry.credit = credit_ref(ref_ptr<receiver_credit>::adopt(
            new receiver_credit(from.inflow_shared(), std::string(env.receiver))));
      }
    }
    return &entry;
  }
  // In full: a stream of messages to one actor hits the last target
  // without a lookup; a cached actor that stopped is looked up again (its
  // name may have a new actor), and nothing dead stays cached.
  inbound_cache::receiver_entry& last = cache.last;
  if (last.target && env.receiver == cache.last_receiver && last.target.is_running()) return &last;
  auto cached = cache.local.find(std::string(env.receiver));
  if (cached != cache.local.end() && !cached->second.is_running()) {
    cache.local.erase(cached);
    cached = cache.local.end();
  }
  if (cached == cache.local.end()) {
    auto target = system_.lookup_local(env.receiver);
    if (!target) {
      last.target = pid();
      refuse_message(from, env, target.error());
      return nullptr;
    }
    if (cache.local.size() >= inbound_cache::max_entries) cache.local.clear();
    cached = cache.local.emplace(std::string(env.receiver), *target).first;
  }
  cache.last_receiver = cached->first;
  last.target = cached->second;
  auto credit = cache.credits.find(cache.last_receiver);
  if (credit == cache.credits.end()) {
    if (cache.credits.size() >= inbound_cache::max_entries) cache.credits.clear();
    credit = cache.credits
                 .emplace(cache.last_receiver, credit_ref(ref_ptr<receiver_credit>::adopt(new receiver_credit(
                                                   from.inflow_shared(), cache.last_receiver))))
                 .first;
  }
  last.credit = credit->second;
  return &last;
}

ref_ptr<actor_ref> node::sender_of(connection& from, const envelope_view& env) {
  inbound_cache& cache = from.cache();
  if (env.sender_id != 0) {  // interned: by index
    if (env.sender_id > cache.by_sender_id.size()) cache.by_sender_id.resize(env.sender_id);
    ref_stock<actor_ref>& ref = cache.by_sender_id[env.sender_id - 1];
    if (!ref) ref = ref_stock<actor_ref>(remote_ref_for(std::string(env.sender), &from));
    return ref.take();
  }
  if (!cache.last_sender_ref || env.sender != cache.last_sender) {
    cache.last_sender.assign(env.sender);
    cache.last_sender_ref = remote_ref_for(cache.last_sender, &from);
  }
  return cache.last_sender_ref;
}

void node::on_message(connection& from, const envelope_view& env, std::uint32_t cost) {
  const bool is_ask = env.kind == envelope_kind::ask;
  inbound_cache& cache = from.cache();
  // A stream by ids: its decoder and its live target are an index each
  // (inline; the first message of an id, and the rest, go the long way).
  message_decoder decode = env.type_id != 0 && env.type_id <= cache.by_type_id.size()
                               ? cache.by_type_id[env.type_id - 1]
                               : nullptr;
  if (decode == nullptr) decode = decoder_for(cache, env);
  if (decode == nullptr) {
    refuse_message(
        from, env,
        error(errc::invalid_argument, "unknown message type '" + std::string(env.type.substr(0, 256)) +
                                          "' at " + address() + ": registry().register_message<" +
                                          std::string(env.type.substr(0, 256)) + ">() there"));
    return;
  }
  inbound_cache::receiver_entry* to = nullptr;
  if (env.receiver_id != 0 && env.receiver_id <= cache.by_receiver_id.size()) {
    inbound_cache::receiver_entry& entry = cache.by_receiver_id[env.receiver_id - 1];
    if (entry.target && entry.target.is_running()) to = &entry;
  }
  if (to == nullptr && (to = find_target(from, env)) == nullptr) return;
  // Decoded by the receiving actor's worker, not here (see wire_envelope.hpp):
  // this thread only frames and copies. The frame's size is owed back to
  // the sender once the actor takes it (flow.hpp).
  from.inflow().charge(cost);
  envelope_ptr e = akt::detail::wire_envelope::make(decode, env.type, env.payload, to->credit.take(), cost);
  if (!env.sender.empty()) e->sender = sender_of(from, env);
  if (!env.traceparent.empty()) e->trace = trace_from_wire(env.traceparent, env.tracestate);
  if (is_ask)
    e->reply_to = make_remote_reply_sink(weak_from_this(), from.weak_from_this(), env.correlation_id);
  if (auto s = to->target.ref()->deliver(std::move(e)); !s) delivery_refused(from, env, *to, s.error());
}

void node::delivery_refused(connection& from, const envelope_view& env, inbound_cache::receiver_entry& to,
                            const error& why) {
  // A stopped actor's mailbox counted it (dead letters) and failed an
  // asker; a teller hears of it and counts it too. A full mailbox refused
  // it and did neither: counted here, and the asker or teller is told.
  inbound_cache& cache = from.cache();
  if (env.receiver_id == 0) cache.local.erase(cache.last_receiver);
  to.target = pid();
  if (why.code() == errc::mailbox_full) {
    refuse_message(from, env, why);
  } else if (env.kind != envelope_kind::ask) {
    send_failure(from, 0, why, env.receiver, env.type);
  }
}

std::size_t node::on_interned_tells(connection& from, std::string_view in) {
  inbound_cache& cache = from.cache();
  std::size_t taken = 0;
  interned_tell t;
  for (;;) {
    const std::size_t size = take_interned_tell(in, t);
    if (size == 0 || t.receiver_id == 0 || t.type_id == 0) return taken;
    // Known ids only: each entry below was made when its id was resolved
    // (defined), on the general path (on_message).
    if (t.receiver_id > cache.by_receiver_id.size() || t.type_id > cache.by_type_id.size()) return taken;
    inbound_cache::receiver_entry& to = cache.by_receiver_id[t.receiver_id - 1];
    const message_decoder decode = cache.by_type_id[t.type_id - 1];
    if (decode == nullptr || !to.target || !to.target.is_running()) return taken;
    ref_stock<actor_ref>* sender = nullptr;
    if (t.sender_id != 0) {
      if (t.sender_id > cache.by_sender_id.size() || !cache.by_sender_id[t.sender_id - 1]) return taken;
      sender = &cache.by_sender_id[t.sender_id - 1];
    }
    taken += size;
    in.remove_prefix(size);
    from.count_received_message();
    const auto cost = static_cast<std::uint32_t>(size);
    from.inflow().charge(cost);
    const std::string_view type = cache.interned.string_of(interned_kind::type, t.type_id);
    envelope_ptr e = akt::detail::wire_envelope::make(decode, type, t.payload, to.credit.take(), cost);
    if (sender != nullptr) e->sender = sender->take();
    if (auto s = to.target.ref()->deliver(std::move(e)); !s) [[unlikely]] {
      envelope_view env;
      env.receiver = cache.interned.string_of(interned_kind::receiver, t.receiver_id);
      env.type = type;
      env.receiver_id = t.receiver_id;
      delivery_refused(from, env, to, s.error());
    }
    if (from.inflow().pause_if_over() || from.is_closed()) return taken;
  }
}

void node::on_answer(connection& from, const envelope_view& env, std::uint32_t) {
  if (env.kind == envelope_kind::failure && env.correlation_id == 0) {
    // Our message reached no actor there: a dead letter here too.
    system_.report_dead_letter(
        env.type.empty() ? std::string("message") : std::string(env.type.substr(0, 256)),
        error(static_cast<errc>(env.error_code), from.peer() + " refused a message for " +
                                                     std::string(env.receiver.substr(0, 256)) + ": " +
                                                     std::string(env.error_message.substr(0, 1024))));
    return;
  }
  auto p = pending_.take(env.correlation_id, &from);
  if (!p) return;  // a late answer (the asker gave up), or one this connection may not give
  if (env.kind == envelope_kind::failure) {
    const auto code = env.error_code >= 1 && env.error_code <= 20 ? static_cast<errc>(env.error_code)
                                                                  : errc::invalid_argument;
    p->fail(error(code, std::string(env.error_message.substr(0, 1024))));
    return;
  }
  if (p->found) {
    p->found->set_value(result<std::string>(std::string(env.receiver)));
    return;
  }
  auto decode = decoder_for(from.cache(), env);
  envelope_ptr reply = decode ? decode(env.payload) : nullptr;
  if (!reply) {
    p->sink->fail(error(errc::invalid_argument, "the reply's type " + std::string(env.type.substr(0, 256)) +
                                                    " is unknown here: registry().register_message<" +
                                                    std::string(env.type.substr(0, 256)) + ">()"));
    return;
  }
  if (!env.sender.empty()) reply->sender = sender_of(from, env);
  if (!env.traceparent.empty()) reply->trace = trace_from_wire(env.traceparent, env.tracestate);
  if (!p->sink->complete(reply)) system_.logger().debug("remoting: a late reply was dropped");
}

// ---------------------------------------------------------------- commands

void node::answer_with_path(connection& to, std::uint64_t correlation, const result<pid>& found) {
  if (!found) {
    send_failure(to, correlation, found.error());
    return;
  }
  const std::string path = found->path();
  envelope_view reply;
  reply.kind = envelope_kind::reply;
  reply.correlation_id = correlation;
  reply.receiver = path;
  std::string frame;
  append_envelope_frame(frame, reply);
  (void)to.send(frame, /*urgent=*/true);
}

void node::on_lookup(connection& from, const envelope_view& env, std::uint32_t) {
  answer_with_path(from, env.correlation_id, system_.lookup_local(env.receiver));
}

void node::on_stop(connection& from, const envelope_view& env, std::uint32_t) {
  if (!options_.permissions.stop) {
    send_failure(
        from, 0,
        error(errc::not_permitted,
              "node " + address() + " does not permit remote stop (remoting_options::permissions.stop)"),
        env.receiver);
    return;
  }
  if (auto target = system_.lookup_local(env.receiver)) (void)target->stop();
}

void node::on_spawn(connection& from, const envelope_view& env, std::uint32_t) {
  const std::string kind(env.type.substr(0, 256));
  const auto& allowed = options_.permissions.spawnable_kinds;
  if (std::find(allowed.begin(), allowed.end(), kind) == allowed.end()) {
    answer_with_path(
        from, env.correlation_id,
        error(errc::not_permitted, "node " + address() + " does not permit remote spawns of '" + kind +
                                       "' (remoting_options::permissions.spawnable_kinds)"));
    return;
  }
  auto spawner = system_.registry().find_kind(kind);
  if (!spawner) {
    answer_with_path(from, env.correlation_id,
                     error(errc::not_found, "no actor kind '" + kind + "' is registered at " + address()));
    return;
  }
  // The new actor's pre_start is user code: it runs on a worker, in the
  // inbound worker's turn, never on this thread (the I/O thread, a plain
  // thread polling for its reply, or an idle worker's poll).
  auto job = [self = weak_from_this(), spawner = std::move(spawner), via = from.weak_from_this(),
              correlation = env.correlation_id, name = std::string(env.receiver)] {
    auto n = self.lock();
    auto c = via.lock();
    if (n && c) n->answer_with_path(*c, correlation, spawner(n->system(), name));
  };
  if (auto s = inbound_worker_.tell(inbound_job{std::move(job)}); !s) {
    answer_with_path(from, env.correlation_id, s.error());
  }
}

}  // namespace akt::remote::detail
