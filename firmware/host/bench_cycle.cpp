// Costs of the firmware's logic on this machine (firmware/README.md, "Numbers"), next to a plain reference loop
// measured in the same run:  make -C firmware bench
#include <sodium.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "kiosk_energy.h"
#include "kiosk_ota.h"
#include "kiosk_payloads.h"
#include "kiosk_stall_app.h"

namespace {

using Clock = std::chrono::steady_clock;

double microseconds(Clock::time_point since, int runs) {
  return std::chrono::duration<double, std::micro>(Clock::now() - since).count() / runs;
}

class NullSink : public kiosk::FirmwareSink {
 public:
  bool begin(uint32_t) override { return true; }
  bool write(const uint8_t*, size_t) override { return true; }
  bool commit() override { return true; }
  void abort() override {}
};

class NullReports : public kiosk::ProgressReports {
 public:
  void report(const char*, const char*, int8_t, const char*) override {}
};

}  // namespace

int main() {
  if (sodium_init() < 0) return 1;
  const int runs = 2000;
  // One energy reading cycle: a window of 10 cycles at 50 Hz (360 scans of 5 ADC values), the readings of 4
  // channels and their 4 lines.
  std::vector<int16_t> volts(360), amps(360 * 4);
  for (int i = 0; i < 360; ++i) {
    double phase = 2 * 3.14159265358979 * 50 * i / 1800.0;
    volts[i] = static_cast<int16_t>(512 + 300 * std::sin(phase));
    for (int c = 0; c < 4; ++c) amps[i * 4 + c] = static_cast<int16_t>(512 + (c + 1) * 40 * std::sin(phase));
  }
  kiosk::Calibration calibration;
  kiosk::defaultCalibration(calibration);
  char line[128];
  volatile size_t sink = 0;
  auto started = Clock::now();
  for (int r = 0; r < runs; ++r) {
    kiosk::MainsWindow window(4, 10, 360);
    for (int k = 0; !window.complete(); k = (k + 1) % 360) window.add(volts[k], &amps[k * 4]);
    kiosk::ChannelReading out[4];
    kiosk::readings(window, calibration, out);
    for (uint8_t c = 0; c < 4; ++c) {
      kiosk::EnergyReading reading;
      reading.channel = static_cast<uint8_t>(c + 1);
      reading.volts = out[c].volts;
      reading.amps = out[c].amps;
      reading.watts = out[c].watts;
      kiosk::JsonWriter writer(line, sizeof(line));
      kiosk::energyLine(writer, reading);
      sink = sink + writer.length();
    }
  }
  double cycle = microseconds(started, runs);
  started = Clock::now();
  for (int r = 0; r < runs; ++r) {  // reference: the same sums of squares in a plain loop, no windows or lines
    int64_t sums[5] = {0, 0, 0, 0, 0};
    for (int k = 0; k < 396; ++k) {
      int v = volts[k % 360] - 512;
      sums[0] += v * v;
      for (int c = 0; c < 4; ++c) {
        int a = amps[(k % 360) * 4 + c] - 512;
        sums[c + 1] += a * a;
      }
    }
    sink = sink + static_cast<size_t>(sums[0] + sums[4]);
  }
  double reference = microseconds(started, runs);

  // The OTA path: a 1 MB image streamed in 1 KB chunks through SHA-256, then the signature check.
  std::vector<uint8_t> image(1 << 20, 0x5A);
  uint8_t pk[32], sk[64];
  crypto_sign_keypair(pk, sk);
  kiosk::OtaOrder order;
  order.job = 1;
  order.size = static_cast<uint32_t>(image.size());
  crypto_hash_sha256(order.sha256, image.data(), image.size());
  crypto_sign_ed25519_detached(order.signature, nullptr, order.sha256, 32, sk);
  NullSink nullSink;
  NullReports reports;
  started = Clock::now();
  const int otaRuns = 20;
  for (int r = 0; r < otaRuns; ++r) {
    kiosk::OtaUpdate update(pk, nullSink, reports);
    update.start(order);
    for (size_t at = 0; at < image.size(); at += 1024) update.feed(image.data() + at, 1024);
    if (!update.finish()) return 1;
  }
  double ota = microseconds(started, otaRuns) / 1000.0;
  started = Clock::now();
  for (int r = 0; r < otaRuns; ++r) {  // reference: libsodium's SHA-256 of the image in one call
    uint8_t digest[32];
    crypto_hash_sha256(digest, image.data(), image.size());
    sink = sink + digest[0];
  }
  double shaOnly = microseconds(started, otaRuns) / 1000.0;

  std::printf("firmware logic on this machine (host build, -O2, no sanitizers)\n");
  std::printf("%-62s %10s\n", "measure", "value");
  std::printf("%-62s %8.1f us\n", "energy cycle: 4 channels, 10 mains cycles, readings and lines", cycle);
  std::printf("%-62s %8.1f us\n", "  reference: the same sums of squares in a plain loop", reference);
  std::printf("%-62s %8.2f ms\n", "OTA: 1 MiB streamed in 1 KiB chunks, SHA-256 + Ed25519 check", ota);
  std::printf("%-62s %8.2f ms\n", "  reference: SHA-256 of the same MiB in one call", shaOnly);
  std::printf("%-62s %8zu B\n", "memory of an update in progress (OtaUpdate, + its 1 KiB chunk)",
              sizeof(kiosk::OtaUpdate));
  std::printf("%-62s %8zu B\n", "memory of the stall sensor's logic (StallSensorApp)", sizeof(kiosk::StallSensorApp));
  std::printf("%-62s %8zu B\n", "one buffered stall reading (StallSample)", sizeof(kiosk::StallSample));
  return sink == 0xFFFFFFFF ? 1 : 0;
}
