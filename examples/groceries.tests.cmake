# Both Groceries tasks on the real data (KEREC_GROCERIES_DIR at configure time, else
# KEREC_TEST_DATA_DIR/groceries); skipped with a message when the folder is absent. ~5 s.
if(DEFINED ENV{KEREC_GROCERIES_DIR})
  set(_groceries_data $ENV{KEREC_GROCERIES_DIR})
else()
  set(_groceries_data ${KEREC_TEST_DATA_DIR}/groceries)
endif()
add_test(NAME example_groceries
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_with_data.sh ${_groceries_data}
          $<TARGET_FILE:groceries> --data ${_groceries_data} --store ${CMAKE_CURRENT_BINARY_DIR}/groceries_store --seed 42)
set_tests_properties(example_groceries PROPERTIES LABELS "demo;data" TIMEOUT 120 SKIP_RETURN_CODE 77
  PASS_REGULAR_EXPRESSION "arules: 5668\\)|skipped: data folder")
add_test(NAME example_groceries_json
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_with_data.sh ${_groceries_data}
          $<TARGET_FILE:groceries> --data ${_groceries_data} --store ${CMAKE_CURRENT_BINARY_DIR}/groceries_store --json --cold-items 5)
set_tests_properties(example_groceries_json PROPERTIES LABELS "demo;data" TIMEOUT 120 SKIP_RETURN_CODE 77
  PASS_REGULAR_EXPRESSION "\"groceries.assoc_rules.rule_count\", \"value\": 5668,|skipped: data folder")
add_test(NAME example_groceries_missing_data
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_with_data.sh ${CMAKE_CURRENT_BINARY_DIR}
          $<TARGET_FILE:groceries> --data ${CMAKE_CURRENT_BINARY_DIR}/no-such-folder)
set_tests_properties(example_groceries_missing_data PROPERTIES LABELS "demo" TIMEOUT 60 WILL_FAIL TRUE)
