#pragma once

#include <akt/remote/remoting.hpp>

namespace akt::remote::detail {

// The decoder registered for a protobuf full name, or null.
message_decoder find_decoder(std::string_view type_name);

}  // namespace akt::remote::detail
