// akt/akt.hpp — everything a user of Akt's core needs, in one include.
#pragma once

#include <akt/actor.hpp>
#include <akt/actor_system.hpp>
#include <akt/context.hpp>
#include <akt/error.hpp>
#include <akt/events.hpp>
#include <akt/inbox.hpp>
#include <akt/logger.hpp>
#include <akt/message.hpp>
#include <akt/options.hpp>
#include <akt/pid.hpp>
#include <akt/supervision.hpp>
#include <akt/trace.hpp>
