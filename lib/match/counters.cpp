// Per-worker match counters.
#include "match/counters.hpp"

namespace haka::match {

MatchCounters& MatchCounters::operator+=(const MatchCounters& o) {
#define X(id, name, text) id += o.id;
#include "match/counters.def"
#undef X
  return *this;
}

} // namespace haka::match
