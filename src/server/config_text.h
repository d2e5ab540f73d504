#pragma once
// Small text helpers shared by the config.yaml parser (config.cc), renderer (config_render.cc)
// and in-place users rewrite (config_users.cc).

#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace waypost::server::text {

bool is_ascii_alnum(char c);
bool is_ifname_char(char c);
std::string lower(std::string_view s);
std::string_view trim(std::string_view s);
// A value for an error message: quoted, cut at 80 characters.
std::string quoted(std::string_view s);

// A YAML scalar that reads back as exactly `s`.
std::string yaml_scalar(std::string_view s);
// Numbers and addresses stay plain; names starting with a digit are quoted.
std::string yaml_number_like(std::string_view s);
void render_list(std::string& out, std::string_view key, const std::vector<std::string>& items,
                 std::string_view indent = "");
// render_list of free-form strings, each as yaml_scalar.
void render_scalars(std::string& out, std::string_view key, const std::vector<std::string>& values);
std::string yes_no(bool b);

// 1-based line of a YAML position.
int line_of(const YAML::Mark& m);
// Loads the first YAML document of `text`, refusing more than one; never loops on hostile input
// (see the comment at its definition). Throws YAML::Exception like YAML::Load.
YAML::Node load_single_document(const std::string& text);

}  // namespace waypost::server::text
