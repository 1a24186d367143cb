#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "kiosk_energy.h"
#include "kiosk_lines.h"

using namespace kiosk;

namespace {

const double kPi = 3.14159265358979323846;

// An ADC scan of mains at `hz`, sampled `scansPerSecond` times a second: the voltage reference as `voltPeak`
// counts around 512, each channel's current as its peak counts (in phase), plus an offset per channel.
struct Mains {
  double hz = 50.0;
  double scansPerSecond = 1800.0;
  double voltPeak = 300.0;
  double ampPeaks[4] = {100.0, 10.0, 0.0, 250.0};
  int16_t bias = 512;
  long scan = 0;

  void next(int16_t& volts, int16_t* amps) {
    double phase = 2 * kPi * hz * scan / scansPerSecond + 0.3;
    scan++;
    volts = static_cast<int16_t>(std::lround(bias + voltPeak * std::sin(phase)));
    for (int i = 0; i < 4; ++i) amps[i] = static_cast<int16_t>(std::lround(bias + ampPeaks[i] * std::sin(phase)));
  }
};

void fill(MainsWindow& window, Mains& mains) {
  int16_t volts, amps[4];
  for (int guard = 0; guard < 100000 && !window.complete(); ++guard) {
    mains.next(volts, amps);
    window.add(volts, amps);
  }
  REQUIRE(window.complete());
}

}  // namespace

TEST_CASE("RMS over whole mains cycles") {
  Mains mains;
  MainsWindow window(4, 10, 360);
  fill(window, mains);
  CHECK(window.referenceSeen());
  CHECK(window.scans() == doctest::Approx(360).epsilon(0.01));  // 10 cycles at 50 Hz, 1,800 scans a second
  CHECK(window.voltsRmsCounts() == doctest::Approx(300.0 / std::sqrt(2.0)).epsilon(0.005));
  CHECK(window.ampsRmsCounts(0) == doctest::Approx(100.0 / std::sqrt(2.0)).epsilon(0.005));
  CHECK(window.ampsRmsCounts(1) == doctest::Approx(10.0 / std::sqrt(2.0)).epsilon(0.03));
  CHECK(window.ampsRmsCounts(2) < 0.5);  // nothing flowing: only the ADC's rounding
  CHECK(window.ampsRmsCounts(3) == doctest::Approx(250.0 / std::sqrt(2.0)).epsilon(0.005));
}

TEST_CASE("whole cycles make the result independent of where the window starts, and of the bias") {
  for (long start : {0L, 7L, 19L, 33L}) {
    Mains mains;
    mains.scan = start;
    mains.bias = 498;  // a reference biased off the middle
    MainsWindow window(4, 10, 360);
    fill(window, mains);
    MainsWindow second(4, 10, 360);
    fill(second, mains);  // the next window: bias learnt from the first
    CHECK(second.ampsRmsCounts(0) == doctest::Approx(100.0 / std::sqrt(2.0)).epsilon(0.005));
  }
  Mains us;
  us.hz = 60.0;
  MainsWindow window(4, 10, 300);
  fill(window, us);
  CHECK(window.scans() == doctest::Approx(300).epsilon(0.01));  // 10 cycles at 60 Hz
}

TEST_CASE("without a voltage reference: a fixed span, and the nominal voltage") {
  Mains mains;
  mains.voltPeak = 0;  // no AC adapter: the reference pin sits at its bias
  MainsWindow window(4, 10, 360);
  fill(window, mains);
  CHECK_FALSE(window.referenceSeen());
  CHECK(window.scans() == 360);
  Calibration calibration;
  defaultCalibration(calibration);
  ChannelReading out[4];
  readings(window, calibration, out);
  CHECK(out[0].volts == doctest::Approx(230.0));
  // 100 counts peak = 70.7 counts RMS x 0.02639 A per count
  CHECK(out[0].amps == doctest::Approx(70.71 * 5.0 / 1024.0 / 0.185).epsilon(0.01));
  CHECK(out[0].watts == doctest::Approx(out[0].volts * out[0].amps));
}

TEST_CASE("readings with a calibrated voltage reference agree with the hub's power rule") {
  Mains mains;
  MainsWindow window(4, 10, 360);
  fill(window, mains);
  Calibration calibration;
  defaultCalibration(calibration);
  calibration.voltsPerCount = 230.0f / (300.0f / std::sqrt(2.0f));
  ChannelReading out[4];
  readings(window, calibration, out);
  for (int i = 0; i < 4; ++i) {
    CHECK(out[i].volts == doctest::Approx(230.0).epsilon(0.005));
    // the hub refuses power that differs from voltage x current by more than 10 % + 1 W
    CHECK(std::fabs(out[i].watts - out[i].volts * out[i].amps) <= 0.1 * out[i].volts * out[i].amps + 1.0);
  }
}

TEST_CASE("calibration survives in EEPROM; a blank or damaged image keeps the defaults") {
  Calibration calibration;
  defaultCalibration(calibration);
  calibration.ampsPerCount[2] = 0.0123f;
  calibration.channels = 3;
  uint8_t image[kCalibrationImageBytes];
  storeCalibration(calibration, image);
  Calibration loaded;
  defaultCalibration(loaded);
  REQUIRE(loadCalibration(image, loaded));
  CHECK(loaded.ampsPerCount[2] == doctest::Approx(0.0123));
  CHECK(loaded.channels == 3);
  image[7] ^= 0x10;
  Calibration damaged;
  defaultCalibration(damaged);
  CHECK_FALSE(loadCalibration(image, damaged));
  CHECK(damaged.channels == 4);
  uint8_t blank[kCalibrationImageBytes];
  std::memset(blank, 0xFF, sizeof(blank));  // a new chip's EEPROM
  CHECK_FALSE(loadCalibration(blank, damaged));
}

TEST_CASE("the console calibrates against a known load and answers with lines the hub ignores") {
  Mains mains;
  MainsWindow window(4, 10, 360);
  fill(window, mains);
  Calibration calibration;
  defaultCalibration(calibration);
  char answer[200];
  auto send = [&](const char* line) { return console(line, std::strlen(line), window, calibration, answer, 200); };
  CHECK(send(R"({"calibrate": 1, "amps": 2.0})"));
  CHECK(std::string(answer) == "# channel calibrated");
  CHECK(calibration.ampsPerCount[0] == doctest::Approx(2.0 / (100.0 / std::sqrt(2.0))).epsilon(0.005));
  CHECK_FALSE(send(R"({"calibrate": 3, "amps": 2.0})"));  // channel 3 carries nothing
  CHECK(std::string(answer).find("reads no current") != std::string::npos);
  CHECK(send(R"({"calibrate": 2, "amps_per_count": 0.05})"));
  CHECK(calibration.ampsPerCount[1] == doctest::Approx(0.05));
  CHECK(send(R"({"calibrate": "voltage", "volts": 231.0})"));
  CHECK(calibration.voltsPerCount == doctest::Approx(231.0 / (300.0 / std::sqrt(2.0))).epsilon(0.005));
  CHECK_FALSE(send(R"({"calibrate": 9, "amps": 1})"));
  CHECK_FALSE(send(R"({"mains_hz": 55})"));
  CHECK(send(R"({"channels": 2})"));
  CHECK(calibration.channels == 2);
  CHECK_FALSE(send(R"({"show": "calibration"})"));
  CHECK(std::string(answer).rfind("# {\"channels\":2,\"amps_per_count\":[", 0) == 0);
  CHECK_FALSE(send("hello?"));
  CHECK(std::string(answer).rfind("# ", 0) == 0);
  CHECK(send(R"({"reset": "calibration"})"));
  CHECK(calibration.channels == 4);
}

TEST_CASE("a board id from a seed") {
  char a[7], b[7], c[7];
  boardId(12345, a);
  boardId(12345, b);
  boardId(12346, c);
  CHECK(std::string(a) == std::string(b));
  CHECK(std::string(a) != std::string(c));
  CHECK(std::strlen(a) == 6);
  for (char ch : std::string(a)) CHECK(std::strchr("0123456789ABCDEF", ch) != nullptr);
}

TEST_CASE("serial lines: framing, CR LF, and overlong lines dropped whole") {
  char buffer[16];
  LineReader reader(buffer, sizeof(buffer));
  std::string got;
  auto feed = [&](const std::string& bytes) {
    for (char c : bytes) {
      if (reader.feed(c)) got += std::string(reader.line()) + "|";
    }
  };
  feed("{\"show\":1}\r\n\n\nabc");
  CHECK(got == "{\"show\":1}|");
  feed("def\n");
  CHECK(got == "{\"show\":1}|abcdef|");
  feed("this line is much too long for the buffer\nok\n");
  CHECK(got == "{\"show\":1}|abcdef|ok|");
  CHECK(reader.overlong() == 1);
}
