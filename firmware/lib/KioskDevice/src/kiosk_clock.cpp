#include "kiosk_clock.h"

#include <string.h>

namespace kiosk {

namespace {

bool twoDigits(const char* p, uint8_t& out) {
  if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9') return false;
  out = static_cast<uint8_t>((p[0] - '0') * 10 + (p[1] - '0'));
  return true;
}

// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
int32_t daysFromCivil(int32_t y, uint32_t m, uint32_t d) {
  y -= m <= 2;
  const int32_t era = (y >= 0 ? y : y - 399) / 400;
  const uint32_t yoe = static_cast<uint32_t>(y - era * 400);
  const uint32_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const uint32_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int32_t>(doe) - 719468;
}

}  // namespace

bool parseHttpDate(const char* text, uint32_t& epochS) {
  // "Fri, 04 Dec 2026 01:31:47 GMT": exactly 29 characters
  if (strlen(text) != 29 || text[3] != ',' || text[4] != ' ' || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || strcmp(text + 25, " GMT") != 0) {
    return false;
  }
  static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  uint32_t month = 0;
  for (uint32_t i = 0; i < 12; ++i) {
    if (memcmp(months + 3 * i, text + 8, 3) == 0) month = i + 1;
  }
  uint8_t day, hour, minute, second, century, years;
  if (!month || !twoDigits(text + 5, day) || !twoDigits(text + 12, century) || !twoDigits(text + 14, years) ||
      !twoDigits(text + 17, hour) || !twoDigits(text + 20, minute) || !twoDigits(text + 23, second)) {
    return false;
  }
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return false;
  int32_t year = century * 100 + years;
  if (year < 2020 || year > 2105) return false;  // a board's clock before it was built is no clock
  int32_t days = daysFromCivil(year, month, day);
  epochS = static_cast<uint32_t>(days) * 86400u + hour * 3600u + minute * 60u + second;
  return true;
}

}  // namespace kiosk
