# The recommendation example end to end on the tiny world: both stages train, figures print.
add_test(NAME example_recommend_tiny COMMAND recommend --size tiny --users 1)
set_tests_properties(example_recommend_tiny PROPERTIES LABELS "demo" TIMEOUT 300
  PASS_REGULAR_EXPRESSION "AUC, base ranker \\+ E-E-I \\(integrated\\)")
add_test(NAME example_recommend_json COMMAND recommend --size tiny --json)
set_tests_properties(example_recommend_json PROPERTIES LABELS "demo" TIMEOUT 300
  PASS_REGULAR_EXPRESSION "\"name\": \"recall.u2e2i.recall_at_50_new\"")
