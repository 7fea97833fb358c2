# Tests (ctest). One entry per class selftest, then integration tests that
# start a real memd on temporary directories and talk to it over ipc.
foreach (class mem_stem mem_tokenizer mem_codec mem_config mem_store mem_index mem_records)
    add_test (NAME selftest_${class} COMMAND memd_selftest --test ${class})
    set_tests_properties (selftest_${class} PROPERTIES TIMEOUT 120)
endforeach ()
