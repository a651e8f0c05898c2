// Command-line parsing for haka-dpdk: EAL arguments before "--", ours after.
#pragma once

#include <string>
#include <vector>

#include "engine/config.hpp"

namespace haka::app {

/// What the command line asked for.
struct Invocation {
  enum class Action { run, help, version } action = Action::run;
  engine::Config config;
  std::vector<std::string> eal_args; // argv for rte_eal_init, argv[0] included
  bool eal_defaulted = false;        // no EAL options given: offline defaults used
  bool no_hugepages = false;         // none reserved: --no-huge was added
};

/// Parses argv; false with a one-line `err` on any bad flag or value.
bool parse_command_line(int argc, char** argv, Invocation& inv, std::string& err);

/// The --help text.
std::string usage_text(const char* prog);

} // namespace haka::app
