#include "http_get.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>
#include <strings.h>

namespace host {

namespace {

bool splitUrl(const std::string& url, std::string& hostName, std::string& port, std::string& path) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0) return false;
  std::string rest = url.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  path = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = authority.rfind(':');
  hostName = authority.substr(0, colon);
  port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  return !hostName.empty();
}

int connectTo(const std::string& hostName, const std::string& port, int timeoutS) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(hostName.c_str(), port.c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = found; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    timeval timeout{timeoutS, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  return fd;
}

}  // namespace

HttpAnswer get(const std::string& url, const std::function<bool(const uint8_t*, size_t)>& body, int timeoutS) {
  HttpAnswer answer;
  std::string hostName, port, path;
  if (!splitUrl(url, hostName, port, path)) {
    answer.error = "not an http:// address";
    return answer;
  }
  int fd = connectTo(hostName, port, timeoutS);
  if (fd < 0) {
    answer.error = "the hub's HTTP server cannot be reached";
    return answer;
  }
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + hostName + ":" + port +
                        "\r\nConnection: close\r\nUser-Agent: kiosk-stall-sensor-host\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    close(fd);
    answer.error = "the request could not be sent";
    return answer;
  }
  std::string head;
  uint8_t chunk[1024];
  long long received = 0;
  bool inBody = false;
  bool stopped = false;
  while (true) {
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0) {
      answer.error = "the download stalled";
      break;
    }
    if (n == 0) break;
    size_t at = 0;
    if (!inBody) {
      head.append(reinterpret_cast<char*>(chunk), static_cast<size_t>(n));
      size_t end = head.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (head.size() > 16384) {
          answer.error = "the answer's headers are too long";
          break;
        }
        continue;
      }
      inBody = true;
      size_t lineEnd = head.find("\r\n");
      std::string statusLine = head.substr(0, lineEnd);
      size_t space = statusLine.find(' ');
      answer.status = space == std::string::npos ? 0 : std::atoi(statusLine.c_str() + space + 1);
      size_t pos = lineEnd + 2;
      while (pos < end) {
        size_t next = head.find("\r\n", pos);
        std::string line = head.substr(pos, next - pos);
        size_t colon = line.find(':');
        if (colon != std::string::npos) {
          std::string name = line.substr(0, colon);
          std::string value = line.substr(colon + 1);
          while (!value.empty() && value.front() == ' ') value.erase(0, 1);
          if (strcasecmp(name.c_str(), "Date") == 0) answer.date = value;
          if (strcasecmp(name.c_str(), "Content-Length") == 0) answer.length = std::atoll(value.c_str());
        }
        pos = next + 2;
      }
      size_t bodyStart = end + 4;
      size_t already = head.size() - bodyStart;
      at = static_cast<size_t>(n) - already;
      if (answer.status != 200) break;  // the caller only wants the status and the date
    }
    size_t length = static_cast<size_t>(n) - at;
    if (length) {
      received += static_cast<long long>(length);
      if (!body(chunk + at, length)) {
        stopped = true;
        break;
      }
    }
    if (answer.length >= 0 && received >= answer.length) break;
  }
  close(fd);
  if (!stopped && answer.error.empty() && answer.status == 200 && answer.length >= 0 && received < answer.length) {
    answer.error = "the download ended early";
  }
  return answer;
}

}  // namespace host
