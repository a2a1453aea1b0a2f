#include "dispatch/names.h"

#include <cstdint>
#include <cstdio>

#include "common/crypto.h"

namespace dispatch {

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name[0])) return false;
  for (char c : name) {
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

std::string RandomName() {
  static const char* kAdjectives[] = {
      "innocent", "holy",   "trusting", "brave",  "calm",    "eager",  "gentle", "happy",
      "jolly",    "kind",   "lively",   "nimble", "proud",   "quiet",  "silly",  "witty",
      "zealous",  "amused", "bold",     "clever", "curious", "daring", "fierce", "giddy",
      "humble",   "keen",   "lucky",    "mellow", "noble",   "plucky", "rapid",  "sunny"};
  static const char* kNouns[] = {
      "werewolf", "grackle", "marlin", "otter",  "badger", "falcon", "heron",  "lynx",
      "mantis",   "narwhal", "ocelot", "panda",  "quokka", "raven",  "salmon", "tapir",
      "urchin",   "vulture", "walrus", "yak",    "zebra",  "beaver", "condor", "dingo",
      "egret",    "ferret",  "gecko",  "hornet", "ibis",   "jackal", "koala",  "lemur"};
  std::string r = common::RandomBytes(8);
  auto byte = [&](int i) { return static_cast<unsigned char>(r[static_cast<size_t>(i)]); };
  uint32_t number =
      (static_cast<uint32_t>(byte(2)) << 16 | static_cast<uint32_t>(byte(3)) << 8 | byte(4)) %
      1000000;
  char digits[8];
  std::snprintf(digits, sizeof digits, "%06u", number);
  return std::string(kAdjectives[byte(0) % 32]) + "-" + kNouns[byte(1) % 32] + "-" + digits;
}

}  // namespace dispatch
