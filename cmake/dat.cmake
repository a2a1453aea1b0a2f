# Helpers shared by every folder's CMakeLists.txt.
#
# `dat` is the project's short name: Dispatch, AWS, Twitter (the CMake project is
# dispatch_aws_twitter). Targets are dat_<library> with the alias dat::<library>, and the
# project's CMake options and test macros start with DAT_.

# The compile options and macros of test code, shared by every test binary and by the donor of
# their precompiled header (cmake/pch.cmake), which must be compiled the same way.
function(dat_test_compile_settings target)
  # The test code itself needs no optimizing (the libraries under test keep theirs); -O0
  # compiles the template-heavy GoogleTest units about a third faster than -O1. The sanitizer
  # build keeps its -O1 everywhere.
  if(CMAKE_BUILD_TYPE STREQUAL "RelWithDebInfo" AND NOT DAT_SANITIZE)
    target_compile_options(${target} PRIVATE -O0)
  endif()
  target_compile_definitions(${target} PRIVATE
    DAT_TESTDATA_DIR="${CMAKE_SOURCE_DIR}/testdata" DAT_BIN_DIR="${DAT_BIN_DIR}"
    DAT_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
endfunction()

# Code whose speed shows in everyday use (make run, the tests' 12 MP images) at -O2 in the
# everyday build, whose default is -O1 (CMakeLists.txt). Release builds are -O3 throughout.
function(dat_hot_code target)
  if(CMAKE_BUILD_TYPE STREQUAL "RelWithDebInfo" AND NOT DAT_SANITIZE)
    target_compile_options(${target} PRIVATE -O2)
  endif()
endfunction()

# dat_add_test(NAME name SOURCES a.cc b.cc LIBS lib1 lib2 [LABELS l] [TIMEOUT s] [FIXTURES f])
# FIXTURES: a ctest fixture every test of the executable requires (run after its setup test).
# LABELS: without it the tests are labelled `unit`: in-process tests, or short runs of the
# project's own binaries, which `make test-sanitize` runs under AddressSanitizer and UBSan and
# builds through the target dat_unit_tests. Tests that drive outside tools (awscli, boto3, npm,
# chromium) or the whole pipeline name another label (e2e, localcloud).
# Builds a GoogleTest executable and registers its tests with CTest. The test knows
# where the test data and the project's binaries are through two macros:
# DAT_TESTDATA_DIR (the repository's testdata/) and DAT_BIN_DIR.
function(dat_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT;FIXTURES" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT DAT_BUILD_TESTS)
    return()
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  if("unit" IN_LIST T_LABELS)
    add_dependencies(dat_unit_tests ${T_NAME})
  endif()
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main GTest::gmock)
  dat_test_compile_settings(${T_NAME})
  set_property(TARGET ${T_NAME} PROPERTY DAT_TEST ON)  # its precompiled header: cmake/pch.cmake
  set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  # Only the properties that have a value: an empty one would swallow the next key.
  set(properties TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}")
  if(T_FIXTURES)
    list(APPEND properties FIXTURES_REQUIRED ${T_FIXTURES})
  endif()
  # The tests are listed when ctest starts (PRE_TEST), not after each link: a rebuild does
  # not run every relinked test binary.
  gtest_discover_tests(${T_NAME}
    PROPERTIES ${properties}
    DISCOVERY_MODE PRE_TEST
    DISCOVERY_TIMEOUT 60)
endfunction()

# Every unit test binary (see dat_add_test), for `make test-sanitize`.
if(DAT_BUILD_TESTS)
  add_custom_target(dat_unit_tests)
endif()
