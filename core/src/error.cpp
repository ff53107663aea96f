#include <akt/detail/type_id.hpp>
#include <akt/error.hpp>

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <typeinfo>

namespace akt {

bad_result_access::bad_result_access(akt::error e)
    : std::runtime_error("akt::result::value() on an error: " + e.to_string()), error_(std::move(e)) {}

std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::dead_actor:
      return "dead_actor";
    case errc::not_found:
      return "not_found";
    case errc::name_taken:
      return "name_taken";
    case errc::invalid_name:
      return "invalid_name";
    case errc::request_timeout:
      return "request_timeout";
    case errc::mailbox_full:
      return "mailbox_full";
    case errc::already_replied:
      return "already_replied";
    case errc::no_sender:
      return "no_sender";
    case errc::not_running:
      return "not_running";
    case errc::pre_start_failed:
      return "pre_start_failed";
    case errc::unexpected_reply:
      return "unexpected_reply";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::shutdown_timeout:
      return "shutdown_timeout";
    case errc::no_message:
      return "no_message";
    case errc::timeout:
      return "timeout";
    case errc::unhandled:
      return "unhandled";
    case errc::no_reply:
      return "no_reply";
    case errc::backpressure:
      return "backpressure";
    case errc::not_permitted:
      return "not_permitted";
    case errc::unavailable:
      return "unavailable";
  }
  return "unknown_error";
}

std::string error::to_string() const {
  std::string out(akt::to_string(code_));
  out += ": ";
  out += message_;
  return out;
}

namespace detail {

std::string format_duration(long long ns) {
  char buf[64];
  const double v = static_cast<double>(ns);
  if (ns < 1'000'000) {
    std::snprintf(buf, sizeof buf, "%g us", v / 1e3);
  } else if (ns < 10'000'000'000LL) {
    std::snprintf(buf, sizeof buf, "%g ms", v / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%g s", v / 1e9);
  }
  return buf;
}

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(mangled, nullptr, nullptr, &status),
                                             std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(mangled);
}

std::string describe_current_exception() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
  }
  const std::type_info* type = abi::__cxa_current_exception_type();
  if (type == nullptr) return "an exception not derived from std::exception";
  return "a value of type " + demangle(type->name()) + " (not derived from std::exception)";
}

}  // namespace detail
}  // namespace akt
