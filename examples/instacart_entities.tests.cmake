# The Instacart example on the real catalogue (skipped with a message when the folder is absent).
# Fails when the program fails; the report line of the final model must be printed.
set(_instacart_dir ${KEREC_TEST_DATA_DIR}/instacart)
add_test(NAME example_instacart_entities
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_with_data.sh ${_instacart_dir}
          $<TARGET_FILE:instacart_entities> --data ${_instacart_dir})
set_tests_properties(example_instacart_entities PROPERTIES LABELS "demo;data" TIMEOUT 120 SKIP_RETURN_CODE 77
  PASS_REGULAR_EXPRESSION "discovered, head mention +[0-9.]+% +[0-9.]+ +[0-9]+|skipped: data folder")
