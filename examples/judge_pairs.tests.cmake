# judge_pairs: a first run judges, a second run over the same store asks nothing.
set(_jp_store ${CMAKE_CURRENT_BINARY_DIR}/judge_pairs_test.log)
add_test(NAME example_judge_pairs_clean COMMAND ${CMAKE_COMMAND} -E rm -f ${_jp_store})
add_test(NAME example_judge_pairs_first COMMAND judge_pairs --judge sim --size tiny --store ${_jp_store})
add_test(NAME example_judge_pairs_cached COMMAND judge_pairs --judge sim --size tiny --store ${_jp_store})
set_tests_properties(example_judge_pairs_clean PROPERTIES LABELS "example" FIXTURES_SETUP judge_pairs_store)
set_tests_properties(example_judge_pairs_first PROPERTIES LABELS "example" TIMEOUT 120
  FIXTURES_REQUIRED judge_pairs_store
  PASS_REGULAR_EXPRESSION "judged [1-9][0-9]* pairs.*0 lost")
set_tests_properties(example_judge_pairs_cached PROPERTIES LABELS "example" TIMEOUT 120
  DEPENDS example_judge_pairs_first FIXTURES_REQUIRED judge_pairs_store PASS_REGULAR_EXPRESSION "judged 0 pairs")
# --budget names the pair set: a rerun with the same budget asks nothing, a larger one only the
# pairs it adds (30 -> 50: 20).
set(_jpb_store ${CMAKE_CURRENT_BINARY_DIR}/judge_pairs_budget_test.log)
add_test(NAME example_judge_pairs_budget_clean COMMAND ${CMAKE_COMMAND} -E rm -f ${_jpb_store})
add_test(NAME example_judge_pairs_budget_first COMMAND judge_pairs --judge sim --size tiny --budget 30 --store ${_jpb_store})
add_test(NAME example_judge_pairs_budget_rerun COMMAND judge_pairs --judge sim --size tiny --budget 30 --store ${_jpb_store})
add_test(NAME example_judge_pairs_budget_larger COMMAND judge_pairs --judge sim --size tiny --budget 50 --store ${_jpb_store})
set_tests_properties(example_judge_pairs_budget_clean PROPERTIES LABELS "example" FIXTURES_SETUP judge_pairs_budget)
set_tests_properties(example_judge_pairs_budget_first PROPERTIES LABELS "example" TIMEOUT 120
  FIXTURES_REQUIRED judge_pairs_budget PASS_REGULAR_EXPRESSION "judged 30 pairs .*0 cached, 0 lost")
set_tests_properties(example_judge_pairs_budget_rerun PROPERTIES LABELS "example" TIMEOUT 120
  DEPENDS example_judge_pairs_budget_first FIXTURES_REQUIRED judge_pairs_budget
  PASS_REGULAR_EXPRESSION "judged 0 pairs .*30 cached")
set_tests_properties(example_judge_pairs_budget_larger PROPERTIES LABELS "example" TIMEOUT 120
  DEPENDS example_judge_pairs_budget_rerun FIXTURES_REQUIRED judge_pairs_budget
  PASS_REGULAR_EXPRESSION "judged 20 pairs .*30 cached, 0 lost")
if(EXISTS ${KEREC_TEST_DATA_DIR}/groceries/llm_judgments.tsv)
  set(_g ${KEREC_TEST_DATA_DIR}/groceries)
  add_test(NAME example_judge_pairs_replay
    COMMAND judge_pairs --judge replay --items ${_g}/items.txt --baskets ${_g}/baskets.csv
            --replay ${_g}/llm_judgments.tsv --store ${CMAKE_CURRENT_BINARY_DIR}/judge_pairs_replay.log --json)
  set_tests_properties(example_judge_pairs_replay PROPERTIES LABELS "example" TIMEOUT 120
    PASS_REGULAR_EXPRESSION "judge_pairs.calls_saved")
endif()
