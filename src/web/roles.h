#pragma once
// What each admin role may do. Every handler asks may(role, action) before it acts, so the policy
// is this one table rather than checks spread over the handlers.
//
//   action            owner  admin  viewer
//   view              yes    yes    yes      users, traffic, server status, own API tokens
//   change_users      yes    yes    no       add, disable, delete, rename VPN users; links
//   view_audit        yes    yes    no       the audit log
//   manage_own_tokens yes    yes    yes      create / revoke one's own API tokens (a viewer's
//                                            tokens are read-only like the viewer)
//   manage_admins     yes    no     no       add, reset, disable, remove admins; change roles

#include <cstdint>
#include <optional>
#include <string_view>

namespace waypost::web {

enum class Role : uint8_t { kOwner, kAdmin, kViewer };

enum class Action : uint8_t { kView, kChangeUsers, kViewAudit, kManageOwnTokens, kManageAdmins };

std::string_view to_string(Role role);
std::optional<Role> parse_role(std::string_view text);  // "owner", "admin", "viewer"

bool may(Role role, Action action);

}  // namespace waypost::web
