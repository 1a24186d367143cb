#include "kiosk_commands.h"

#include <stdio.h>
#include <string.h>

#include "kiosk_json.h"

namespace kiosk {

namespace {

struct Known {
  const char* name;
  CommandKind kind;
};

const Known kKnown[] = {
    {"restart", CommandKind::Restart},           {"reset_wifi", CommandKind::ResetWifi},
    {"report_status", CommandKind::ReportStatus}, {"identify", CommandKind::Identify},
    {"sync_clock", CommandKind::SyncClock},
};

void say(CommandAnswer& answer, bool ok, bool carryOut, const char* detail) {
  answer.answer = true;
  answer.ok = ok;
  answer.carryOut = carryOut;
  strncpy(answer.detail, detail, sizeof(answer.detail) - 1);
  answer.detail[sizeof(answer.detail) - 1] = '\0';
}

}  // namespace

bool parseCommand(const char* json, size_t length, Command& out) {
  out = Command();
  JsonReader reader(json, length);
  if (!reader.valid() || !JsonReader::text(reader.find("id"), out.id, sizeof(out.id)) || !out.id[0]) return false;
  if (!JsonReader::text(reader.find("command"), out.name, sizeof(out.name))) {
    strcpy(out.name, "?");
  }
  for (const Known& known : kKnown) {
    if (strcmp(out.name, known.name) == 0) out.kind = known.kind;
  }
  JsonValue parameters = reader.find("parameters");
  uint32_t delay;
  if (JsonReader::whole(JsonReader::findIn(parameters, "delay_s"), delay)) out.delayS = delay > 300 ? 300 : delay;
  double expires;
  if (JsonReader::number(reader.find("expires"), expires)) out.expires = expires;
  return true;
}

CommandAnswer judge(const Command& command, double nowEpochS, bool updating) {
  CommandAnswer answer;
  if (command.expires > 0 && nowEpochS > 0 && nowEpochS > command.expires) return answer;  // ignored
  char detail[80];
  switch (command.kind) {
    case CommandKind::Restart:
      if (updating) {
        say(answer, false, false, "busy: firmware update running");
      } else {
        snprintf(detail, sizeof(detail), "restarting in %lu s", static_cast<unsigned long>(command.delayS));
        say(answer, true, true, detail);
      }
      break;
    case CommandKind::ResetWifi:
      if (updating) {
        say(answer, false, false, "busy: firmware update running");
      } else {
        say(answer, true, true, "forgetting Wi-Fi and restarting: provision it again over USB");
      }
      break;
    case CommandKind::ReportStatus: say(answer, true, true, "reporting now"); break;
    case CommandKind::Identify: say(answer, true, true, "blinking its LED for 10 s"); break;
    case CommandKind::SyncClock: say(answer, true, true, "reading the time from the hub"); break;
    case CommandKind::Unknown:
    default:
      snprintf(detail, sizeof(detail), "unknown command '%.40s'", command.name);
      say(answer, false, false, detail);
      break;
  }
  return answer;
}

}  // namespace kiosk
