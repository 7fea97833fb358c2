# Tests (ctest). One entry per class selftest, then integration tests that
# start a real memd on temporary directories and talk to it over ipc.
foreach (class mem_stem mem_tokenizer mem_minhash mem_digest mem_codec mem_config mem_store
              mem_index mem_records mem_jobs mem_reaper mem_edges mem_verify mem_consolidate
              mem_redact mem_latency mem_export mem_zap mem_vectors mem_query mem_search
              mem_prompt mem_recstats mem_watchpos memd_transcript mem_graph mem_graph_store
              mem_graph_link mem_graph_build mem_graph_recall mem_lifecycle)
    add_test (NAME selftest_${class} COMMAND memd_selftest --test ${class})
    set_tests_properties (selftest_${class} PROPERTIES TIMEOUT 120)
endforeach ()

foreach (name capture_recall crash isolation lifecycle badinput jobs jobs_restart jobs_idle sleep
              shutdown_replies consolidate clients_doc mcp hooks redact events top access
              portability recall watch service graph graph_load co_recall)
    add_test (NAME integration_${name}
              COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/integration/test_${name}.sh)
    set_tests_properties (integration_${name} PROPERTIES
                          ENVIRONMENT "BIN=${CMAKE_CURRENT_BINARY_DIR}" TIMEOUT 300
                          SKIP_RETURN_CODE 77)
endforeach ()

# The benchmark's corpus generator is deterministic and well-formed.
add_test (NAME bench_corpus_selftest COMMAND bench_spine --selftest)
set_tests_properties (bench_corpus_selftest PROPERTIES TIMEOUT 120)

# The LoCoMo harness: its scoring and a whole run on a hand-checked fixture
# (a real memd), then a small slice of the real data when shared/ is beside
# the repo (exit 77, shown as skipped, when it is not).
add_test (NAME bench_locomo_selftest COMMAND bench_locomo --selftest)
set_tests_properties (bench_locomo_selftest PROPERTIES TIMEOUT 60)
add_test (NAME bench_locomo_slice
          COMMAND bench_locomo --conversations 1 --questions 40
                  --json ${CMAKE_CURRENT_BINARY_DIR}/locomo-slice.json
                  ${CMAKE_CURRENT_SOURCE_DIR}/../shared/data/locomo-dev.json)
set_tests_properties (bench_locomo_slice PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77)
# Bindings: the Python and Node clients against a real memd started on
# temporary directories by each suite (bindings/python/tests, bindings/node/test).
add_test (NAME bindings_python
          COMMAND ${MEMD_PYTHON} -m pytest -q -p no:cacheprovider
                  ${CMAKE_CURRENT_SOURCE_DIR}/bindings/python/tests)
set_tests_properties (bindings_python PROPERTIES TIMEOUT 180 ENVIRONMENT
    "MEMD_BINARY=${CMAKE_CURRENT_BINARY_DIR}/memd;PYTHONDONTWRITEBYTECODE=1;PYTHONPATH=${CMAKE_CURRENT_SOURCE_DIR}/bindings/python:${CMAKE_CURRENT_BINARY_DIR}/python")
if (MEMD_NODE)
    add_test (NAME bindings_node
              COMMAND ${MEMD_NODE} --test test/client.test.js test/errors.test.js
                      test/jobs.test.js test/timeouts.test.js test/events.test.js
              WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/bindings/node)
    set_tests_properties (bindings_node PROPERTIES TIMEOUT 180
                          ENVIRONMENT "MEMD_BINARY=${CMAKE_CURRENT_BINARY_DIR}/memd")
else ()
    add_test (NAME bindings_node COMMAND sh -c "echo 'node not found: run make deps' >&2; exit 1")
endif ()
include (${CMAKE_CURRENT_SOURCE_DIR}/tests/soak/soak.cmake)
