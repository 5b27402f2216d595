namespace shapejit::planner { int planner_abi = 1; }
