#include "kiosk_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

namespace kiosk {

// --- writer --------------------------------------------------------------------------------------------------------

JsonWriter::JsonWriter(char* buffer, size_t capacity) : buffer_(buffer), capacity_(capacity) { reset(); }

void JsonWriter::reset() {
  length_ = 0;
  needComma_ = 0;
  depth_ = 0;
  afterKey_ = false;
  ok_ = capacity_ > 0;
  if (capacity_ > 0) buffer_[0] = '\0';
}

void JsonWriter::put(char c) {
  if (!ok_) return;
  if (length_ + 1 >= capacity_) {  // keep room for the NUL
    ok_ = false;
    buffer_[0] = '\0';
    length_ = 0;
    return;
  }
  buffer_[length_++] = c;
  buffer_[length_] = '\0';
}

void JsonWriter::puts(const char* text) {
  while (*text) put(*text++);
}

void JsonWriter::separate() {
  if (afterKey_) {
    afterKey_ = false;
    return;
  }
  uint16_t bit = static_cast<uint16_t>(1u << depth_);
  if (needComma_ & bit) put(',');
  needComma_ |= bit;
}

JsonWriter& JsonWriter::openWith(char opening) {
  separate();
  put(opening);
  if (depth_ >= 15) ok_ = false;
  depth_++;
  needComma_ &= static_cast<uint16_t>(~(1u << depth_));
  return *this;
}

JsonWriter& JsonWriter::open() { return openWith('{'); }

JsonWriter& JsonWriter::closeWith(char closing) {
  if (depth_ == 0 || afterKey_) {
    ok_ = false;
    return *this;
  }
  depth_--;
  put(closing);
  return *this;
}

JsonWriter& JsonWriter::close() { return closeWith('}'); }

JsonWriter& JsonWriter::openArray() { return openWith('['); }

JsonWriter& JsonWriter::closeArray() { return closeWith(']'); }

JsonWriter& JsonWriter::key(const char* name) {
  if (afterKey_ || depth_ == 0) ok_ = false;
  separate();
  quoted(name);
  put(':');
  afterKey_ = true;
  return *this;
}

JsonWriter& JsonWriter::string(const char* text) {
  separate();
  quoted(text);
  return *this;
}

void JsonWriter::quoted(const char* text) {
  put('"');
  static const char hex[] = "0123456789abcdef";
  for (const unsigned char* p = reinterpret_cast<const unsigned char*>(text); *p; ++p) {
    unsigned char c = *p;
    if (c == '"' || c == '\\') {
      put('\\');
      put(static_cast<char>(c));
    } else if (c == '\n') {
      puts("\\n");
    } else if (c == '\r') {
      puts("\\r");
    } else if (c == '\t') {
      puts("\\t");
    } else if (c < 0x20) {
      puts("\\u00");
      put(hex[c >> 4]);
      put(hex[c & 15]);
    } else {
      put(static_cast<char>(c));
    }
  }
  put('"');
}

void JsonWriter::digits(uint64_t value) {
  char reversed[21];
  uint8_t n = 0;
  do {
    reversed[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value);
  while (n) put(reversed[--n]);
}

void JsonWriter::digits32(uint32_t value) {  // apart from digits(): 32-bit division only, for the AVR
  char text[11];
  decimal(value, text);
  puts(text);
}

uint8_t decimal(uint32_t value, char* out) {
  char reversed[10];
  uint8_t n = 0;
  do {
    reversed[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value);
  uint8_t length = n;
  for (uint8_t i = 0; n;) out[i++] = reversed[--n];
  out[length] = '\0';
  return length;
}

JsonWriter& JsonWriter::integer(int32_t value) {
  separate();
  uint32_t magnitude = static_cast<uint32_t>(value);
  if (value < 0) {
    put('-');
    magnitude = 0u - magnitude;
  }
  digits32(magnitude);
  return *this;
}

JsonWriter& JsonWriter::unsignedInteger(uint32_t value) {
  separate();
  digits32(value);
  return *this;
}

JsonWriter& JsonWriter::bigInteger(uint64_t value) {
  separate();
  digits(value);
  return *this;
}

JsonWriter& JsonWriter::fixed(float value, uint8_t decimals) {
  separate();
  if (isnan(value) || isinf(value) || decimals > 6) {
    ok_ = false;
    return *this;
  }
  uint32_t scale = 1;
  for (uint8_t i = 0; i < decimals; ++i) scale *= 10;
  bool negative = value < 0;
  float magnitude = negative ? -value : value;
  if (magnitude * static_cast<float>(scale) >= 4.0e9f) {
    ok_ = false;
    return *this;
  }
  uint32_t rounded = static_cast<uint32_t>(magnitude * static_cast<float>(scale) + 0.5f);
  if (negative && rounded) put('-');
  digits32(rounded / scale);
  uint32_t fraction = rounded % scale;
  if (fraction) {
    put('.');
    uint8_t shown = decimals;
    while (fraction % 10 == 0) {
      fraction /= 10;
      shown--;
    }
    char out[7];
    for (uint8_t i = shown; i > 0; --i) {
      out[i - 1] = static_cast<char>('0' + fraction % 10);
      fraction /= 10;
    }
    for (uint8_t i = 0; i < shown; ++i) put(out[i]);
  }
  return *this;
}

JsonWriter& JsonWriter::boolean(bool value) {
  separate();
  puts(value ? "true" : "false");
  return *this;
}

JsonWriter& JsonWriter::raw(const char* json) {
  separate();
  puts(json);
  return *this;
}

// --- reader --------------------------------------------------------------------------------------------------------

namespace {

const char* skipSpace(const char* p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
  return p;
}

bool isHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const char* skipString(const char* p, const char* end) {  // p at the opening quote
  ++p;
  while (p < end) {
    unsigned char c = static_cast<unsigned char>(*p);
    if (c == '"') return p + 1;
    if (c < 0x20) return nullptr;
    if (c == '\\') {
      if (++p >= end) return nullptr;
      char e = *p;
      if (e == 'u') {
        if (end - p < 5 || !isHex(p[1]) || !isHex(p[2]) || !isHex(p[3]) || !isHex(p[4])) return nullptr;
        p += 4;
      } else if (!strchr("\"\\/bfnrt", e)) {
        return nullptr;
      }
    }
    ++p;
  }
  return nullptr;
}

const char* skipNumber(const char* p, const char* end) {
  if (p < end && *p == '-') ++p;
  if (p >= end) return nullptr;
  if (*p == '0') {
    ++p;
  } else if (*p >= '1' && *p <= '9') {
    while (p < end && *p >= '0' && *p <= '9') ++p;
  } else {
    return nullptr;
  }
  if (p < end && *p == '.') {
    ++p;
    if (p >= end || *p < '0' || *p > '9') return nullptr;
    while (p < end && *p >= '0' && *p <= '9') ++p;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p < end && (*p == '+' || *p == '-')) ++p;
    if (p >= end || *p < '0' || *p > '9') return nullptr;
    while (p < end && *p >= '0' && *p <= '9') ++p;
  }
  return p;
}

const char* skipLiteral(const char* p, const char* end, const char* word) {
  size_t n = strlen(word);
  if (static_cast<size_t>(end - p) < n || memcmp(p, word, n) != 0) return nullptr;
  return p + n;
}

const char* skipValue(const char* p, const char* end, uint8_t depth, JsonValue* found);

const char* skipContainer(const char* p, const char* end, uint8_t depth, bool object) {
  if (depth >= JsonReader::kMaxDepth) return nullptr;
  char closing = object ? '}' : ']';
  p = skipSpace(p + 1, end);
  if (p < end && *p == closing) return p + 1;
  while (p < end) {
    if (object) {
      if (*p != '"') return nullptr;
      p = skipString(p, end);
      if (!p) return nullptr;
      p = skipSpace(p, end);
      if (p >= end || *p != ':') return nullptr;
      p = skipSpace(p + 1, end);
    }
    p = skipValue(p, end, static_cast<uint8_t>(depth + 1), nullptr);
    if (!p) return nullptr;
    p = skipSpace(p, end);
    if (p < end && *p == ',') {
      p = skipSpace(p + 1, end);
      continue;
    }
    if (p < end && *p == closing) return p + 1;
    return nullptr;
  }
  return nullptr;
}

const char* skipValue(const char* p, const char* end, uint8_t depth, JsonValue* found) {
  p = skipSpace(p, end);
  if (p >= end) return nullptr;
  const char* start = p;
  JsonType type;
  switch (*p) {
    case '{': type = JsonType::Object; p = skipContainer(p, end, depth, true); break;
    case '[': type = JsonType::Array; p = skipContainer(p, end, depth, false); break;
    case '"': type = JsonType::String; p = skipString(p, end); break;
    case 't': type = JsonType::Boolean; p = skipLiteral(p, end, "true"); break;
    case 'f': type = JsonType::Boolean; p = skipLiteral(p, end, "false"); break;
    case 'n': type = JsonType::Null; p = skipLiteral(p, end, "null"); break;
    default: type = JsonType::Number; p = skipNumber(p, end); break;
  }
  if (p && found) {
    found->type = type;
    found->start = start;
    found->length = static_cast<size_t>(p - start);
  }
  return p;
}

// Does the raw key text (between its quotes, escapes and all) name `key`?
bool sameKey(const char* raw, size_t rawLength, const char* key) {
  JsonValue value;
  value.type = JsonType::String;
  value.start = raw - 1;
  value.length = rawLength + 2;
  char decoded[48];
  if (!JsonReader::text(value, decoded, sizeof(decoded))) return false;
  return strcmp(decoded, key) == 0;
}

JsonValue lookup(const char* p, const char* end, const char* key) {
  JsonValue none;
  p = skipSpace(p, end);
  if (p >= end || *p != '{') return none;
  p = skipSpace(p + 1, end);
  while (p < end && *p == '"') {
    const char* keyStart = p + 1;
    const char* afterKey = skipString(p, end);
    if (!afterKey) return none;
    size_t keyLength = static_cast<size_t>(afterKey - keyStart - 1);
    p = skipSpace(afterKey, end);
    if (p >= end || *p != ':') return none;
    JsonValue value;
    p = skipValue(p + 1, end, 1, &value);
    if (!p) return none;
    if (sameKey(keyStart, keyLength, key)) return value;
    p = skipSpace(p, end);
    if (p < end && *p == ',') p = skipSpace(p + 1, end);
  }
  return none;
}

void putUtf8(uint32_t code, char* out, size_t& n) {
  if (code < 0x80) {
    out[n++] = static_cast<char>(code);
  } else if (code < 0x800) {
    out[n++] = static_cast<char>(0xC0 | (code >> 6));
    out[n++] = static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out[n++] = static_cast<char>(0xE0 | (code >> 12));
    out[n++] = static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out[n++] = static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out[n++] = static_cast<char>(0xF0 | (code >> 18));
    out[n++] = static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    out[n++] = static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out[n++] = static_cast<char>(0x80 | (code & 0x3F));
  }
}

uint32_t hex4(const char* p) {
  return static_cast<uint32_t>(hexValue(p[0]) << 12 | hexValue(p[1]) << 8 | hexValue(p[2]) << 4 | hexValue(p[3]));
}

}  // namespace

JsonReader::JsonReader(const char* text, size_t length) : text_(text), length_(length), valid_(false) {
  const char* end = text + length;
  const char* p = skipSpace(text, end);
  if (p >= end || *p != '{') return;
  p = skipValue(p, end, 0, nullptr);
  valid_ = p && skipSpace(p, end) == end;
}

JsonValue JsonReader::find(const char* key) const {
  if (!valid_) return JsonValue();
  return lookup(text_, text_ + length_, key);
}

JsonValue JsonReader::findIn(const JsonValue& object, const char* key) {
  if (object.type != JsonType::Object) return JsonValue();
  return lookup(object.start, object.start + object.length, key);
}

bool JsonReader::text(const JsonValue& value, char* out, size_t capacity) {
  if (value.type != JsonType::String || capacity == 0) return false;
  const char* p = value.start + 1;
  const char* end = value.start + value.length - 1;  // the closing quote
  size_t n = 0;
  while (p < end) {
    if (n + 1 >= capacity) return false;  // room for one more byte and the NUL
    char c = *p++;
    if (c != '\\') {
      out[n++] = c;
      continue;
    }
    char e = *p++;
    switch (e) {
      case 'n': out[n++] = '\n'; break;
      case 'r': out[n++] = '\r'; break;
      case 't': out[n++] = '\t'; break;
      case 'b': out[n++] = '\b'; break;
      case 'f': out[n++] = '\f'; break;
      case 'u': {
        uint32_t code = hex4(p);
        p += 4;
        if (code >= 0xDC00 && code <= 0xDFFF) return false;  // a low surrogate on its own
        if (code >= 0xD800 && code <= 0xDBFF) {
          if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return false;  // a high surrogate on its own
          uint32_t low = hex4(p + 2);
          if (low < 0xDC00 || low > 0xDFFF) return false;
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          p += 6;
        }
        if (code == 0) return false;  // a NUL would cut the text short
        size_t bytes = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
        if (n + bytes >= capacity) return false;
        putUtf8(code, out, n);
        break;
      }
      default: out[n++] = e; break;  // " \ /
    }
  }
  out[n] = '\0';
  return true;
}

bool JsonReader::number(const JsonValue& value, double& out) {
  if (value.type != JsonType::Number || value.length >= 32) return false;
  char copy[32];
  memcpy(copy, value.start, value.length);
  copy[value.length] = '\0';
  char* stop = nullptr;
  out = strtod(copy, &stop);
  return stop == copy + value.length && !isinf(out);
}

bool JsonReader::whole(const JsonValue& value, uint32_t& out) {
  if (value.type != JsonType::Number || value.length > 10) return false;
  uint32_t result = 0;
  for (size_t i = 0; i < value.length; ++i) {
    char c = value.start[i];
    if (c < '0' || c > '9') return false;
    uint32_t digit = static_cast<uint32_t>(c - '0');
    if (result > (4294967295u - digit) / 10) return false;
    result = result * 10 + digit;
  }
  out = result;
  return true;
}

bool JsonReader::flag(const JsonValue& value, bool& out) {
  if (value.type == JsonType::Boolean) {
    out = value.start[0] == 't';
    return true;
  }
  if (value.type == JsonType::Number && value.length == 1 && (value.start[0] == '0' || value.start[0] == '1')) {
    out = value.start[0] == '1';
    return true;
  }
  return false;
}

bool JsonReader::nextItem(const JsonValue& array, size_t& at, JsonValue& item) {
  if (array.type != JsonType::Array) return false;
  const char* end = array.start + array.length - 1;  // the closing bracket
  const char* p = skipSpace(array.start + (at == 0 ? 1 : at), end);
  if (p < end && *p == ',') p = skipSpace(p + 1, end);
  if (p >= end) return false;
  const char* after = skipValue(p, end, 1, &item);
  if (!after) return false;
  at = static_cast<size_t>(after - array.start);
  return true;
}

void toHex(const uint8_t* bytes, size_t count, char* out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < count; ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  out[2 * count] = '\0';
}

bool fromHex(const char* hex, uint8_t* out, size_t count) {
  if (strlen(hex) != 2 * count) return false;
  for (size_t i = 0; i < count; ++i) {
    int high = hexValue(hex[2 * i]);
    int low = hexValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    out[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return true;
}

}  // namespace kiosk
