// Hyperscan databases and scratch (see database.hpp).
#include "match/database.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "match/translate.hpp"

namespace haka::match {

namespace {

// Hyperscan's messages say "at index N" of the expression it was given;
// rewrite N as the index in the Haka pattern.
std::string map_message(const char* message, const Translation& t) {
  std::string text = message;
  static constexpr std::string_view marker = "at index ";
  const std::size_t at = text.find(marker);
  if (at == std::string::npos) return text;
  const std::size_t digits = at + marker.size();
  std::size_t end = digits;
  while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
  if (end == digits) return text;
  const std::size_t index = std::strtoull(text.c_str() + digits, nullptr, 10);
  return text.substr(0, digits) + std::to_string(t.source_index(index)) + text.substr(end);
}

struct CompileErrorDeleter {
  void operator()(hs_compile_error_t* e) const { hs_free_compile_error(e); }
};
using CompileErrorPtr = std::unique_ptr<hs_compile_error_t, CompileErrorDeleter>;

struct DatabaseDeleter {
  void operator()(hs_database_t* db) const { hs_free_database(db); }
};
using DatabasePtr = std::unique_ptr<hs_database_t, DatabaseDeleter>;

// Compiles one pattern alone; true if Hyperscan accepts it with `flags`.
bool compiles_alone(const Translation& t, unsigned flags, unsigned mode) {
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  const bool ok = hs_compile(t.expression.c_str(), flags, mode, nullptr, &db, &err) == HS_SUCCESS;
  hs_free_database(db);
  hs_free_compile_error(err);
  return ok;
}

} // namespace

std::string CompileError::describe() const {
  std::string out;
  if (index >= 0) {
    out = "pattern #" + std::to_string(index) + " (id " + std::to_string(id) + ") \"" + pattern + "\": ";
  } else {
    out = "pattern set: ";
  }
  return out + message;
}

Database::~Database() {
  hs_free_database(block_);
  hs_free_database(stream_);
}

std::shared_ptr<const Database> Database::compile(std::span<const Pattern> patterns,
                                                  const DatabaseOptions& options, CompileError& error) {
  error = CompileError{};
  if (hs_valid_platform() != HS_SUCCESS) {
    error.message = "this CPU lacks what Hyperscan needs (SSSE3)";
    return nullptr;
  }
  if (patterns.empty()) {
    error.message = "no patterns to compile";
    return nullptr;
  }
  if (!options.block && !options.stream) {
    error.message = "neither block nor stream mode asked for";
    return nullptr;
  }
  auto fail = [&](std::size_t i, std::string message) {
    error.index = static_cast<long>(i);
    error.id = patterns[i].id;
    error.pattern = patterns[i].expression;
    error.message = std::move(message);
    return nullptr;
  };

  std::vector<Translation> translated;
  translated.reserve(patterns.size());
  std::shared_ptr<Database> db(new Database());
  db->info_.resize(patterns.size());

  // Each pattern alone first: its own error message, and its widths.
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    translated.push_back(translate(patterns[i].expression, patterns[i].flags));
    const Translation& t = translated.back();
    if (!t.ok()) return fail(i, t.error);
    hs_expr_info_t* info = nullptr;
    hs_compile_error_t* err = nullptr;
    const unsigned flags = t.hs_flags | (options.allow_empty ? HS_FLAG_ALLOWEMPTY : 0u);
    if (hs_expression_info(t.expression.c_str(), flags, &info, &err) != HS_SUCCESS) {
      CompileErrorPtr guard(err);
      return fail(i, map_message(err->message, t));
    }
    PatternInfo& p = db->info_[i];
    p.id = patterns[i].id;
    p.min_width = info->min_width;
    p.max_width = info->max_width;
    std::free(info); // allocated by Hyperscan's misc allocator: malloc, never replaced here
    if (p.min_width == 0 && !options.allow_empty) {
      return fail(i, "pattern can match the empty string (refused in a pattern list: it would match at every byte)");
    }
    // Hyperscan never tracks the start of patterns that can match empty.
    p.exact_begin = options.start_of_match && p.min_width > 0;
  }

  std::vector<const char*> expressions(patterns.size());
  std::vector<unsigned> flags(patterns.size());
  std::vector<unsigned> ids(patterns.size());
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    expressions[i] = translated[i].expression.c_str();
    ids[i] = static_cast<unsigned>(i);
  }

  // Compile every mode asked for; when Hyperscan refuses a pattern that it
  // accepts alone without start-of-match, drop SOM for that pattern (in both
  // modes, so begin means the same in one-shot and streamed scans) and
  // start again. Each round drops at least one pattern's SOM, so this ends.
  DatabasePtr block;
  DatabasePtr stream;
  bool swept = false; // looked for every other SOM refusal once
  for (std::size_t round = 0; round <= patterns.size() + 1; ++round) {
    bool any_som = false;
    for (std::size_t i = 0; i < patterns.size(); ++i) {
      flags[i] = translated[i].hs_flags | (options.allow_empty ? HS_FLAG_ALLOWEMPTY : 0u) |
                 (db->info_[i].exact_begin ? HS_FLAG_SOM_LEFTMOST : 0u);
      any_som = any_som || db->info_[i].exact_begin;
    }
    block.reset();
    stream.reset();
    bool retry = false;
    for (int pass = 0; pass < 2 && !retry; ++pass) {
      const bool is_block = pass == 0;
      if (is_block ? !options.block : !options.stream) continue;
      // Stream mode with SOM needs a horizon. MEDIUM keeps begins exact for
      // matches up to 2^32 bytes long (longer ones report no exact begin,
      // see scanner.hpp) with about a quarter less stream state than LARGE
      // (100 regexes: 271 bytes, not 371).
      const unsigned mode = is_block ? HS_MODE_BLOCK : (HS_MODE_STREAM | (any_som ? HS_MODE_SOM_HORIZON_MEDIUM : 0u));
      hs_database_t* out = nullptr;
      hs_compile_error_t* err = nullptr;
      if (hs_compile_multi(expressions.data(), flags.data(), ids.data(), static_cast<unsigned>(patterns.size()),
                           mode, nullptr, &out, &err) == HS_SUCCESS) {
        (is_block ? block : stream).reset(out);
        continue;
      }
      CompileErrorPtr guard(err);
      if (err->expression < 0 || static_cast<std::size_t>(err->expression) >= patterns.size()) {
        error.message = err->message;
        return nullptr;
      }
      const auto i = static_cast<std::size_t>(err->expression);
      const unsigned mode_without_som = is_block ? HS_MODE_BLOCK : HS_MODE_STREAM;
      if (db->info_[i].exact_begin && compiles_alone(translated[i], flags[i] & ~HS_FLAG_SOM_LEFTMOST, mode_without_som)) {
        db->info_[i].exact_begin = false;
        retry = true;
        if (!swept) {
          // Find the other refusals now, one pattern at a time, rather than
          // one recompilation of the whole set each. Fixed-width patterns
          // (literals) always get SOM (begin = end - width): skip them.
          swept = true;
          const unsigned mode_with_som = is_block ? HS_MODE_BLOCK : (HS_MODE_STREAM | HS_MODE_SOM_HORIZON_MEDIUM);
          for (std::size_t j = 0; j < patterns.size(); ++j) {
            PatternInfo& p = db->info_[j];
            if (!p.exact_begin || p.min_width == p.max_width) continue;
            if (!compiles_alone(translated[j], flags[j], mode_with_som) &&
                compiles_alone(translated[j], flags[j] & ~HS_FLAG_SOM_LEFTMOST, mode_without_som)) {
              p.exact_begin = false;
            }
          }
        }
        continue;
      }
      return fail(i, map_message(err->message, translated[i]));
    }
    if (retry) continue;
    if (stream) {
      if (hs_stream_size(stream.get(), &db->stream_size_) != HS_SUCCESS) {
        error.message = "hs_stream_size failed";
        return nullptr;
      }
    }
    db->block_ = block.release();
    db->stream_ = stream.release();
    return db;
  }
  error.message = "compilation did not settle (start-of-match fallback loop)";
  return nullptr;
}

std::shared_ptr<const Database> Database::compile_regexp(std::string_view pattern, uint32_t flags,
                                                         CompileError& error) {
  const Pattern p{std::string(pattern), flags, 0};
  DatabaseOptions options;
  options.allow_empty = true;
  return compile(std::span<const Pattern>(&p, 1), options, error);
}

Scratch::~Scratch() { hs_free_scratch(scratch_); }

Scratch& Scratch::operator=(Scratch&& o) noexcept {
  if (this != &o) {
    hs_free_scratch(scratch_);
    scratch_ = o.scratch_;
    o.scratch_ = nullptr;
  }
  return *this;
}

bool Scratch::reserve(const Database& db) {
  for (const hs_database_t* d : {db.block(), db.stream()}) {
    if (d != nullptr && hs_alloc_scratch(d, &scratch_) != HS_SUCCESS) return false;
  }
  return true;
}

Scratch Scratch::clone() const {
  Scratch copy;
  if (scratch_ != nullptr && hs_clone_scratch(scratch_, &copy.scratch_) != HS_SUCCESS) copy.scratch_ = nullptr;
  return copy;
}

const char* hs_error_name(hs_error_t e) {
  switch (e) {
    case HS_SUCCESS: return "HS_SUCCESS";
    case HS_INVALID: return "HS_INVALID";
    case HS_NOMEM: return "HS_NOMEM";
    case HS_SCAN_TERMINATED: return "HS_SCAN_TERMINATED";
    case HS_COMPILER_ERROR: return "HS_COMPILER_ERROR";
    case HS_DB_VERSION_ERROR: return "HS_DB_VERSION_ERROR";
    case HS_DB_PLATFORM_ERROR: return "HS_DB_PLATFORM_ERROR";
    case HS_DB_MODE_ERROR: return "HS_DB_MODE_ERROR";
    case HS_BAD_ALIGN: return "HS_BAD_ALIGN";
    case HS_BAD_ALLOC: return "HS_BAD_ALLOC";
    case HS_SCRATCH_IN_USE: return "HS_SCRATCH_IN_USE";
    case HS_ARCH_ERROR: return "HS_ARCH_ERROR";
    case HS_INSUFFICIENT_SPACE: return "HS_INSUFFICIENT_SPACE";
    default: return "HS_UNKNOWN_ERROR";
  }
}

} // namespace haka::match
