#include "kiosk_energy.h"

#include <math.h>
#include <string.h>

#if defined(__AVR__)
#include <avr/pgmspace.h>
#define KIOSK_FLASH(text) PSTR(text)  // the console's sentences stay in flash: the Uno has 2 KB of RAM
#define KIOSK_STRLEN strlen_P
#define KIOSK_MEMCPY memcpy_P
#else
#define KIOSK_FLASH(text) (text)
#define KIOSK_STRLEN strlen
#define KIOSK_MEMCPY memcpy
#endif

namespace kiosk {

namespace {

const int16_t kHysteresis = 10;  // counts below the bias before a rising crossing counts (noise never crosses twice)

void say(char* answer, size_t capacity, const char* text) {
  if (capacity < 3) return;
  answer[0] = '#';
  answer[1] = ' ';
  size_t n = KIOSK_STRLEN(text);
  if (n > capacity - 3) n = capacity - 3;
  KIOSK_MEMCPY(answer + 2, text, n);
  answer[2 + n] = '\0';
}

}  // namespace

void defaultCalibration(Calibration& c) {
  for (uint8_t i = 0; i < kMaxChannels; ++i) c.ampsPerCount[i] = 5.0f / 1024.0f / 0.185f;
  c.voltsPerCount = 0.0f;
  c.nominalVolts = 230.0f;
  c.channels = kMaxChannels;
  c.mainsHz = 50;
}

uint16_t crc16(const uint8_t* data, size_t length) {
  uint16_t crc = 0xFFFF;
  for (size_t i = 0; i < length; ++i) {
    crc = static_cast<uint16_t>(crc ^ (data[i] << 8));
    for (uint8_t bit = 0; bit < 8; ++bit) {
      crc = static_cast<uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
  }
  return crc;
}

void storeCalibration(const Calibration& calibration, uint8_t image[kCalibrationImageBytes]) {
  image[0] = 'K';
  image[1] = 'E';
  image[2] = 1;
  memcpy(image + 3, &calibration, sizeof(Calibration));
  uint16_t crc = crc16(image, 3 + sizeof(Calibration));
  image[3 + sizeof(Calibration)] = static_cast<uint8_t>(crc >> 8);
  image[4 + sizeof(Calibration)] = static_cast<uint8_t>(crc & 0xFF);
}

bool loadCalibration(const uint8_t image[kCalibrationImageBytes], Calibration& calibration) {
  if (image[0] != 'K' || image[1] != 'E' || image[2] != 1) return false;
  uint16_t crc = crc16(image, 3 + sizeof(Calibration));
  if (image[3 + sizeof(Calibration)] != (crc >> 8) || image[4 + sizeof(Calibration)] != (crc & 0xFF)) return false;
  Calibration loaded;
  memcpy(&loaded, image + 3, sizeof(Calibration));
  if (loaded.channels < 1 || loaded.channels > kMaxChannels || (loaded.mainsHz != 50 && loaded.mainsHz != 60)) {
    return false;
  }
  calibration = loaded;
  return true;
}

MainsWindow::MainsWindow(uint8_t channels, uint8_t cycles, uint16_t fallbackScans)
    : channels_(channels > kMaxChannels ? kMaxChannels : channels), cycles_(cycles), fallbackScans_(fallbackScans) {
  reset();
}

void MainsWindow::reset() {
  if (scans_ && crossings_) mid_ = static_cast<int16_t>(kAdcMid + voltSum_ / static_cast<int32_t>(scans_));
  scans_ = waited_ = 0;
  crossings_ = 0;
  armed_ = complete_ = false;
  voltSum_ = 0;
  voltSquares_ = 0;
  for (uint8_t i = 0; i < kMaxChannels; ++i) {
    ampSum_[i] = 0;
    ampSquares_[i] = 0;
  }
}

bool MainsWindow::add(int16_t volts, const int16_t* amps) {
  if (complete_) return true;
  int16_t v = static_cast<int16_t>(volts - mid_);
  bool crossed = false;
  if (v < -kHysteresis) armed_ = true;
  if (armed_ && v >= 0) {
    armed_ = false;
    crossed = true;
  }
  if (crossed) {
    crossings_++;
    if (crossings_ == 1) {  // the window starts here: what came before is not a whole cycle
      scans_ = 0;
      voltSum_ = 0;
      voltSquares_ = 0;
      for (uint8_t i = 0; i < channels_; ++i) ampSum_[i] = 0, ampSquares_[i] = 0;
    } else if (crossings_ > cycles_) {
      complete_ = true;
      return true;
    }
  }
  if (!crossings_ && ++waited_ >= fallbackScans_ && scans_ >= fallbackScans_) {  // no reference: a fixed span
    complete_ = true;
    return true;
  }
  if (crossings_ && scans_ >= 4u * fallbackScans_) {  // the reference stopped mid-window: end, and say so
    crossings_ = 0;
    complete_ = true;
    return true;
  }
  int16_t centered = static_cast<int16_t>(volts - kAdcMid);
  voltSum_ += centered;
  voltSquares_ += static_cast<uint32_t>(static_cast<int32_t>(centered) * centered);
  for (uint8_t i = 0; i < channels_; ++i) {
    int16_t a = static_cast<int16_t>(amps[i] - kAdcMid);
    ampSum_[i] += a;
    ampSquares_[i] += static_cast<uint32_t>(static_cast<int32_t>(a) * a);
  }
  scans_++;
  return false;
}

float MainsWindow::rms(int32_t sum, uint32_t squares) const {
  if (!scans_) return 0.0f;
  float n = static_cast<float>(scans_);
  float mean = static_cast<float>(sum) / n;
  float variance = static_cast<float>(squares) / n - mean * mean;
  return variance > 0.0f ? sqrtf(variance) : 0.0f;
}

float MainsWindow::voltsRmsCounts() const { return rms(voltSum_, voltSquares_); }

float MainsWindow::ampsRmsCounts(uint8_t channel) const {
  return channel < channels_ ? rms(ampSum_[channel], ampSquares_[channel]) : 0.0f;
}

void readings(const MainsWindow& window, const Calibration& calibration, ChannelReading* out) {
  float volts = calibration.nominalVolts;
  if (calibration.voltsPerCount > 0.0f && window.referenceSeen()) {
    volts = window.voltsRmsCounts() * calibration.voltsPerCount;
  }
  for (uint8_t i = 0; i < calibration.channels; ++i) {
    out[i].volts = volts;
    out[i].amps = window.ampsRmsCounts(i) * calibration.ampsPerCount[i];
    out[i].watts = out[i].volts * out[i].amps;
  }
}

bool console(const char* line, size_t length, const MainsWindow& last, Calibration& calibration, char* answer,
             size_t capacity) {
  JsonReader reader(line, length);
  if (!reader.valid()) {
    say(answer, capacity, KIOSK_FLASH("not understood: send a JSON line such as {\"show\": \"calibration\"}"));
    return false;
  }
  char word[16];
  if (JsonReader::text(reader.find("show"), word, sizeof(word))) {
    answer[0] = '#';
    answer[1] = ' ';
    JsonWriter out(answer + 2, capacity - 2);
    out.open().key("channels").unsignedInteger(calibration.channels).key("amps_per_count").openArray();
    for (uint8_t i = 0; i < calibration.channels; ++i) out.fixed(calibration.ampsPerCount[i], 6);
    out.closeArray().key("volts_per_count").fixed(calibration.voltsPerCount, 5);
    out.key("nominal_volts").fixed(calibration.nominalVolts, 1).key("mains_hz").unsignedInteger(calibration.mainsHz);
    out.key("reference").boolean(last.referenceSeen()).close();
    if (!out.ok()) say(answer, capacity, KIOSK_FLASH("the calibration does not fit the answer line"));
    return false;
  }
  if (JsonReader::text(reader.find("reset"), word, sizeof(word))) {
    defaultCalibration(calibration);
    say(answer, capacity, KIOSK_FLASH("calibration back to the defaults (ACS712-5A, 230 V, no reference)"));
    return true;
  }
  uint32_t whole;
  double number;
  if (JsonReader::whole(reader.find("channels"), whole)) {
    if (whole < 1 || whole > kMaxChannels) {
      say(answer, capacity, KIOSK_FLASH("channels must be 1 to 4"));
      return false;
    }
    calibration.channels = static_cast<uint8_t>(whole);
    say(answer, capacity, KIOSK_FLASH("channels set"));
    return true;
  }
  if (JsonReader::number(reader.find("nominal_volts"), number)) {
    if (number < 90 || number > 260) {
      say(answer, capacity, KIOSK_FLASH("nominal_volts must be 90 to 260"));
      return false;
    }
    calibration.nominalVolts = static_cast<float>(number);
    say(answer, capacity, KIOSK_FLASH("nominal voltage set"));
    return true;
  }
  if (JsonReader::whole(reader.find("mains_hz"), whole)) {
    if (whole != 50 && whole != 60) {
      say(answer, capacity, KIOSK_FLASH("mains_hz must be 50 or 60"));
      return false;
    }
    calibration.mainsHz = static_cast<uint8_t>(whole);
    say(answer, capacity, KIOSK_FLASH("mains frequency set"));
    return true;
  }
  JsonValue target = reader.find("calibrate");
  if (target.type == JsonType::Missing) {
    say(answer, capacity, KIOSK_FLASH("unknown setting: show, reset, channels, nominal_volts, mains_hz or calibrate"));
    return false;
  }
  if (JsonReader::text(target, word, sizeof(word))) {
    if (strcmp(word, "voltage") != 0) {
      say(answer, capacity, KIOSK_FLASH("calibrate takes a channel (1 to 4) or \"voltage\""));
      return false;
    }
    if (JsonReader::number(reader.find("volts_per_count"), number) && number > 0 && number < 10) {
      calibration.voltsPerCount = static_cast<float>(number);
    } else if (JsonReader::number(reader.find("volts"), number) && number >= 90 && number <= 260) {
      if (!last.referenceSeen() || last.voltsRmsCounts() < 20.0f) {
        say(answer, capacity, KIOSK_FLASH("no voltage reference seen: check the AC adapter on A0"));
        return false;
      }
      calibration.voltsPerCount = static_cast<float>(number) / last.voltsRmsCounts();
    } else {
      say(answer, capacity, KIOSK_FLASH("give \"volts\" (90 to 260, measured now) or \"volts_per_count\""));
      return false;
    }
    say(answer, capacity, KIOSK_FLASH("voltage calibrated"));
    return true;
  }
  if (!JsonReader::whole(target, whole) || whole < 1 || whole > calibration.channels) {
    say(answer, capacity, KIOSK_FLASH("calibrate takes a channel (1 to the number of channels) or \"voltage\""));
    return false;
  }
  uint8_t channel = static_cast<uint8_t>(whole - 1);
  if (JsonReader::number(reader.find("amps_per_count"), number) && number > 0 && number < 1) {
    calibration.ampsPerCount[channel] = static_cast<float>(number);
  } else if (JsonReader::number(reader.find("amps"), number) && number > 0 && number <= 100) {
    float counts = last.ampsRmsCounts(channel);
    if (counts < 2.0f) {
      say(answer, capacity, KIOSK_FLASH("that channel reads no current now: switch the known load on, then send it again"));
      return false;
    }
    calibration.ampsPerCount[channel] = static_cast<float>(number) / counts;
  } else {
    say(answer, capacity, KIOSK_FLASH("give \"amps\" (the current flowing now, up to 100) or \"amps_per_count\""));
    return false;
  }
  say(answer, capacity, KIOSK_FLASH("channel calibrated"));
  return true;
}

void boardId(uint32_t seed, char out[7]) {
  static const char digits[] = "0123456789ABCDEF";
  uint32_t x = seed ? seed : 0x9E3779B9u;  // xorshift32 scrambles a seed of few random bits
  for (uint8_t i = 0; i < 3; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
  }
  for (uint8_t i = 0; i < 6; ++i) out[i] = digits[(x >> (4 * i)) & 15];
  out[6] = '\0';
}

}  // namespace kiosk
