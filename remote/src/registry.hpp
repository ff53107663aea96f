#pragma once

#include <akt/remote/remoting.hpp>

namespace akt::remote::detail {

// The decoder registered for a protobuf full name, or null.
message_decoder find_decoder(std::string_view type_name);
// The spawner registered for an actor kind, or an empty function.
kind_spawner find_kind(std::string_view kind);

}  // namespace akt::remote::detail
