// Front Desk Kiosk energy board: Arduino Uno or Nano (ATmega328P, 5 V, 16 MHz).
//
// Measures up to 4 sockets' current (ACS712 modules or CTs with a burden resistor, each biased to half the supply)
// and the mains voltage (an AC-AC adapter through a divider, optional), as RMS over whole mains cycles, and prints
// one JSON line per socket per second at 9600 baud: the USB serial protocol of docs/protocol.md. A JSON line sent to
// the board sets its calibration (firmware/README.md); its answers start with '#', which the hub ignores.
//
// Pins: A0 voltage reference, A1..A4 channels 1..4, LED 13 blinks once per report.
// All the logic is in lib/KioskDevice (tested on the host); this file only reads pins, EEPROM and the serial port.

#include <Arduino.h>
#include <EEPROM.h>

#include "kiosk_energy.h"
#include "kiosk_json.h"
#include "kiosk_lines.h"
#include "kiosk_payloads.h"

namespace {

const char kFirmware[] = "1.0.0";
const uint8_t kVoltagePin = A0;
const uint8_t kChannelPins[kiosk::kMaxChannels] = {A1, A2, A3, A4};
const uint8_t kLed = 13;
const uint8_t kCycles = 10;              // cycles per window: 200 ms at 50 Hz
const unsigned long kReportMs = 1000;    // one reading per channel a second
const int kIdAddress = 0;                // 'I' + 6 hex digits
const int kCalibrationAddress = 16;

kiosk::Calibration calibration;
char board[7];
uint16_t fallbackScans = 360;
uint32_t seq = 0;
char lineBuffer[96];
kiosk::LineReader console(lineBuffer, sizeof(lineBuffer));
bool lineReady = false;
char out[110];
kiosk::MainsWindow window(kiosk::kMaxChannels, kCycles, 360);  // set up for the calibration in setup()

void loadBoardId() {
  bool valid = EEPROM.read(kIdAddress) == 'I';
  for (uint8_t i = 0; i < 6 && valid; ++i) {
    char c = static_cast<char>(EEPROM.read(kIdAddress + 1 + i));
    valid = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
    board[i] = c;
  }
  board[6] = '\0';
  if (valid) return;
  uint32_t seed = micros();  // first start: the ADC's least significant bits are noise
  for (uint8_t i = 0; i < 32; ++i) seed = (seed << 1) ^ (analogRead(kChannelPins[i % 4]) & 1) ^ micros();
  kiosk::boardId(seed, board);
  EEPROM.update(kIdAddress, 'I');
  for (uint8_t i = 0; i < 6; ++i) EEPROM.update(kIdAddress + 1 + i, static_cast<uint8_t>(board[i]));
}

void loadCalibration() {
  uint8_t image[kiosk::kCalibrationImageBytes];
  for (size_t i = 0; i < sizeof(image); ++i) image[i] = EEPROM.read(kCalibrationAddress + static_cast<int>(i));
  kiosk::defaultCalibration(calibration);
  kiosk::loadCalibration(image, calibration);
}

void storeCalibration() {
  uint8_t image[kiosk::kCalibrationImageBytes];
  kiosk::storeCalibration(calibration, image);
  for (size_t i = 0; i < sizeof(image); ++i) EEPROM.update(kCalibrationAddress + static_cast<int>(i), image[i]);
}

void pollConsole() {
  while (!lineReady && Serial.available()) lineReady = console.feed(static_cast<char>(Serial.read()));
}

// One window of whole cycles (or of fallbackScans scans without a reference).
void measure() {
  window.reset();
  int16_t amps[kiosk::kMaxChannels] = {kiosk::kAdcMid, kiosk::kAdcMid, kiosk::kAdcMid, kiosk::kAdcMid};
  while (true) {
    int16_t volts = static_cast<int16_t>(analogRead(kVoltagePin));
    for (uint8_t i = 0; i < calibration.channels; ++i) amps[i] = static_cast<int16_t>(analogRead(kChannelPins[i]));
    if (window.add(volts, amps)) return;
    pollConsole();
  }
}

void learnScanRate() {
  int16_t amps[kiosk::kMaxChannels];
  unsigned long started = micros();
  for (uint8_t n = 0; n < 100; ++n) {
    analogRead(kVoltagePin);
    for (uint8_t i = 0; i < calibration.channels; ++i) amps[i] = static_cast<int16_t>(analogRead(kChannelPins[i]));
  }
  (void)amps;
  unsigned long perScanUs = (micros() - started) / 100;
  if (perScanUs == 0) perScanUs = 1;
  fallbackScans = static_cast<uint16_t>(1000000UL * kCycles / calibration.mainsHz / perScanUs);
}

void hello() {
  float noise[kiosk::kMaxChannels] = {0, 0, 0, 0};
  const uint8_t windows = 5;  // about a second
  for (uint8_t w = 0; w < windows; ++w) {
    measure();
    kiosk::ChannelReading readings[kiosk::kMaxChannels];
    kiosk::readings(window, calibration, readings);
    for (uint8_t i = 0; i < calibration.channels; ++i) noise[i] += readings[i].amps / windows;
  }
  kiosk::JsonWriter line(out, sizeof(out));
  if (kiosk::helloLine(line, board, kFirmware, calibration.channels, noise)) Serial.println(line.c_str());
}

}  // namespace

void setup() {
  pinMode(kLed, OUTPUT);
  Serial.begin(9600);
  loadBoardId();
  loadCalibration();
  learnScanRate();
  window = kiosk::MainsWindow(calibration.channels, kCycles, fallbackScans);
  hello();
}

void loop() {
  static unsigned long lastReport = 0;
  measure();
  kiosk::ChannelReading readings[kiosk::kMaxChannels];
  kiosk::readings(window, calibration, readings);
  digitalWrite(kLed, HIGH);
  for (uint8_t i = 0; i < calibration.channels; ++i) {
    kiosk::EnergyReading reading = kiosk::energyReading(i, calibration.channels, readings[i].volts,
                                                        readings[i].amps, readings[i].watts, seq++);
    kiosk::JsonWriter line(out, sizeof(out));
    if (kiosk::energyLine(line, reading)) Serial.println(line.c_str());
    pollConsole();
  }
  digitalWrite(kLed, LOW);
  if (lineReady) {
    char answer[110];
    if (kiosk::console(console.line(), console.length(), window, calibration, answer, sizeof(answer))) {
      storeCalibration();
      learnScanRate();
      window = kiosk::MainsWindow(calibration.channels, kCycles, fallbackScans);
    }
    Serial.println(answer);
    lineReady = false;
  }
  while (millis() - lastReport < kReportMs) pollConsole();
  lastReport = millis();
}
