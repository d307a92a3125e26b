# The demo end to end (the results table completes), its rerun (0 judge calls), and a kill during
# judging followed by a rerun.
add_test(NAME demo_marketplace_kill_and_rerun
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/marketplace_kill_test.sh $<TARGET_FILE:marketplace>
          ${CMAKE_CURRENT_BINARY_DIR}/kill_test_store)
set_tests_properties(demo_marketplace_kill_and_rerun PROPERTIES LABELS "demo" TIMEOUT 300)
add_test(NAME demo_marketplace_report COMMAND marketplace --size tiny --store ${CMAKE_CURRENT_BINARY_DIR}/report_store)
set_tests_properties(demo_marketplace_report PROPERTIES LABELS "demo" TIMEOUT 300
  PASS_REGULAR_EXPRESSION "no_feedback +[0-9.]+ +[0-9.]+ +[0-9.]+ +graph weights")
