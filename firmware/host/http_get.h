// A minimal HTTP/1.1 GET over a plain socket, for the Linux board layer: the hub's Date header (the board's clock)
// and a firmware download streamed chunk by chunk (never the whole image in memory, as on the ESP32).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace host {

struct HttpAnswer {
  int status = 0;
  std::string date;        // the Date header, if any
  long long length = -1;   // Content-Length, -1 if none
  std::string error;       // why nothing came ("" when an answer came)
};

// GET `url` (http://host[:port]/path); each piece of the body goes to `body` (false from it stops the download).
HttpAnswer get(const std::string& url, const std::function<bool(const uint8_t*, size_t)>& body, int timeoutS = 10);

}  // namespace host
