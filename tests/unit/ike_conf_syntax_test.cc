// The strongswan.conf / swanctl.conf settings syntax: values, quoting, merging, includes with
// globs relative to the including file, references, and the errors with file and line.
#include "ike/conf_syntax.h"

#include <gtest/gtest.h>

#include <string>

namespace waypost::ike {
namespace {

Result<ConfSection> parse(const std::string& text) {
  return parse_conf_text(text, "t.conf", nullptr);
}

std::string value_of(const ConfSection& root, std::initializer_list<std::string_view> path,
                     std::string_view key) {
  const ConfSection* s = &root;
  for (std::string_view name : path) {
    s = s->section(name);
    if (s == nullptr) return "<no section>";
  }
  const ConfValue* v = s->value(key);
  return v == nullptr ? "<no value>" : v->value;
}

TEST(IkeConfSyntaxTest, SectionsValuesAndLines) {
  auto root = parse(
      "# comment\n"
      "a = b\n"
      "one {\n"
      "  x = some words   here  # trailing comment\n"
      "  two\n"
      "  {\n"
      "    y = 1\n"
      "  }\n"
      "}\n");
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(value_of(*root, {}, "a"), "b");
  EXPECT_EQ(value_of(*root, {"one"}, "x"), "some words here");
  EXPECT_EQ(value_of(*root, {"one", "two"}, "y"), "1");
  EXPECT_EQ(root->section("one")->value("x")->where.to_string(), "t.conf:4");
  EXPECT_EQ(root->section("one")->section("two")->where.line, 5);
}

TEST(IkeConfSyntaxTest, QuotedStringsAndEscapes) {
  auto root = parse(
      "a = \"  keep  # this }  \"\n"
      "b = \"tab\\there\\nnew \\\"quote\\\" \\\\\"\n"
      "c = \"joined \\\n"
      "line\"\n"
      "d = x \"y  z\" w\n"
      "e = \n");
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(value_of(*root, {}, "a"), "  keep  # this }  ");
  EXPECT_EQ(value_of(*root, {}, "b"), "tab\there\nnew \"quote\" \\");
  EXPECT_EQ(value_of(*root, {}, "c"), "joined line");
  EXPECT_EQ(value_of(*root, {}, "d"), "x y  z w");
  EXPECT_EQ(value_of(*root, {}, "e"), "");
  EXPECT_EQ(root->value("d")->where.line, 5);  // the continued string counted its line
}

TEST(IkeConfSyntaxTest, OneLineSectionsAndDoubleColon) {
  auto root = parse("conn { local { auth = psk } remote { id = a } }\nc::d { k = v }\n");
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(value_of(*root, {"conn", "local"}, "auth"), "psk");
  EXPECT_EQ(value_of(*root, {"conn", "remote"}, "id"), "a");
  EXPECT_EQ(value_of(*root, {"c:d"}, "k"), "v");
}

TEST(IkeConfSyntaxTest, RepeatedSectionsMergeAndLastValueWins) {
  auto root = parse("s {\n a = 1\n b = 2\n}\ns {\n a = 3\n}\n");
  ASSERT_TRUE(root) << root.error().message;
  ASSERT_EQ(root->sections.size(), 1u);
  const ConfSection& s = root->sections[0];
  ASSERT_EQ(s.values.size(), 2u);
  EXPECT_EQ(s.values[0].key, "a");
  EXPECT_EQ(s.values[0].value, "3");
  EXPECT_EQ(s.values[0].where.line, 6);
  EXPECT_EQ(s.values[1].value, "2");
}

TEST(IkeConfSyntaxTest, IncludesRelativeToTheIncludingFileWithGlobs) {
  MemoryConfFiles files;
  files.add("/etc/swanctl/swanctl.conf",
            "connections {\n"
            "  include conf.d/*.conf\n"
            "}\n"
            "include secrets.conf\n");
  files.add("/etc/swanctl/conf.d/a.conf", "a { x = 1 }\n");
  files.add("/etc/swanctl/conf.d/b.conf", "b {\n  include ../inner/b.inc\n}\n");
  files.add("/etc/swanctl/inner/b.inc", "y = 2\n");
  files.add("/etc/swanctl/secrets.conf", "secrets { ike { secret = s } }\n");
  files.add("/etc/swanctl/conf.d/c.txt", "not = included\n");
  auto root = parse_conf_file("/etc/swanctl/swanctl.conf", files);
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(value_of(*root, {"connections", "a"}, "x"), "1");
  EXPECT_EQ(value_of(*root, {"connections", "b"}, "y"), "2");
  EXPECT_EQ(value_of(*root, {"secrets", "ike"}, "secret"), "s");
  EXPECT_EQ(root->section("connections")->section("b")->value("y")->where.to_string(),
            "/etc/swanctl/conf.d/../inner/b.inc:1");
  EXPECT_EQ(root->section("connections")->sections.size(), 2u);
}

TEST(IkeConfSyntaxTest, GlobWithoutMatchIsFineMissingFileIsNot) {
  MemoryConfFiles files;
  files.add("main.conf", "include none/*.conf\na = 1\n");
  ASSERT_TRUE(parse_conf_file("main.conf", files));
  files.add("main.conf", "a = 1\ninclude missing.conf\n");
  auto root = parse_conf_file("main.conf", files);
  ASSERT_FALSE(root);
  EXPECT_EQ(root.error().message,
            "main.conf:2: include 'missing.conf': no such file 'missing.conf'");
  EXPECT_TRUE(root.error().is(ErrorKind::kParse));
}

TEST(IkeConfSyntaxTest, IncludeCyclesAndDepthAreErrors) {
  MemoryConfFiles files;
  files.add("a.conf", "include b.conf\n");
  files.add("b.conf", "x = 1\ninclude a.conf\n");
  auto cycle = parse_conf_file("a.conf", files);
  ASSERT_FALSE(cycle);
  EXPECT_EQ(cycle.error().message, "b.conf:2: include 'a.conf': 'a.conf' includes itself");

  MemoryConfFiles chain;
  for (int i = 0; i < 20; ++i) {
    chain.add(fmt::format("f{}.conf", i), fmt::format("include f{}.conf\n", i + 1));
  }
  chain.add("f20.conf", "x = 1\n");
  auto deep = parse_conf_file("f0.conf", chain);
  ASSERT_FALSE(deep);
  EXPECT_NE(deep.error().message.find("includes nested deeper than 10"), std::string::npos)
      << deep.error().message;
}

TEST(IkeConfSyntaxTest, IncludesDisabledWithoutAReader) {
  auto root = parse("include other.conf\n");
  ASSERT_FALSE(root);
  EXPECT_EQ(root.error().message, "t.conf:1: include 'other.conf': includes are disabled");
}

TEST(IkeConfSyntaxTest, ReferencesInheritWhatIsNotSetLocally) {
  auto root = parse(
      "defaults {\n"
      "  a = from-defaults\n"
      "  b = from-defaults\n"
      "  local { auth = pubkey }\n"
      "}\n"
      "connections {\n"
      "  conn : defaults {\n"
      "    a = own\n"
      "    local { id = me }\n"
      "  }\n"
      "  copy : connections.conn {\n"
      "  }\n"
      "}\n");
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(value_of(*root, {"connections", "conn"}, "a"), "own");
  EXPECT_EQ(value_of(*root, {"connections", "conn"}, "b"), "from-defaults");
  EXPECT_EQ(value_of(*root, {"connections", "conn", "local"}, "auth"), "pubkey");
  EXPECT_EQ(value_of(*root, {"connections", "conn", "local"}, "id"), "me");
  EXPECT_EQ(value_of(*root, {"connections", "copy"}, "b"), "from-defaults");
  EXPECT_EQ(value_of(*root, {"connections", "copy", "local"}, "id"), "me");
  // Inherited values keep the line they were written on.
  EXPECT_EQ(root->section("connections")->section("conn")->value("b")->where.line, 3);
}

TEST(IkeConfSyntaxTest, ReferenceErrors) {
  auto missing = parse("a : nowhere {\n}\n");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message,
            "t.conf:1: section 'a' references 'nowhere', which does not exist");
  auto cycle = parse("a : b {\n}\nb : a {\n}\n");
  ASSERT_FALSE(cycle);
  EXPECT_NE(cycle.error().message.find("a cycle"), std::string::npos) << cycle.error().message;
  auto self = parse("a {\n  b : a {\n  }\n}\n");
  ASSERT_FALSE(self);
  EXPECT_NE(self.error().message.find("a cycle"), std::string::npos);
}

TEST(IkeConfSyntaxTest, SyntaxErrorsNameTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"a {\n b = 1\n", "t.conf:1: section 'a' is not closed (missing '}')"},
      {"a = 1\n}\n", "t.conf:2: '}' without a section to close"},
      {"a = \"open\n\n", "t.conf:1: unterminated string (missing '\"')"},
      {"\n\nkey value\n", "t.conf:3: expected '=' or '{' after 'key', found 'v'"},
      {"key\n", "t.conf:1: 'key' is not followed by '=' or '{'"},
      {"= 1\n", "t.conf:1: unexpected '='"},
      {"include\n", "t.conf:1: include without a file name"},
      {"a : {\n}\n", "t.conf:1: expected a section name to reference after ':'"},
  };
  for (const auto& [text, message] : cases) {
    auto root = parse(text);
    ASSERT_FALSE(root) << text;
    EXPECT_EQ(root.error().message, message) << text;
    EXPECT_TRUE(root.error().is(ErrorKind::kParse));
  }
}

TEST(IkeConfSyntaxTest, LimitsBoundHostileInput) {
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "s {\n";
  auto nested = parse(deep);
  ASSERT_FALSE(nested);
  EXPECT_NE(nested.error().message.find("nested deeper than 32"), std::string::npos);

  // Each level references the previous one twice over: exponential if not bounded.
  std::string bomb = "l0 { a = 1\n b = 2\n }\n";
  for (int i = 1; i < 30; ++i) {
    bomb += fmt::format("l{} : l{} {{ x{} {{ }} }}\n", i, i - 1, i);
    bomb += fmt::format("m{} : l{}, l{} {{ }}\n", i, i, i - 1);
  }
  auto expanded = parse(bomb);
  if (!expanded) {
    EXPECT_NE(expanded.error().message.find("references expand to more than"), std::string::npos)
        << expanded.error().message;
  }
}

}  // namespace
}  // namespace waypost::ike
