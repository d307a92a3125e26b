# The Instacart example on the real catalogue (skipped with a message when the folder is absent).
# Fails when the program fails; the report line of the final model must be printed.
set(_instacart_dir ${KEREC_TEST_DATA_DIR}/instacart)
add_test(NAME example_instacart_entities
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_with_data.sh ${_instacart_dir}
          $<TARGET_FILE:instacart_entities> --data ${_instacart_dir})
set_tests_properties(example_instacart_entities PROPERTIES LABELS "demo;data" TIMEOUT 120 SKIP_RETURN_CODE 77
  PASS_REGULAR_EXPRESSION "discovered, head mention +[0-9.]+% +[0-9.]+ +[0-9]+|skipped: data folder")

# Bad catalogue files are reported as file:line:column with the field (no stoul, no bad_alloc).
set(_instacart_bad ${CMAKE_CURRENT_BINARY_DIR}/instacart_bad)
file(WRITE ${_instacart_bad}/huge/aisles.csv "aisle_id,aisle\n1,fresh fruits\n99999999999,huge\n")
file(WRITE ${_instacart_bad}/huge/products.csv "product_id,product_name,aisle_id,department_id\n1,Banana,1,4\n")
file(WRITE ${_instacart_bad}/unknown/aisles.csv "aisle_id,aisle\n1,fresh fruits\n")
file(WRITE ${_instacart_bad}/unknown/products.csv "product_id,product_name,aisle_id,department_id\n1,Banana,1,4\n2,\"Kale, Curly\",7,4\n")
add_test(NAME example_instacart_bad_aisle_id COMMAND instacart_entities --data ${_instacart_bad}/huge)
set_tests_properties(example_instacart_bad_aisle_id PROPERTIES LABELS "demo" TIMEOUT 30
  PASS_REGULAR_EXPRESSION "aisles\\.csv:3:1: field 1: aisle_id '99999999999' \\(expected an integer")
add_test(NAME example_instacart_unknown_aisle COMMAND instacart_entities --data ${_instacart_bad}/unknown)
set_tests_properties(example_instacart_unknown_aisle PROPERTIES LABELS "demo" TIMEOUT 30
  PASS_REGULAR_EXPRESSION "products\\.csv:3:17: field 3: aisle_id 7 is not in aisles\\.csv")
