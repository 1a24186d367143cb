#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "fixtures.h"
#include "kiosk_commands.h"

using namespace kiosk;

namespace {

Command parsed(const std::string& text) {
  Command command;
  REQUIRE(parseCommand(text.data(), text.size(), command));
  return command;
}

}  // namespace

TEST_CASE("the hub's restart command, as the hub sends it") {
  Command command = parsed(fixture("to-device/command-restart.json"));
  CHECK(std::string(command.id) == "9f2c4e1a7b3d5c60");
  CHECK(command.kind == CommandKind::Restart);
  CHECK(command.delayS == 2);
  CHECK(command.expires == doctest::Approx(1795360642.5));
  CommandAnswer answer = judge(command, 1795360100.0, false);
  CHECK(answer.answer);
  CHECK(answer.ok);
  CHECK(answer.carryOut);
  CHECK(std::string(answer.detail) == "restarting in 2 s");
}

TEST_CASE("a command that came after its time-to-live is ignored") {
  Command command = parsed(fixture("to-device/command-restart.json"));
  CHECK_FALSE(judge(command, 1795360700.0, false).answer);
  CHECK(judge(command, 0, false).answer);  // the board does not know the time: it cannot tell, so it answers
}

TEST_CASE("no restart or Wi-Fi reset in the middle of a firmware update") {
  Command restart = parsed(R"({"id":"a1","command":"restart"})");
  CommandAnswer answer = judge(restart, 0, true);
  CHECK(answer.answer);
  CHECK_FALSE(answer.ok);
  CHECK_FALSE(answer.carryOut);
  CHECK(std::string(answer.detail) == "busy: firmware update running");
  Command reset = parsed(R"({"id":"a2","command":"reset_wifi"})");
  CHECK_FALSE(judge(reset, 0, true).ok);
  CHECK(judge(reset, 0, false).ok);
  Command report = parsed(R"({"id":"a3","command":"report_status"})");
  CHECK(judge(report, 0, true).ok);
}

TEST_CASE("an unknown command is refused with its name; one without an id gets no answer") {
  Command dance = parsed(R"({"id":"9f2c4e1a7b3d5c60","command":"dance","parameters":{}})");
  CommandAnswer answer = judge(dance, 0, false);
  CHECK(answer.answer);
  CHECK_FALSE(answer.ok);
  CHECK(std::string(answer.detail) == "unknown command 'dance'");
  Command none;
  const char* noId = R"({"command":"restart"})";
  CHECK_FALSE(parseCommand(noId, std::strlen(noId), none));
  const char* garbage = "restart now";
  CHECK_FALSE(parseCommand(garbage, std::strlen(garbage), none));
}

TEST_CASE("a restart's delay is bounded") {
  CHECK(parsed(R"({"id":"b","command":"restart","parameters":{"delay_s":99999}})").delayS == 300);
  CHECK(parsed(R"({"id":"b","command":"restart","parameters":{"delay_s":"soon"}})").delayS == 1);
}
