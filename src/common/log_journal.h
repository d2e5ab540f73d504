#pragma once
// Logging to the systemd journal with structured fields (log_fields.h), through libsystemd's
// sd_journal_sendv. Used when the process runs under systemd with its standard error connected
// to the journal, so that entries have their own priority and fields instead of being lines of
// text on a stream.

#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/sink.h>

#include <memory>
#include <string>
#include <vector>

#include "common/log_fields.h"

namespace waypost {

// True when systemd connected standard error to the journal: JOURNAL_STREAM names the device
// and inode of that stream (systemd.exec(5)), and stderr is still it.
bool stderr_is_journal();

std::shared_ptr<spdlog::sinks::sink> make_journal_sink();

// The fields of one journal entry ("MESSAGE=...", "PRIORITY=6", "WAYPOST_USER=...", ...).
std::vector<std::string> journal_fields(const spdlog::details::log_msg& msg,
                                        const LogFields& fields);

}  // namespace waypost
