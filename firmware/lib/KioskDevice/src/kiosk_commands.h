// Commands from the hub (devices/{id}/commands, organizations/{org}/broadcast) and what the board answers on
// devices/{id}/ack (docs/protocol.md, "Commands").
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kiosk {

enum class CommandKind : uint8_t { Unknown, Restart, ResetWifi, ReportStatus, Identify, SyncClock };

struct Command {
  char id[24] = {0};
  char name[24] = {0};
  CommandKind kind = CommandKind::Unknown;
  uint32_t delayS = 1;     // restart: parameters.delay_s (0..300)
  double expires = 0;      // seconds since 1970; 0 = none given
};

// False when there is nothing to answer: not JSON, or no "id" (an answer needs the command's id).
bool parseCommand(const char* json, size_t length, Command& out);

struct CommandAnswer {
  bool answer = false;     // false: say nothing (it expired before it came)
  bool ok = false;
  bool carryOut = false;   // the board should do it (after publishing the answer)
  char detail[80] = {0};
};

// `nowEpochS` 0 when the board does not know the time (then nothing counts as expired); `updating` while an OTA
// update runs (a restart or a Wi-Fi reset would break it).
CommandAnswer judge(const Command& command, double nowEpochS, bool updating);

}  // namespace kiosk
