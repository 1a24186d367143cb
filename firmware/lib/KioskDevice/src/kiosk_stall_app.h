// The stall sensor itself, for any board: it reads the door and the thermal array through a StallBoard, decides
// what to send and when (docs/protocol.md), buffers readings while the hub cannot be reached, answers commands,
// and runs firmware updates. The ESP32 sketch (firmware/stall-sensor) and the Linux build the end-to-end tests run
// (firmware/host) are two StallBoards around this same class.
#pragma once

#if !defined(__AVR__)

#include <stddef.h>
#include <stdint.h>

#include "kiosk_buffer.h"
#include "kiosk_clock.h"
#include "kiosk_commands.h"
#include "kiosk_ota.h"
#include "kiosk_payloads.h"
#include "kiosk_provision.h"
#include "kiosk_stall.h"

namespace kiosk {

class StallBoard {
 public:
  virtual ~StallBoard() {}
  virtual uint64_t uptimeMs() = 0;
  virtual bool doorClosed() = 0;                           // the reed switch's raw level (closed = magnet near)
  virtual bool readThermal(uint8_t raw[2 * kThermalPixels]) = 0;  // false: no frame (not fitted, I2C error)
  virtual bool connected() = 0;                            // logged in to the hub's broker
  // QoS 1 publish; `messageId` identifies its PUBACK (onPublished). False: not queued (offline, full).
  virtual bool publish(const char* topic, const char* payload, bool retain, int& messageId) = 0;
  virtual bool hubTime(uint64_t& epochMs) = 0;            // the HTTP Date of an answer from the hub
  // Streams `url` into `update` (feed for each chunk); false if the download broke (the app reports it).
  virtual bool download(const char* url, OtaUpdate& update, char* why, size_t capacity) = 0;
  virtual FirmwareSink& firmwareSink() = 0;
  virtual void storePending(const PendingUpdate& pending) = 0;  // kept across the reboot (NVS)
  virtual void confirmImage() = 0;                         // the new image works: no rollback
  virtual void rollBack() = 0;                             // boot the previous image now
  virtual void restart() = 0;
  virtual void forgetWifi() = 0;
  virtual void identify() = 0;                              // blink the LED for 10 s
  virtual void facts(Facts& facts) = 0;                     // rssi, ip, mac, free heap (uptime is filled in)
};

class StallSensorApp : private ProgressReports {
 public:
  static const uint16_t kBacklogChunk = 100;   // readings per backlog message
  static const uint32_t kThermalEveryMs = 100; // the AMG8833 gives 10 frames a second
  static const uint32_t kThermalSettleMs = 500;
  static const uint32_t kDoorSettleMs = 30;

  StallSensorApp(StallBoard& board, const Settings& settings, const uint8_t sitePublicKey[32], uint32_t boot,
                 const char* firmware, OfflineBuffer& buffer, const PendingUpdate& pending);

  void loop();                                              // as often as possible
  void onConnected();                                       // after each login (the board subscribed)
  void onDisconnected();
  void onMessage(const char* topic, const char* payload, size_t length);
  void onPublished(int messageId);

  // What a board subscribes to after each login.
  const char* commandsTopic() const { return commandsTopic_; }
  const char* otaTopic() const { return otaTopic_; }
  const char* willTopic() const { return statusTopic_; }   // the last will: kOfflineStatus, retained
  BootVerdict bootVerdict() const { return verdict_; }
  // How long a new image may take to reach the hub before it restarts (BootGuard::kTrialS; shorter in tests).
  void setTrialSeconds(uint32_t seconds) { trialMs_ = 1000ull * seconds; }
  const OfflineBuffer& buffer() const { return buffer_; }
  uint32_t sent() const { return sent_; }

 private:
  void report(const char* state, const char* version, int8_t percent, const char* detail) override;
  void sample(bool changed, uint64_t now);
  Facts facts();  // the board's, with the firmware and uptime
  void sendStatus();
  void sendHeartbeat();
  void sendBacklog();
  void syncClock();
  void runUpdate();
  bool send(const char* topic, const char* payload, bool retain);

  StallBoard& board_;
  Settings settings_;
  uint8_t publicKey_[32];
  uint32_t boot_;
  const char* firmware_;
  OfflineBuffer& buffer_;
  PendingUpdate pending_;
  BootVerdict verdict_;
  Clock clock_;
  Debounce door_{kDoorSettleMs};
  Debounce thermal_{kThermalSettleMs};
  OtaUpdate update_;
  OtaOrder order_;
  bool orderWaiting_ = false;
  char datastreamTopic_[80];
  char statusTopic_[80];
  char heartbeatTopic_[80];
  char ackTopic_[80];
  char progressTopic_[80];
  char logsTopic_[80];
  char commandsTopic_[80];
  char otaTopic_[80];
  char text_[4096];
  uint32_t seq_ = 0;
  uint32_t sent_ = 0;
  uint64_t lastReadingMs_ = 0;
  uint64_t lastHeartbeatMs_ = 0;
  uint64_t lastThermalMs_ = 0;
  uint64_t lastClockMs_ = 0;
  uint64_t restartAtMs_ = 0;
  uint64_t trialMs_ = 1000ull * BootGuard::kTrialS;
  bool restartPending_ = false;
  bool forgetPending_ = false;
  bool wasConnected_ = false;
  int backlogMessage_ = -1;
  uint16_t backlogCount_ = 0;
  bool thermalSeen_ = false;
  bool trialConfirmed_ = false;
};

}  // namespace kiosk

#endif
