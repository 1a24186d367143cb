#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "kiosk_provision.h"

using namespace kiosk;

namespace {

bool apply(Settings& settings, const std::string& line, std::string& answer) {
  char text[200];
  bool changed = applyProvisioning(line.data(), line.size(), settings, text, sizeof(text));
  answer = text;
  return changed;
}

const char* kToken = "q0Zk3oJ9mVYb1y8wX2n7sT5uR4cE6dA0fG1hJ2kL3mN";

}  // namespace

TEST_CASE("the Admin tab's QR text, then the Wi-Fi: the board is provisioned") {
  Settings settings;
  std::string answer;
  std::string qr = std::string(R"({"deviceId":"0b9e6f5e-1d2c-4c51-9d0a-2f1e4b6a7c80","token":")") + kToken +
                   R"(","host":"10.0.4.2","port":1883})";
  CHECK(apply(settings, qr, answer));
  CHECK(answer == R"({"ok":true,"missing":["ssid"]})");
  CHECK_FALSE(complete(settings));
  CHECK(apply(settings, R"({"ssid":"Library Staff","password":"s3cret wifi"})", answer));
  CHECK(answer == R"({"ok":true,"missing":[]})");
  CHECK(complete(settings));
  CHECK(std::string(settings.deviceId) == "0b9e6f5e-1d2c-4c51-9d0a-2f1e4b6a7c80");
  CHECK(std::string(settings.token) == kToken);
  CHECK(std::string(settings.host) == "10.0.4.2");
  CHECK(settings.port == 1883);
  CHECK(std::string(settings.ssid) == "Library Staff");
  CHECK(std::string(settings.wifiPassword) == "s3cret wifi");
}

TEST_CASE("secrets are never printed back") {
  Settings settings;
  std::string answer;
  apply(settings, std::string(R"({"token":")") + kToken + R"(","password":"s3cret wifi"})", answer);
  CHECK(answer.find(kToken) == std::string::npos);
  CHECK(answer.find("s3cret") == std::string::npos);
  apply(settings, std::string(R"({"token":")") + kToken + R"(","port":0})", answer);
  CHECK(answer.find(kToken) == std::string::npos);
}

TEST_CASE("a bad field is refused with the reason and changes nothing") {
  Settings settings;
  std::string answer;
  apply(settings, R"({"host":"10.0.4.2"})", answer);
  CHECK_FALSE(apply(settings, R"({"host":"10.0.4.9","port":70000})", answer));
  CHECK(answer == R"({"ok":false,"error":"'port' must be 1-65535"})");
  CHECK(std::string(settings.host) == "10.0.4.2");
  CHECK_FALSE(apply(settings, R"({"token":"short"})", answer));
  CHECK(answer.find("16 to 99 characters") != std::string::npos);
  CHECK_FALSE(apply(settings, R"({"host":"two words"})", answer));
  CHECK_FALSE(apply(settings, R"({"inputs":"motion"})", answer));
  CHECK_FALSE(apply(settings, R"({"site_key":"abcd"})", answer));
  CHECK_FALSE(apply(settings, "deviceId=abc", answer));
  CHECK(answer.find("not a JSON object") != std::string::npos);
  CHECK_FALSE(apply(settings, R"({"colour":"red"})", answer));
  CHECK(answer.find("nothing to set") != std::string::npos);
}

TEST_CASE("inputs, interval, the site key, and forgetting everything") {
  Settings settings;
  std::string answer;
  CHECK(apply(settings, R"({"inputs":"door","interval_s":30,"http_port":8081})", answer));
  CHECK(settings.inputs == kDoorInput);
  CHECK(settings.intervalS == 30);
  CHECK(settings.httpPort == 8081);
  std::string key(64, 'a');
  CHECK(apply(settings, R"({"site_key":")" + key + "\"}", answer));
  CHECK(std::string(settings.siteKey) == key);
  CHECK(apply(settings, R"({"forget":true})", answer));
  CHECK(answer == R"({"ok":true,"forgotten":true})");
  CHECK(settings.inputs == (kDoorInput | kThermalInput));
  CHECK(settings.siteKey[0] == '\0');
}
