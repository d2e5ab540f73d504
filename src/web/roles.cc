#include "web/roles.h"

namespace waypost::web {

std::string_view to_string(Role role) {
  switch (role) {
    case Role::kOwner:
      return "owner";
    case Role::kAdmin:
      return "admin";
    case Role::kViewer:
      return "viewer";
  }
  return "viewer";
}

std::optional<Role> parse_role(std::string_view text) {
  for (Role r : {Role::kOwner, Role::kAdmin, Role::kViewer}) {
    if (text == to_string(r)) return r;
  }
  return std::nullopt;
}

bool may(Role role, Action action) {
  switch (action) {
    case Action::kView:
    case Action::kManageOwnTokens:
      return true;
    case Action::kChangeUsers:
    case Action::kViewAudit:
      return role == Role::kOwner || role == Role::kAdmin;
    case Action::kManageAdmins:
      return role == Role::kOwner;
  }
  return false;  // an action added without a rule is denied
}

}  // namespace waypost::web
