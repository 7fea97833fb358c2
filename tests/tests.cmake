# Tests (ctest). One entry per class selftest, then integration tests that
# start a real memd on temporary directories and talk to it over ipc.
foreach (class mem_stem mem_tokenizer mem_codec mem_config mem_store mem_index mem_records mem_jobs mem_reaper mem_redact)
    add_test (NAME selftest_${class} COMMAND memd_selftest --test ${class})
    set_tests_properties (selftest_${class} PROPERTIES TIMEOUT 120)
endforeach ()

foreach (name capture_recall crash isolation lifecycle badinput jobs jobs_restart jobs_idle mcp hooks
              redact)
    add_test (NAME integration_${name}
              COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/integration/test_${name}.sh)
    set_tests_properties (integration_${name} PROPERTIES
                          ENVIRONMENT "BIN=${CMAKE_CURRENT_BINARY_DIR}" TIMEOUT 300)
endforeach ()

# The benchmark's corpus generator is deterministic and well-formed.
add_test (NAME bench_corpus_selftest COMMAND bench_spine --selftest)
set_tests_properties (bench_corpus_selftest PROPERTIES TIMEOUT 120)
