# Crash, fault and soak suites (issue 10 items 3, 4, 7): their programs and
# ctest entries at CI size. Longer runs by hand: see docs/reliability.md.
add_executable (fault_clients tests/soak/fault_clients.c)
target_link_libraries (fault_clients memd_client)
add_executable (fault_reader tests/soak/fault_reader.c)
target_link_libraries (fault_reader PkgConfig::LMDB)

# Fault injection (issue 10 item 4): disk full, EIO on commit, descriptor
# exhaustion, MDB_MAP_FULL, a stale reader. Exit 77 (skipped) where the
# machine does not allow the injection (no unshare, no ptrace).
foreach (name fault_diskfull fault_eio fault_fds fault_mapfull fault_reader)
    add_test (NAME integration_${name}
              COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/integration/test_${name}.sh)
    set_tests_properties (integration_${name} PROPERTIES
                          ENVIRONMENT "BIN=${CMAKE_CURRENT_BINARY_DIR}" TIMEOUT 300
                          SKIP_RETURN_CODE 77)
endforeach ()
