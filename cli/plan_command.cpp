#include "commands.hpp"

namespace shapejit::cli {

void add_plan_command(CLI::App& app) {
  auto* plan = app.add_subcommand("plan", "Plan expert placement, pipeline schedules and overlap");
  plan->require_subcommand(1);
}

}  // namespace shapejit::cli
