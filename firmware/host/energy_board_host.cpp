// The energy board on Linux: the same measuring code as the Uno sketch (MainsWindow, readings, the line builders),
// fed by a simulated ADC instead of analogRead, writing its lines into a pseudo-terminal that the hub reads as a
// USB serial port. The end-to-end tests link the pty into the hub's serial/ folder (firmware/tests).
//
//   energy-board-host --link PATH [--amps 0.435,0.02] [--volts 230] [--hz 50] [--board ID] [--lines N]
//
// --amps: each channel's RMS current (A); --lines: stop after N reading lines (default: run until killed).

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "kiosk_energy.h"
#include "kiosk_lines.h"
#include "kiosk_payloads.h"

namespace {

const double kPi = 3.14159265358979323846;
const double kScansPerSecond = 1800.0;  // what the Uno reaches with 5 analogRead()s a scan

struct Adc {
  double hz = 50.0;
  double voltPeakCounts = 300.0;
  std::vector<double> ampPeakCounts;
  long scan = 0;
  unsigned noise = 12345;

  int16_t counts(double peak, double phase) {
    noise = noise * 1103515245u + 12345u;  // a count of ADC noise either way
    int jitter = static_cast<int>((noise >> 16) % 3) - 1;
    return static_cast<int16_t>(std::lround(512 + peak * std::sin(phase)) + jitter);
  }
  void next(int16_t& volts, int16_t* amps) {
    double phase = 2 * kPi * hz * static_cast<double>(scan++) / kScansPerSecond;
    volts = counts(voltPeakCounts, phase);
    for (size_t i = 0; i < ampPeakCounts.size(); ++i) amps[i] = counts(ampPeakCounts[i], phase);
  }
};

// Whether someone has the port open: a pty's master sees a hang-up while no one has its other end open.
bool opened(int master) {
  pollfd watch{master, POLLIN, 0};
  return poll(&watch, 1, 0) >= 0 && !(watch.revents & POLLHUP);
}

bool writeLine(int fd, const char* text) {
  std::string line = std::string(text) + "\r\n";  // Serial.println's ending
  size_t at = 0;
  while (at < line.size()) {
    ssize_t n = write(fd, line.data() + at, line.size() - at);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        usleep(1000);
        continue;
      }
      return false;  // nobody reads (the hub closed the port)
    }
    at += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string link, board = "E3A1F0";
  std::vector<double> amps = {0.435, 0.02};
  double volts = 230.0, hz = 50.0;
  long lines = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--link") link = value;
    if (flag == "--board") board = value;
    if (flag == "--volts") volts = std::atof(value.c_str());
    if (flag == "--hz") hz = std::atof(value.c_str());
    if (flag == "--lines") lines = std::atol(value.c_str());
    if (flag == "--amps") {
      amps.clear();
      std::stringstream list(value);
      for (std::string item; std::getline(list, item, ',');) amps.push_back(std::atof(item.c_str()));
    }
  }
  if (link.empty() || amps.empty() || amps.size() > kiosk::kMaxChannels) {
    std::cerr << "usage: energy-board-host --link PATH [--amps A1,A2,..(up to 4)] [--volts V] [--hz 50|60]\n";
    return 2;
  }
  int master = -1, slave = -1;
  char name[128];
  if (openpty(&master, &slave, name, nullptr, nullptr) != 0) {
    std::perror("openpty");
    return 1;
  }
  termios raw{};
  tcgetattr(slave, &raw);
  cfmakeraw(&raw);
  tcsetattr(slave, TCSANOW, &raw);
  close(slave);  // the hub opens it; while no one has it open, the master sees a hang-up
  fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
  unlink(link.c_str());
  if (symlink(name, link.c_str()) != 0) {
    std::perror("symlink");
    return 1;
  }
  std::cout << "board " << board << " on " << name << " linked as " << link << std::endl;

  kiosk::Calibration calibration;
  kiosk::defaultCalibration(calibration);
  calibration.channels = static_cast<uint8_t>(amps.size());
  calibration.mainsHz = static_cast<uint8_t>(hz);
  Adc adc;
  adc.hz = hz;
  calibration.voltsPerCount = static_cast<float>(volts / (adc.voltPeakCounts / std::sqrt(2.0)));
  for (size_t i = 0; i < amps.size(); ++i) {  // the counts a channel reads for its current
    adc.ampPeakCounts.push_back(amps[i] / calibration.ampsPerCount[i] * std::sqrt(2.0));
  }
  const uint8_t cycles = 10;
  const uint16_t fallback = static_cast<uint16_t>(kScansPerSecond * cycles / hz);
  kiosk::MainsWindow window(calibration.channels, cycles, fallback);
  auto measure = [&] {
    window.reset();
    int16_t v, a[kiosk::kMaxChannels] = {512, 512, 512, 512};
    while (true) {
      adc.next(v, a);
      if (window.add(v, a)) return;
    }
  };

  char out[160];
  float noise[kiosk::kMaxChannels] = {0, 0, 0, 0};
  {
    std::vector<double> peaks = adc.ampPeakCounts;  // the noise floor at start: as the Uno, over ~1 s, loads off
    for (double& p : adc.ampPeakCounts) p = 0.0;
    for (int w = 0; w < 5; ++w) {
      measure();
      kiosk::ChannelReading r[kiosk::kMaxChannels];
      kiosk::readings(window, calibration, r);
      for (uint8_t i = 0; i < calibration.channels; ++i) noise[i] += r[i].amps / 5;
    }
    adc.ampPeakCounts = peaks;
  }
  char consoleBuffer[96];
  kiosk::LineReader console(consoleBuffer, sizeof(consoleBuffer));
  uint32_t seq = 0;
  bool greeted = false;
  while (lines < 0 || static_cast<long>(seq) < lines) {
    if (!opened(master)) {  // an Uno resets when its port is opened, and says hello again: so does this board
      greeted = false;
      usleep(20000);
      continue;
    }
    if (!greeted) {
      usleep(300000);  // the hub flushes its input right after opening the port
      kiosk::JsonWriter hello(out, sizeof(out));
      kiosk::helloLine(hello, board.c_str(), "1.0.0", calibration.channels, noise);
      greeted = writeLine(master, hello.c_str());
      seq = 0;
      continue;
    }
    measure();
    kiosk::ChannelReading r[kiosk::kMaxChannels];
    kiosk::readings(window, calibration, r);
    for (uint8_t i = 0; i < calibration.channels; ++i) {
      kiosk::EnergyReading reading =
          kiosk::energyReading(i, calibration.channels, r[i].volts, r[i].amps, r[i].watts, seq++);
      kiosk::JsonWriter line(out, sizeof(out));
      if (kiosk::energyLine(line, reading) && !writeLine(master, line.c_str())) greeted = false;
    }
    char byte;
    while (read(master, &byte, 1) == 1) {
      if (!console.feed(byte)) continue;
      char answer[160];
      if (kiosk::console(console.line(), console.length(), window, calibration, answer, sizeof(answer))) {
        window = kiosk::MainsWindow(calibration.channels, cycles, fallback);
      }
      writeLine(master, answer);
    }
    usleep(200000);  // 5 reports a second: the tests need not wait a second per reading
  }
  usleep(500000);
  unlink(link.c_str());
  return 0;
}
