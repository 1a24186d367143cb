#include "kiosk_stall_app.h"

#if !defined(__AVR__)

#include <stdio.h>
#include <string.h>

namespace kiosk {

StallSensorApp::StallSensorApp(StallBoard& board, const Settings& settings, const uint8_t sitePublicKey[32],
                               uint32_t boot, const char* firmware, OfflineBuffer& buffer,
                               const PendingUpdate& pending)
    : board_(board),
      settings_(settings),
      boot_(boot),
      firmware_(firmware),
      buffer_(buffer),
      pending_(pending),
      verdict_(BootVerdict::Normal),
      update_(sitePublicKey, board.firmwareSink(), *this) {
  memcpy(publicKey_, sitePublicKey, sizeof(publicKey_));
  const char* id = settings_.deviceId;
  topic(datastreamTopic_, sizeof(datastreamTopic_), "devices", id, "datastream");
  topic(statusTopic_, sizeof(statusTopic_), "devices", id, "status");
  topic(heartbeatTopic_, sizeof(heartbeatTopic_), "device", id, "status");
  topic(ackTopic_, sizeof(ackTopic_), "devices", id, "ack");
  topic(progressTopic_, sizeof(progressTopic_), "device", id, "progress");
  topic(logsTopic_, sizeof(logsTopic_), "device", id, "logs");
  topic(commandsTopic_, sizeof(commandsTopic_), "devices", id, "commands");
  topic(otaTopic_, sizeof(otaTopic_), "device", id, "ota");
  verdict_ = BootGuard::onBoot(pending_, firmware_);
  board_.storePending(pending_);
  if (verdict_ == BootVerdict::RollBack) board_.rollBack();
}

bool StallSensorApp::send(const char* where, const char* payload, bool retain) {
  int id = 0;
  return board_.connected() && board_.publish(where, payload, retain, id);
}

void StallSensorApp::report(const char* state, const char* version, int8_t percent, const char* detail) {
  char payload[192];
  JsonWriter out(payload, sizeof(payload));
  if (progress(out, state, version, percent, detail)) send(progressTopic_, payload, false);
}

void StallSensorApp::onConnected() {
  wasConnected_ = true;
  sendStatus();
  sendHeartbeat();
  syncClock();
  if (verdict_ == BootVerdict::Trial && !trialConfirmed_) {  // the new image reached the hub: it stays
    trialConfirmed_ = true;
    board_.confirmImage();
    report("updated", firmware_, -1, "");
    BootGuard::confirmed(pending_);
    board_.storePending(pending_);
  } else if (verdict_ == BootVerdict::RolledBack && pending_.job) {
    char detail[96];
    snprintf(detail, sizeof(detail), "rolled back to %s: %s did not reach the hub", firmware_, pending_.version);
    report("failed", pending_.version, -1, detail);
    BootGuard::confirmed(pending_);
    board_.storePending(pending_);
  }
  sample(true, board_.uptimeMs());  // the stall's state now, whatever it was before the connection
}

void StallSensorApp::onDisconnected() {
  wasConnected_ = false;
  backlogMessage_ = -1;  // the chunk in flight is sent again after the next login (its ids make that safe)
  backlogCount_ = 0;
}

void StallSensorApp::syncClock() {
  uint64_t epochMs = 0;
  uint64_t before = board_.uptimeMs();
  if (board_.hubTime(epochMs)) {
    uint64_t after = board_.uptimeMs();
    clock_.set(epochMs + 500, (before + after) / 2);  // an HTTP date is whole seconds: take the middle
    lastClockMs_ = after;
  }
}

Facts StallSensorApp::facts() {
  Facts now;
  board_.facts(now);
  now.firmware = firmware_;
  now.uptimeS = static_cast<uint32_t>(board_.uptimeMs() / 1000);
  return now;
}

void StallSensorApp::sendStatus() {
  JsonWriter out(text_, sizeof(text_));
  if (onlineStatus(out, facts())) send(statusTopic_, text_, true);
}

void StallSensorApp::sendHeartbeat() {
  JsonWriter out(text_, sizeof(text_));
  if (heartbeat(out, facts())) send(heartbeatTopic_, text_, false);
  lastHeartbeatMs_ = board_.uptimeMs();
}

void StallSensorApp::sample(bool changed, uint64_t now) {
  bool hasDoor = settings_.inputs & kDoorInput;
  bool hasThermal = (settings_.inputs & kThermalInput) && thermalSeen_;
  if (!hasDoor && !hasThermal) return;
  StallSample s;
  s.takenMs = now;
  s.seq = seq_++;
  s.hasDoor = hasDoor && door_.known();
  s.doorClosed = door_.level();
  s.hasThermal = hasThermal;
  s.thermal = thermal_.level();
  lastReadingMs_ = now;
  JsonWriter out(text_, sizeof(text_));
  if (board_.connected() && buffer_.empty() && stallReading(out, s, boot_, 0) && send(datastreamTopic_, text_, false)) {
    sent_++;
    return;
  }
  if (changed) buffer_.push(s);  // offline: a change is history worth keeping; a repeat of the same is not
}

void StallSensorApp::sendBacklog() {
  if (backlogMessage_ >= 0 || buffer_.empty() || !board_.connected()) return;
  JsonWriter out(text_, sizeof(text_));
  uint16_t count = backlogMessage(out, buffer_, kBacklogChunk, boot_, clock_);
  if (!count) return;
  int id = 0;
  if (board_.publish(datastreamTopic_, text_, false, id)) {
    backlogMessage_ = id;
    backlogCount_ = count;
  }
}

void StallSensorApp::onPublished(int messageId) {
  if (backlogMessage_ >= 0 && messageId == backlogMessage_) {
    buffer_.drop(backlogCount_);  // on the hub's disk now (a PUBACK means stored: docs/protocol.md)
    sent_ += backlogCount_;
    backlogMessage_ = -1;
    backlogCount_ = 0;
  }
}

void StallSensorApp::onMessage(const char* where, const char* payload, size_t length) {
  if (strcmp(where, commandsTopic_) == 0) {
    Command command;
    if (!parseCommand(payload, length, command)) return;
    uint64_t epochMs = clock_.epochMsAt(board_.uptimeMs());
    CommandAnswer answer = judge(command, static_cast<double>(epochMs) / 1000.0, update_.busy() || orderWaiting_);
    if (!answer.answer) return;
    char reply[160];
    JsonWriter out(reply, sizeof(reply));
    if (ack(out, command.id, answer.ok, answer.detail)) send(ackTopic_, reply, false);
    if (!answer.carryOut) return;
    switch (command.kind) {
      case CommandKind::Restart:
        restartPending_ = true;
        restartAtMs_ = board_.uptimeMs() + 1000ull * command.delayS;
        break;
      case CommandKind::ResetWifi:
        forgetPending_ = restartPending_ = true;
        restartAtMs_ = board_.uptimeMs() + 1000;
        break;
      case CommandKind::ReportStatus:
        sendStatus();
        sendHeartbeat();
        break;
      case CommandKind::Identify: board_.identify(); break;
      case CommandKind::SyncClock: syncClock(); break;
      case CommandKind::Unknown: break;
    }
    return;
  }
  if (strcmp(where, otaTopic_) == 0) {
    OtaOrder order;
    char why[96];
    if (!parseOtaOrder(payload, length, order, why, sizeof(why))) {
      report("failed", order.version, -1, why);
      return;
    }
    if (strcmp(order.version, firmware_) == 0) {  // already running it (a repeated order after the reboot)
      report("updated", firmware_, -1, "");
      return;
    }
    if (update_.busy() || orderWaiting_) return;  // one update at a time; the hub sends it again if need be
    order_ = order;
    orderWaiting_ = true;
  }
}

void StallSensorApp::runUpdate() {
  orderWaiting_ = false;
  if (!update_.start(order_)) return;
  char why[96] = "the download failed";
  if (!board_.download(order_.url, update_, why, sizeof(why))) {
    update_.fail(why);
    return;
  }
  if (!update_.finish()) return;
  PendingUpdate pending;
  pending.job = order_.job;
  strncpy(pending.version, order_.version, sizeof(pending.version) - 1);
  strncpy(pending.previous, firmware_, sizeof(pending.previous) - 1);
  board_.storePending(pending);
  board_.restart();
}

void StallSensorApp::loop() {
  uint64_t now = board_.uptimeMs();
  bool connected = board_.connected();
  if (wasConnected_ && !connected) onDisconnected();
  bool changed = false;
  if (settings_.inputs & kDoorInput) changed = door_.update(board_.doorClosed(), static_cast<uint32_t>(now));
  if ((settings_.inputs & kThermalInput) && now - lastThermalMs_ >= kThermalEveryMs) {
    lastThermalMs_ = now;
    uint8_t raw[2 * kThermalPixels];
    if (board_.readThermal(raw)) {
      bool first = !thermalSeen_;
      thermalSeen_ = true;
      changed = thermal_.update(someoneThere(raw, ThermalRule()), static_cast<uint32_t>(now)) || first || changed;
    }
  }
  if (changed || now - lastReadingMs_ >= 1000ull * settings_.intervalS) sample(changed, now);
  if (connected) {
    if (now - lastHeartbeatMs_ >= 6000ull * settings_.intervalS) sendHeartbeat();
    if (!clock_.known() ? now - lastClockMs_ >= 10000 : now - lastClockMs_ >= 3600000ull) syncClock();
    sendBacklog();
    uint32_t dropped = buffer_.takeDropped();
    if (dropped) {
      char message[80];
      snprintf(message, sizeof(message), "offline buffer full: %lu oldest readings dropped",
               static_cast<unsigned long>(dropped));
      JsonWriter out(text_, sizeof(text_));
      if (logLine(out, "warn", message)) send(logsTopic_, text_, false);
    }
    if (orderWaiting_) runUpdate();
  }
  if (verdict_ == BootVerdict::Trial && !trialConfirmed_ && now >= trialMs_) {
    board_.restart();  // the new image did not reach the hub in time: another trial boot, or the rollback
    return;
  }
  if (restartPending_ && now >= restartAtMs_) {
    restartPending_ = false;
    if (forgetPending_) board_.forgetWifi();
    board_.restart();
  }
}

}  // namespace kiosk

#endif
