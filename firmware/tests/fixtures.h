// The golden fixtures the hub's parser is tested with (tests/fixtures/payloads): one contract, one set of files.
#pragma once

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#ifndef KIOSK_FIXTURES
#error "KIOSK_FIXTURES must name tests/fixtures/payloads (the Makefile sets it)"
#endif

inline std::string fixture(const std::string& name) {
  std::ifstream file(std::string(KIOSK_FIXTURES) + "/" + name, std::ios::binary);
  if (!file) throw std::runtime_error("no fixture " + name);
  std::stringstream text;
  text << file.rdbuf();
  std::string body = text.str();
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return body;
}

#include "kiosk_stall.h"

// A combined board's reading: door and thermal, its id `seq`, taken at `takenMs` of its uptime.
inline kiosk::StallSample sample(uint32_t seq, bool closed, bool warm, uint64_t takenMs = 0) {
  kiosk::StallSample s;
  s.seq = seq;
  s.hasDoor = s.hasThermal = true;
  s.doorClosed = closed;
  s.thermal = warm;
  s.takenMs = takenMs;
  return s;
}
