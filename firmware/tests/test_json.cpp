#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "kiosk_json.h"

using kiosk::JsonReader;
using kiosk::JsonType;
using kiosk::JsonValue;
using kiosk::JsonWriter;

TEST_CASE("the writer makes compact JSON with commas where they belong") {
  char buffer[128];
  JsonWriter out(buffer, sizeof(buffer));
  out.open().key("a").integer(-5).key("b").openArray().unsignedInteger(1).boolean(false).string("x").closeArray();
  out.key("c").open().close().key("d").bigInteger(1795360012500ull).close();
  CHECK(out.ok());
  CHECK(std::string(out.c_str()) == R"({"a":-5,"b":[1,false,"x"],"c":{},"d":1795360012500})");
}

TEST_CASE("numbers are written with their decimals, trailing zeros dropped, never -0") {
  char buffer[64];
  JsonWriter out(buffer, sizeof(buffer));
  out.openArray().fixed(230.5f, 1).fixed(0.45f, 3).fixed(103.73f, 2).fixed(230.0f, 1).fixed(-0.0001f, 2);
  out.fixed(-1.25f, 2).fixed(0.0f, 3).fixed(99.999f, 2).closeArray();
  CHECK(out.ok());
  CHECK(std::string(out.c_str()) == "[230.5,0.45,103.73,230,0,-1.25,0,100]");
}

TEST_CASE("what cannot be written fails the whole text") {
  char buffer[16];
  JsonWriter small(buffer, sizeof(buffer));
  small.open().key("message").string("far too long for sixteen bytes").close();
  CHECK_FALSE(small.ok());
  CHECK(std::strlen(small.c_str()) == 0);

  char big[64];
  JsonWriter nan(big, sizeof(big));
  nan.open().key("v").fixed(std::nanf(""), 2).close();
  CHECK_FALSE(nan.ok());
  JsonWriter open(big, sizeof(big));
  open.open().key("v");
  CHECK_FALSE(open.ok());
}

TEST_CASE("text is escaped as JSON requires") {
  char buffer[64];
  JsonWriter out(buffer, sizeof(buffer));
  out.string("a\"b\\c\nd\x01");
  CHECK(std::string(out.c_str()) == R"("a\"b\\c\nd\u0001")");
}

TEST_CASE("the reader finds top-level keys, whatever the spacing and order") {
  const char* text = R"( { "job" : 12, "nested": {"job": 99, "deep": [1, {"x": "y"}]}, "url":"http://h/x.bin",
                          "ok": true, "size": 4096, "neg": -1.5e3 } )";
  JsonReader reader(text, std::strlen(text));
  REQUIRE(reader.valid());
  uint32_t job = 0;
  CHECK(JsonReader::whole(reader.find("job"), job));
  CHECK(job == 12);
  char url[32];
  CHECK(JsonReader::text(reader.find("url"), url, sizeof(url)));
  CHECK(std::string(url) == "http://h/x.bin");
  bool ok = false;
  CHECK(JsonReader::flag(reader.find("ok"), ok));
  CHECK(ok);
  double negative = 0;
  CHECK(JsonReader::number(reader.find("neg"), negative));
  CHECK(negative == -1500.0);
  uint32_t inner = 0;
  CHECK(JsonReader::whole(JsonReader::findIn(reader.find("nested"), "job"), inner));
  CHECK(inner == 99);
  CHECK(reader.find("missing").type == JsonType::Missing);
  CHECK_FALSE(JsonReader::whole(reader.find("neg"), job));
}

TEST_CASE("invalid or hostile text finds nothing") {
  const char* bad[] = {
      "",
      "[1,2]",
      "{\"a\":1",
      "{\"a\":1}}",
      "{\"a\":tru}",
      "{\"a\":01}",
      "{\"a\":\"unterminated}",
      "{\"a\":\"tab\there\"}",
      "{\"a\":\"\\x\"}",
      "{\"a\" 1}",
      "{\"a\":1,}",
  };
  for (const char* text : bad) {
    JsonReader reader(text, std::strlen(text));
    CHECK_MESSAGE(!reader.valid(), text);
    CHECK(reader.find("a").type == JsonType::Missing);
  }
  std::string deep = "{\"a\":";
  for (int i = 0; i < 40; ++i) deep += "[";
  for (int i = 0; i < 40; ++i) deep += "]";
  deep += "}";
  CHECK_FALSE(JsonReader(deep.data(), deep.size()).valid());
}

TEST_CASE("escapes are decoded, surrogate pairs joined, lone surrogates refused") {
  const char* text = R"({"a":"caf\u00e9 \ud83d\ude00 \"q\" \/","lone":"\ud800","nul":"x\u0000y"})";
  JsonReader reader(text, std::strlen(text));
  REQUIRE(reader.valid());
  char out[64];
  REQUIRE(JsonReader::text(reader.find("a"), out, sizeof(out)));
  CHECK(std::string(out) == "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" /");
  CHECK_FALSE(JsonReader::text(reader.find("lone"), out, sizeof(out)));
  CHECK_FALSE(JsonReader::text(reader.find("nul"), out, sizeof(out)));
  char tiny[4];
  CHECK_FALSE(JsonReader::text(reader.find("a"), tiny, sizeof(tiny)));
}

TEST_CASE("whole numbers stay within 32 bits") {
  const char* text = R"({"max":4294967295,"over":4294967296,"frac":1.5,"neg":-1})";
  JsonReader reader(text, std::strlen(text));
  uint32_t value = 0;
  CHECK(JsonReader::whole(reader.find("max"), value));
  CHECK(value == 4294967295u);
  CHECK_FALSE(JsonReader::whole(reader.find("over"), value));
  CHECK_FALSE(JsonReader::whole(reader.find("frac"), value));
  CHECK_FALSE(JsonReader::whole(reader.find("neg"), value));
}

TEST_CASE("array items one after another") {
  const char* text = R"({"list":[1, "two", {"three":3}, [4]]})";
  JsonReader reader(text, std::strlen(text));
  JsonValue list = reader.find("list");
  size_t at = 0;
  JsonValue item;
  JsonType seen[4];
  int n = 0;
  while (JsonReader::nextItem(list, at, item) && n < 5) seen[n++] = item.type;
  REQUIRE(n == 4);
  CHECK(seen[0] == JsonType::Number);
  CHECK(seen[1] == JsonType::String);
  CHECK(seen[2] == JsonType::Object);
  CHECK(seen[3] == JsonType::Array);
}

TEST_CASE("hex both ways") {
  uint8_t bytes[3] = {0x00, 0xAB, 0x7f};
  char hex[7];
  kiosk::toHex(bytes, 3, hex);
  CHECK(std::string(hex) == "00ab7f");
  uint8_t back[3];
  CHECK(kiosk::fromHex("00AB7f", back, 3));
  CHECK(std::memcmp(back, bytes, 3) == 0);
  CHECK_FALSE(kiosk::fromHex("00ab7", back, 3));
  CHECK_FALSE(kiosk::fromHex("00ab7g", back, 3));
}
