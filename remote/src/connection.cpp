#include "connection.hpp"

#include <akt/detail/send_batch.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include <sys/socket.h>

#include "node.hpp"

namespace akt::remote::detail {

namespace {
// Up to 256 KiB per read (~2,500 small tells): fewer wake-ups and syscalls
// per message than 64 KiB (remote_tell +12%).
constexpr std::size_t read_chunk = 262144;
// Before the handshake is done a frame is a Hello or a Proof: small.
constexpr std::size_t handshake_frame_limit = 4096;

std::int64_t steady_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

void spin_mutex::lock_contended() noexcept {
  for (int spins = 0;; ++spins) {
    if (!held_.load(std::memory_order_relaxed) && !held_.exchange(true, std::memory_order_acquire)) return;
    if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else {
      std::this_thread::yield();
    }
  }
}

char* read_buffer::reserve(std::size_t n) {
  if (capacity_ - end_ >= n) return data_.get() + end_;
  const std::size_t unread = end_ - start_;
  if (capacity_ - unread >= n && start_ > 0) {
    std::memmove(data_.get(), data_.get() + start_, unread);
  } else {
    const std::size_t grown = std::max(capacity_ * 2, unread + n);
    auto bigger = std::make_unique_for_overwrite<char[]>(grown);
    if (unread > 0) std::memcpy(bigger.get(), data_.get() + start_, unread);
    data_ = std::move(bigger);
    capacity_ = grown;
  }
  start_ = 0;
  end_ = unread;
  return data_.get() + end_;
}

// ---------------------------------------------------------------- setup

connection::connection(node& owner, asio::ip::tcp::socket socket, std::string dialled)
    : node_(owner),
      window_(static_cast<std::int64_t>(owner.options().flow_window_bytes)),
      max_outbound_(owner.options().max_outbound_bytes),
      max_queued_(2 * std::max(owner.options().max_outbound_bytes, owner.options().max_frame_bytes)),
      backpressure_wait_(owner.options().backpressure_wait),
      socket_(std::move(socket)),
      deadline_(owner.io()),
      peer_(std::move(dialled)),
      outbound_(!peer_.empty()),
      my_nonce_(fresh_nonce()) {
  last_heard_us_.store(steady_us(), std::memory_order_relaxed);
  asio::ssl::context* ctx = outbound_ ? owner.tls_client() : owner.tls_server();
  if (ctx != nullptr) {
    tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, *ctx);
    if (outbound_) {  // the peer's certificate must name the address we dialled
      tls_->set_verify_callback(asio::ssl::host_name_verification(peer_.substr(0, peer_.rfind(':'))));
    }
  }
}

connection::~connection() = default;

void connection::start_outbound(const asio::ip::tcp::endpoint& to, std::chrono::milliseconds timeout) {
  inflow_ = std::make_shared<inbound_flow>(weak_from_this(), node_.options().max_inbound_pending_bytes);
  auto self = shared_from_this();
  deadline_.expires_after(timeout);
  deadline_.async_wait([self](const asio::error_code& ec) {
    if (!ec && !self->is_open()) self->close("connect timed out");
  });
  socket_.async_connect(to, [self](const asio::error_code& ec) {
    if (ec) {
      self->close("connect failed: " + ec.message());
      return;
    }
    asio::error_code ignored;
    self->socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    self->on_ready();
  });
}

void connection::start_inbound() {
  inflow_ = std::make_shared<inbound_flow>(weak_from_this(), node_.options().max_inbound_pending_bytes);
  asio::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  on_ready();
}

// Connected: the handshake has its own deadline from here (the TLS
// handshake included), then the Hello goes out and reading starts.
void connection::on_ready() {
  auto self = shared_from_this();
  deadline_.expires_after(node_.options().handshake_timeout);
  deadline_.async_wait([self](const asio::error_code& ec) {
    if (!ec && !self->is_open()) {
      self->refuse("no handshake within " +
                   akt::detail::format_duration(
                       std::chrono::nanoseconds(self->node_.options().handshake_timeout).count()));
    }
  });
  auto go = [self] {
    {
      std::lock_guard g(self->mu_);
      self->ready_ = true;
      const std::string address = self->node_.address();
      append_hello_frame(self->handshake_out_, hello_view{.protocol_version = protocol_version,
                                                          .system = self->node_.system().name(),
                                                          .address = address,
                                                          .nonce = self->my_nonce_,
                                                          .secret = !self->node_.options().secret.empty()});
      self->kick_write_locked();
    }
    if (self->tls_) {
      self->do_read();
    } else {
      self->reading_.store(true, std::memory_order_release);
      self->arm_read();
    }
  };
  if (!tls_) {
    go();
    return;
  }
  const auto role = outbound_ ? asio::ssl::stream_base::client : asio::ssl::stream_base::server;
  tls_->async_handshake(role, [self, go](const asio::error_code& ec) {
    if (ec) {
      self->refuse("TLS handshake failed: " + ec.message());
      return;
    }
    go();
  });
}

// ---------------------------------------------------------------- handshake

void connection::refuse(const std::string& why) {
  if (is_closed()) return;
  node_.handshake_refused(peer_.empty() ? claimed_ : peer_, why);
  close("handshake refused: " + why);
}

bool connection::handshake_frame(const frame_view& frame) {
  if (!hello_seen_) {
    if (frame.kind != frame_kind::hello) {
      refuse("the first frame must be a Hello");
      return false;
    }
    hello_seen_ = true;
    on_hello(frame.hello);
  } else if (proof_expected_ && frame.kind == frame_kind::proof) {
    proof_expected_ = false;
    on_proof(frame.proof);
  } else {
    refuse(proof_expected_ ? "a Proof of the shared secret must follow the Hello"
                           : "a frame out of the handshake");
  }
  return !is_closed();
}

void connection::on_hello(const hello_view& hello) {
  if (hello.protocol_version != protocol_version) {
    refuse("the peer speaks protocol version " + std::to_string(hello.protocol_version) + ", this node " +
           std::to_string(protocol_version));
    return;
  }
  if (hello.nonce.size() != nonce_size) {
    refuse("the Hello's nonce is not " + std::to_string(nonce_size) + " bytes");
    return;
  }
  if (hello.system.empty() || hello.system.size() > 255) {
    refuse("the Hello names no valid system");
    return;
  }
  auto claimed = parse_address(hello.address);
  if (!claimed) {
    refuse("the Hello's address: " + claimed.error().message());
    return;
  }
  if (hello.nonce == my_nonce_) {
    refuse("the peer echoed this node's nonce");
    return;
  }
  claimed_ = claimed->to_string();
  if (!outbound_ && claimed_ == node_.address()) {
    refuse("the peer claims this node's own address " + claimed_);
    return;
  }
  peer_nonce_.assign(hello.nonce);
  peer_system_.assign(hello.system);
  if (!outbound_) peer_ = claimed_;

  const std::string& secret = node_.options().secret;
  if (!secret.empty()) {
    if (!hello.secret) {
      refuse("the peer proves no shared secret and this node requires one (remoting_options::secret)");
      return;
    }
    const std::string& initiator = outbound_ ? my_nonce_ : peer_nonce_;
    const std::string& acceptor = outbound_ ? peer_nonce_ : my_nonce_;
    const std::string mac =
        make_proof(secret, outbound_ ? handshake_role::initiator : handshake_role::acceptor, initiator,
                   acceptor, node_.system().name(), node_.address());
    std::lock_guard g(mu_);
    append_proof_frame(handshake_out_, mac);
    proof_expected_ = true;
    kick_write_locked();
    return;
  }
  if (hello.secret) {
    refuse("the peer requires a shared secret and this node has none (remoting_options::secret)");
    return;
  }
  if (tls_ && node_.options().tls && node_.options().tls->mutual) {
    // Outbound, asio checked that the certificate names the IP we dialled.
    if (!outbound_ && !certificate_names_ip(tls_->native_handle(), claimed->host)) {
      refuse("its certificate does not name the IP address it claims (" + claimed->host + ")");
      return;
    }
    authenticated_ = true;
  }
  open();
}

void connection::on_proof(std::string_view mac) {
  const std::string& initiator = outbound_ ? my_nonce_ : peer_nonce_;
  const std::string& acceptor = outbound_ ? peer_nonce_ : my_nonce_;
  const std::string expected =
      make_proof(node_.options().secret, outbound_ ? handshake_role::acceptor : handshake_role::initiator,
                 initiator, acceptor, peer_system_, claimed_);
  if (!same_proof(expected, mac)) {
    refuse("the peer's proof of the shared secret is wrong (another secret?)");
    return;
  }
  authenticated_ = true;
  open();
}

void connection::open() {
  asio::post(node_.io(), [self = shared_from_this()] { self->deadline_.cancel(); });
  {
    std::lock_guard g(mu_);
    open_.store(true, std::memory_order_release);
    kick_write_locked();
  }
  node_.on_open(*this);
}

// ---------------------------------------------------------------- writing

error connection::closed_error() const {
  return error(errc::dead_actor,
               "the connection to " + (peer_.empty() ? std::string("a peer") : peer_) + " is closed");
}

status connection::admit_locked(flow_slot& slot, std::unique_lock<spin_mutex>& g) {
  auto full = [&] {
    return slot.in_flight.load(std::memory_order_relaxed) >= window_ || queued_.size() >= max_outbound_;
  };
  if (full() && backpressure_wait_.count() > 0) {
    node_.backpressure_wait_event();
    bump(backpressure_waits_);
    credit_cv_.wait_for(g, backpressure_wait_, [&] { return closed_.load() || !full(); });
  }
  if (closed_.load(std::memory_order_relaxed)) return closed_error();
  if (!full()) return {};
  node_.backpressure_event();
  bump(backpressure_);
  if (queued_.size() >= max_outbound_) {
    return error(errc::backpressure,
                 "the queue to " + peer_ + " is full (" + std::to_string(queued_.size()) +
                     " bytes; remoting_options::max_outbound_bytes): the peer reads too slowly");
  }
  return error(errc::backpressure,
               "the receiving actor is behind: its window of " + std::to_string(window_) +
                   " bytes in flight from this node is full (remoting_options::flow_window_bytes)");
}

status connection::send(std::string_view frames, bool urgent, std::uint32_t messages) {
  return send_encoded([frames](byte_queue& queue, outbound_interns&) { queue.append(frames); }, urgent,
                      messages);
}

error connection::queue_full_locked() {
  node_.backpressure_event();
  bump(backpressure_);
  return error(errc::backpressure, "the queue to " + peer_ + " is full: the peer does not read");
}

void connection::undo_encode_locked(std::size_t before, flow_slot* slot) noexcept {
  queued_.truncate(before);
  interns_.undo_frame();
  if (slot == nullptr) return;
  if (slot->receiver_id > interns_.defined(interned_kind::receiver)) slot->receiver_id = 0;
  if (slot->last_sender_id > interns_.defined(interned_kind::sender)) slot->last_sender_id = 0;
}

bool connection::write_now_locked() {
  if (tls_ || !ready_ || !open_.load(std::memory_order_relaxed) || writing_ || !handshake_out_.empty())
    return false;
  // The line is free and someone waits for this: write it here and now.
  const ssize_t n =
      ::send(socket_.native_handle(), queued_.data(), queued_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n <= 0) return false;
  bump(bytes_sent_, static_cast<std::uint64_t>(n));
  if (n == static_cast<ssize_t>(queued_.size())) {
    queued_.clear();
    return true;
  }
  queued_.erase_front(static_cast<std::size_t>(n));  // the rest goes the usual way
  return false;
}

bool connection::claim_write_locked() {
  if (writing_ || !ready_) return false;
  if (handshake_out_.empty() && (!open_.load(std::memory_order_relaxed) || queued_.empty())) return false;
  writing_ = true;
  return true;
}

// Hands out post_memory_ while it is free (and the request fits); anything
// else goes to operator new.
template <class T>
struct connection::post_allocator {
  using value_type = T;
  post_memory* memory;
  explicit post_allocator(post_memory* m) noexcept : memory(m) {}
  template <class U>
  post_allocator(const post_allocator<U>& other) noexcept : memory(other.memory) {}
  T* allocate(std::size_t n) {
    if (n * sizeof(T) <= sizeof(memory->bytes) && alignof(T) <= alignof(std::max_align_t) &&
        !memory->used.exchange(true, std::memory_order_acquire)) {
      return reinterpret_cast<T*>(memory->bytes);
    }
    return static_cast<T*>(::operator new(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t) noexcept {
    if (static_cast<void*>(p) == static_cast<void*>(memory->bytes)) {
      memory->used.store(false, std::memory_order_release);
    } else {
      ::operator delete(p);
    }
  }
  template <class U>
  bool operator==(const post_allocator<U>& other) const noexcept {
    return memory == other.memory;
  }
};

void connection::post_write() {
  asio::post(node_.io(), asio::bind_allocator(post_allocator<std::byte>(&post_memory_),
                                              [self = shared_from_this()] { self->do_write(); }));
}

void connection::kick_write_locked() {
  if (claim_write_locked()) post_write();
}

void connection::do_write() {
  {
    std::lock_guard g(mu_);
    in_flight_.clear();
    if (!handshake_out_.empty()) {
      in_flight_.swap(handshake_out_);  // the handshake goes first, alone
      writing_messages_ = 0;
    } else {
      in_flight_.swap(queued_);  // everything queued goes out in this one write
      writing_messages_ = queued_messages_;
      queued_messages_ = 0;
    }
    if (writing_messages_ != 0 || !in_flight_.empty()) credit_cv_.notify_all();  // the queue has room again
  }
  auto self = shared_from_this();
  auto done = [self](const asio::error_code& ec, std::size_t written) {
    if (ec) {
      self->close("write failed: " + ec.message());
      return;
    }
    std::lock_guard g(self->mu_);
    bump(self->bytes_sent_, written);
    self->writing_ = false;
    self->writing_messages_ = 0;
    self->kick_write_locked();
  };
  if (tls_) {
    asio::async_write(*tls_, asio::buffer(in_flight_.data(), in_flight_.size()), done);
  } else {
    asio::async_write(socket_, asio::buffer(in_flight_.data(), in_flight_.size()), done);
  }
}

std::uint64_t connection::unsent_messages() const noexcept {
  std::lock_guard g(mu_);
  return queued_messages_ + writing_messages_;
}

connection_traffic connection::traffic() const noexcept {
  constexpr auto relaxed = std::memory_order_relaxed;
  return {.messages_sent = messages_sent_.load(relaxed),
          .bytes_sent = bytes_sent_.load(relaxed),
          .messages_received = messages_received_.load(relaxed),
          .bytes_received = bytes_received_.load(relaxed),
          .backpressure = backpressure_.load(relaxed),
          .backpressure_waits = backpressure_waits_.load(relaxed)};
}

// ---------------------------------------------------------------- flow control

std::shared_ptr<flow_slot> connection::slot_for(std::string_view receiver) {
  std::vector<std::shared_ptr<flow_slot>> forgotten;  // released after the lock (they hold senders)
  std::lock_guard g(mu_);
  auto it = slots_.find(std::string(receiver));
  if (it != slots_.end()) return it->second;
  if (slots_.size() >= inbound_cache::max_entries) {
    // Forget idle slots (nothing in flight); busy ones keep their count.
    for (auto s = slots_.begin(); s != slots_.end();) {
      if (s->second->in_flight.load() <= 0 && s->second.use_count() == 1) {
        forgotten.push_back(std::move(s->second));
        s = slots_.erase(s);
      } else {
        ++s;
      }
    }
  }
  auto slot = std::make_shared<flow_slot>();
  slots_.emplace(std::string(receiver), slot);
  return slot;
}

void connection::on_credit(std::string_view receiver, std::uint64_t bytes) {
  std::lock_guard g(mu_);
  auto it = slots_.find(std::string(receiver));
  if (it == slots_.end()) return;  // forgotten while idle: nothing was in flight
  auto& in_flight = it->second->in_flight;
  in_flight.store(in_flight.load(std::memory_order_relaxed) -
                      static_cast<std::int64_t>(std::min<std::uint64_t>(bytes, 1ull << 40)),
                  std::memory_order_relaxed);
  credit_cv_.notify_all();
}

void connection::resume_reading() {
  asio::post(node_.io(), [self = shared_from_this()] {
    if (self->is_closed()) return;
    if (self->tls_) {
      {
        std::lock_guard g(self->read_mu_);
        self->on_bytes();  // frames already buffered first
      }
      if (!self->armed_ && !self->is_closed() && !self->inflow_->paused()) self->do_read();
      return;
    }
    self->arm_read();
    std::lock_guard g(self->read_mu_);
    (void)self->drain_locked();
  });
}

// ---------------------------------------------------------------- reading

void connection::do_read() {
  char* into = in_.reserve(read_chunk);
  armed_ = true;
  auto self = shared_from_this();
  auto done = [self](const asio::error_code& ec, std::size_t n) {
    self->armed_ = false;
    {
      std::lock_guard g(self->read_mu_);
      self->in_.commit(n);
      bump(self->bytes_received_, n);
      if (ec) {
        self->close(ec == asio::error::eof ? "closed by peer" : "read failed: " + ec.message());
        return;
      }
      self->on_bytes();
    }
    if (!self->is_closed() && !self->inflow_->paused()) self->do_read();
  };
  if (tls_) {
    tls_->async_read_some(asio::buffer(into, read_chunk), done);
  } else {
    socket_.async_read_some(asio::buffer(into, read_chunk), done);
  }
}

void connection::arm_read() {
  if (armed_ || is_closed()) return;
  armed_ = true;
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](const asio::error_code& ec) {
                       self->armed_ = false;
                       if (ec) {
                         if (ec != asio::error::operation_aborted)
                           self->close("read failed: " + ec.message());
                         return;
                       }
                       if (self->is_closed() || self->inflow_->paused()) return;  // resume_reading re-arms
                       // Re-armed before draining: bytes that arrive after the drain's last
                       // recv complete the new wait (epoll is edge-triggered under asio).
                       self->arm_read();
                       std::lock_guard g(self->read_mu_);
                       (void)self->drain_locked();
                     });
}

bool connection::drain_locked() {
  if (!in_.unread().empty()) on_bytes();  // left over from a pause
  for (;;) {
    if (is_closed()) return false;
    if (inflow_->paused()) return true;
    char* into = in_.reserve(read_chunk);
    const ssize_t n = ::recv(socket_.native_handle(), into, read_chunk, MSG_DONTWAIT);
    if (n > 0) {
      in_.commit(static_cast<std::size_t>(n));
      bump(bytes_received_, static_cast<std::uint64_t>(n));
      on_bytes();
      continue;
    }
    if (n == 0) {
      close("closed by peer");
      return false;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    if (errno == EINTR) continue;
    close(std::string("read failed: ") + std::strerror(errno));
    return false;
  }
}

void connection::poll_read() {
  if (!reading_.load(std::memory_order_acquire) || is_closed() || !is_open()) return;
  std::unique_lock g(read_mu_, std::try_to_lock);
  if (!g.owns_lock()) return;  // someone is reading: they will handle it
  (void)drain_locked();
}

void connection::on_bytes() {
  last_heard_us_.store(steady_us(), std::memory_order_relaxed);
  akt::detail::send_batch batch;  // a buffer's messages to one actor arrive as one splice
  frame_view frame;
  for (;;) {
    if (is_closed() || inflow_->paused()) return;
    const bool opened = is_open();
    if (opened) {
      // A stream's tells first, with no general frame parse (node::on_interned_tells).
      if (const std::size_t taken = node_.on_interned_tells(*this, in_.unread()); taken != 0) {
        in_.consume(taken);
        continue;
      }
    }
    std::size_t used = 0;
    const decode_status s = decode_frame(
        in_.unread(), opened ? node_.options().max_frame_bytes : handshake_frame_limit, frame, used);
    if (s == decode_status::need_more) return;
    if (s != decode_status::frame) {
      node_.frame_rejected();
      if (!opened) {
        refuse(s == decode_status::too_large ? "a handshake frame over 4 KiB"
                                             : "a malformed handshake frame");
      } else {
        close(s == decode_status::too_large ? "frame over the size limit" : "malformed frame");
      }
      return;
    }
    in_.consume(used);
    if (!opened) {
      if (!handshake_frame(frame)) return;
      continue;
    }
    node_.on_frame(*this, frame, static_cast<std::uint32_t>(used));
    if (inflow_->pause_if_over()) return;  // resume_reading continues from here
  }
}

void connection::close(const std::string& why) {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return;
  const auto keep = shared_from_this();  // the pids' references may have been the last
  {
    std::lock_guard g(mu_);
    credit_cv_.notify_all();
  }
  // The pids holding this connection let go of it now, not in the handler
  // below: that never runs once the node's io_context has stopped, and a
  // pid in this connection's own reader cache (a sender's) would otherwise
  // keep it, and itself, alive for good.
  forget_handles();
  asio::post(node_.io(), [self = keep, why] {
    asio::error_code ignored;
    self->deadline_.cancel();
    {
      // A sender may be writing directly (send, urgent), a waiting thread
      // reading (poll_read): neither may see the descriptor closed under it.
      std::scoped_lock g(self->read_mu_, self->mu_);
      self->socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      self->socket_.close(ignored);
    }
    self->node_.on_closed(*self, why);
  });
}

// ---------------------------------------------------------------- handles

void connection::attach(connection_handle& h) {
  {
    std::lock_guard g(handles_mu_);
    if (!handles_forgotten_) {
      handles_.push_back(&h);
      return;
    }
  }
  (void)h.forget(this);  // closed already (released here, outside the lock)
}

void connection::detach(connection_handle& h) noexcept {
  std::lock_guard g(handles_mu_);
  std::erase(handles_, &h);
}

void connection::forget_handles() noexcept {
  std::vector<connection_handle*> handles;
  {
    std::lock_guard g(handles_mu_);
    handles_forgotten_ = true;
    handles.swap(handles_);
    // Each handle lets go while the lock is held: a handle being destroyed
    // meanwhile waits in detach() until this is done.
    for (connection_handle* h : handles) {
      connection_handle::entry e = h->forget(this);
      // e's references drop here: never the last one of this connection
      // (close() holds one), possibly the slot's.
    }
  }
}

connection_handle::~connection_handle() {
  std::lock_guard s(set_mu_);
  std::shared_ptr<connection> c = get().conn;
  if (c) c->detach(*this);
}

void connection_handle::start_with(const std::shared_ptr<connection>& c, bool bound) {
  bound_ = bound;
  set(c, nullptr);
}

void connection_handle::set(const std::shared_ptr<connection>& c, std::shared_ptr<flow_slot> slot) {
  std::lock_guard s(set_mu_);
  std::shared_ptr<connection> old;
  std::shared_ptr<flow_slot> old_slot;
  {
    std::lock_guard g(busy_);
    old = std::exchange(conn_, c);
    old_slot = std::exchange(slot_, std::move(slot));
  }
  if (old == c) return;
  if (old) old->detach(*this);
  if (c) c->attach(*this);
}  // the old references drop here, outside the locks

connection_handle::entry connection_handle::forget(const connection* c) noexcept {
  entry e;
  std::lock_guard g(busy_);
  if (conn_.get() == c) {
    e.conn = std::move(conn_);
    e.slot = std::move(slot_);
  }
  return e;
}

}  // namespace akt::remote::detail
