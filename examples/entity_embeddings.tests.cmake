# The entity representation example end to end on the tiny world.
add_test(NAME example_entity_embeddings COMMAND entity_embeddings --size tiny --epochs 3 --json)
set_tests_properties(example_entity_embeddings PROPERTIES LABELS "demo" TIMEOUT 300
  PASS_REGULAR_EXPRESSION "\"name\": \"embed.example.missed_recall_at_10\"")
