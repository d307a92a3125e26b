# The Groceries example on the real data (skipped with a message when the folder is absent).
set(_groceries_dir ${KEREC_TEST_DATA_DIR}/groceries)
add_test(NAME example_groceries_graph
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_with_data.sh ${_groceries_dir}
          $<TARGET_FILE:groceries_graph> --data ${_groceries_dir} --store ${CMAKE_CURRENT_BINARY_DIR}/groceries_store)
set_tests_properties(example_groceries_graph PROPERTIES LABELS "demo;data" TIMEOUT 300 SKIP_RETURN_CODE 77
  PASS_REGULAR_EXPRESSION "learned weight +-?[0-9]|skipped: data folder")
