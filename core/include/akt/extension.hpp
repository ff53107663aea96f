// akt/extension.hpp — how a module extends an actor system. Remoting, the
// cluster and telemetry attach to a system here, and only here; a user's
// own module can do the same.
//
//   class my_ext final : public akt::extension {
//    public:
//     std::string_view name() const noexcept override { return "my_ext"; }
//     akt::status before_bind(const akt::bind_request& r) override { ... }  // may veto a name
//     void after_terminate(const akt::actor_view& a) override { ... }
//   };
//   auto& ext = sys->add_extension(std::make_unique<my_ext>()).value();
//
// What an extension can do (every member has a do-nothing default):
//   - live as long as the system: the system owns it, starts it (start) once
//     the system runs, and stops it in the reverse order of adding —
//     stopping (before the actors stop), then stop (after they stopped,
//     before the workers are joined);
//   - resolve names the system does not know locally (try_resolve): lookup asks
//     the local tree first, then each extension in the order they were added;
//   - give the system its network address (node_address), which then appears
//     in every path: akt://<system>@<address>/...;
//   - take part in an actor's life, synchronously: before_bind may refuse a
//     name before the actor is created (the cluster claims it in etcd there),
//     after_start and after_terminate follow every actor;
//   - observe the runtime's work (observer(): enqueues, message handling with
//     its duration, failures, restarts, stops, dead letters, unhandled
//     messages); with no observer installed this costs one predictable branch;
//   - open a span for a traced send (actor_observer::on_send) and give the
//     message the span's context: the trace-context slot a tracer fills;
//   - report its own metrics when an exporter collects (report_metrics, see
//     metrics.hpp);
//   - hear and announce transport events (node up / node down);
//   - run a short non-blocking poll on idle workers before they park
//     (poll_idle), to take network input on a thread that is already awake.
//
// The system also gives extensions per-system registries (registry.hpp) and
// an enumeration of its live actors (actor_system::for_each_actor).
//
// Thread safety: hooks are called from any thread, concurrently (spawns and
// terminations happen on every worker); an extension guards its own state.
// Hooks must not block for long (before_bind may do one bounded round trip)
// and must not throw. Hooks reach an extension only once its start()
// succeeded; its start() must not add another extension (add both before
// starting). Extensions are destroyed by the facade's destructor after
// stop(); a pid used by a plain thread after that must not race with it.
// after_start and after_terminate come in pairs for actors started after
// the extension; after_terminate(was_bound = true) also gives back a claim
// whose actor never started.
#pragma once

#include <akt/error.hpp>
#include <akt/metrics.hpp>
#include <akt/pid.hpp>
#include <akt/supervision.hpp>
#include <akt/trace.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace akt {

class actor_system;

// A non-owning view of one actor, handed to hooks and observers. Valid for
// the duration of the call; take to_pid() to keep the actor.
class actor_view {
 public:
  explicit actor_view(detail::actor_ref& ref) noexcept : ref_(&ref) {}

  pid to_pid() const { return pid(detail::ref_ptr<detail::actor_ref>::share(ref_)); }
  std::string name() const { return ref_->name(); }
  std::string path() const { return ref_->path(); }
  // The actor's C++ type ("shop::order_book"): what exporters aggregate by.
  std::string_view kind() const noexcept { return ref_->kind(); }
  bool is_top_level() const { return !ref_->parent(); }
  actor_metrics metrics() const noexcept { return ref_->metrics(); }
  const detail::actor_ref& ref() const noexcept { return *ref_; }

 private:
  detail::actor_ref* ref_;
};

// A message as an observer sees it: what it is, who sent it, its trace.
class message_view {
 public:
  explicit message_view(const detail::envelope& e) noexcept : env_(&e) {}
  std::string type_name() const { return env_->type_name(); }
  template <class T>
  bool is() const noexcept {
    return env_->type == detail::type_id_of<T>();
  }
  // The value's type id (one pointer per type; see detail/type_id.hpp).
  detail::type_id type() const noexcept { return env_->type; }
  pid sender() const { return pid(env_->sender); }
  // Sent by an actor (here or on another node); false for a plain thread's
  // send, a timer's, or a message with no sender.
  bool has_sender() const noexcept { return static_cast<bool>(env_->sender); }
  bool is_ask() const noexcept { return static_cast<bool>(env_->reply_to); }
  // The trace context the message carries (null when untraced).
  const trace_context* trace() const noexcept { return env_->trace.get(); }

 private:
  const detail::envelope* env_;
};

// A name about to be bound to a new actor (before_bind).
struct bind_request {
  std::string_view name;  // never empty: anonymous actors are not bound
  std::string_view kind;  // the actor's C++ type
  std::string path;       // the path it will have
  bool top_level;         // a child of the guardian (not of another actor)
};

// A traced message being sent (actor_observer::on_send).
struct send_view {
  const actor_view* to;        // the receiver when it is local; null when it is on another node
  std::string_view to_path;    // the receiver's path when it is on another node; empty when local
  std::string_view type_name;  // the message's type name
  bool is_ask;                 // a request that expects a reply
};

// Watching the runtime work. Every member is called on the thread doing
// the work, inline: keep them short, never block, never throw.
class actor_observer {
 public:
  virtual ~actor_observer() = default;
  // A message is sent by a thread whose current trace context (`current`,
  // sampled) it carries: from a traced handler, or under a trace_scope. A
  // tracer opens its send span here and returns that span's context, which
  // the message carries instead; null keeps `current`. Called before
  // on_enqueue for a local receiver, and by transports (through
  // actor_system::observe_send) for one on another node. Not called for
  // forwards, replies or messages arriving from the network.
  virtual trace_ref on_send(const trace_context& current, const send_view& s) noexcept {
    (void)current;
    (void)s;
    return {};
  }
  // A message was accepted into `to`'s mailbox.
  virtual void on_enqueue(const actor_view& to, const message_view& m) noexcept {
    (void)to;
    (void)m;
  }
  // `self` is about to handle `m` (receive or a behavior).
  virtual void on_turn_begin(const actor_view& self, const message_view& m) noexcept {
    (void)self;
    (void)m;
  }
  // `self` finished handling a message (normally or not), after `took`;
  // `took` is negative for a turn that was not timed (interest::timing_every).
  // With sparse interests (not every_turn) a turn that was only timed gets
  // on_turn_end without on_turn_begin.
  virtual void on_turn_end(const actor_view& self, std::chrono::nanoseconds took) noexcept {
    (void)self;
    (void)took;
  }
  // What this observer needs to hear; read once, when it is installed. The
  // system calls the per-message hooks as the union of its observers'
  // interests asks. The default hears everything. An exporter that reads
  // the actors' own counters (actor_view::metrics) when it collects asks
  // for less, and the message path stays nearly as fast as unobserved.
  struct interest {
    // on_enqueue for every message (on_send is called for traced sends
    // regardless).
    bool every_enqueue = true;
    // on_turn_begin / on_turn_end for every turn. When no observer wants
    // every turn, only turns of messages carrying a trace context, and of
    // entry messages (no sending actor: a plain thread's, a timer's) when
    // `entry_turns`, are reported, plus on_turn_end alone for timed turns.
    bool every_turn = true;
    bool entry_turns = true;
    // Time one turn in this many on each thread (1: every turn; a clock
    // read costs tens of nanoseconds, a hot actor's turn not many more).
    // The smallest wish among the observers wins.
    std::uint32_t timing_every = 1;
  };
  virtual interest observer_interest() const noexcept { return {}; }
  // A handler failed (threw, or called context::fail), before its
  // supervisor decides.
  virtual void on_failure(const actor_view& self, const failure_info& why) noexcept {
    (void)self;
    (void)why;
  }
  virtual void on_restart(const actor_view& self) noexcept { (void)self; }
  virtual void on_stop(const actor_view& self) noexcept { (void)self; }
  // A message nobody will handle. `to` is null when the recipient is unknown.
  virtual void on_dead_letter(const actor_view* to, const message_view& m, const error& why) noexcept {
    (void)to;
    (void)m;
    (void)why;
  }
  // `self` handled a message without matching it (see context::unhandled).
  virtual void on_unhandled(const actor_view& self, const message_view& m) noexcept {
    (void)self;
    (void)m;
  }
};

// Transport: another node became reachable (up) or was lost (down).
// Cluster membership: a member joined or left, or the leader changed
// (`address` is the new leader's; empty when there is none).
enum class node_event_kind : std::uint8_t { up, down, joined, left, leader_changed };
std::string_view to_string(node_event_kind k) noexcept;

struct node_event {
  node_event_kind kind;
  std::string address;  // "host:port"
  std::string reason;   // for down and left: why ("silent for 3 heartbeats", "lease expired")
};

class extension {
 public:
  virtual ~extension() = default;
  // A short name for logs and errors ("remote", "cluster", "otel"). Two
  // extensions of one system may not share a name.
  virtual std::string_view name() const noexcept = 0;

  // Called once the system runs (at once when added to a running system).
  // An error here makes add_extension (or start) fail with it.
  virtual status start(actor_system& system) {
    (void)system;
    return {};
  }
  // Called by stop before any actor is stopped (leave a cluster, stop
  // accepting inbound work), in reverse order of adding.
  virtual void stopping() {}
  // Called by stop after every actor stopped and before the workers are
  // joined (close connections), in reverse order of adding.
  virtual void stop() {}

  // The network address this extension gives the system ("host:port"),
  // empty for none. Read after start; at most one extension may give one.
  virtual std::string node_address() const { return {}; }
  // Resolves what the local tree does not know: a path on another node, a
  // cluster-wide name. nullopt = not mine, ask the next extension.
  virtual std::optional<result<pid>> try_resolve(std::string_view name_or_path) {
    (void)name_or_path;
    return std::nullopt;
  }

  // Before a named actor is created; an error refuses the spawn with it.
  virtual status before_bind(const bind_request& request) {
    (void)request;
    return {};
  }
  // After an actor's pre_start succeeded (every actor, named or not).
  virtual void after_start(const actor_view& actor) noexcept { (void)actor; }
  // After an actor terminated (post_stop ran, watchers told): its name is free.
  // `was_bound` says whether before_bind was called for it.
  virtual void after_terminate(const actor_view& actor, bool was_bound) noexcept {
    (void)actor;
    (void)was_bound;
  }

  // Transport events announced by any extension (actor_system::announce).
  virtual void on_node_event(const node_event& e) noexcept { (void)e; }

  // Called by an idle worker on each round of its spin before it parks.
  // Must return quickly and never block.
  virtual void poll_idle() noexcept {}

  // The observer this extension installs; null for none. Read when the
  // extension starts.
  virtual actor_observer* observer() noexcept { return nullptr; }

  // Reports this extension's metrics to an exporter's sink (metrics.hpp):
  // called on the exporter's thread, concurrently with everything else.
  virtual void report_metrics(metric_sink& sink) const { (void)sink; }
};

}  // namespace akt
