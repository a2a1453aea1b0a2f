# Precompiled headers shared across targets (option DAT_PCH, on by default).
#
# Two donor targets compile the headers once per build: dat_pch_lib for the libraries and
# binaries (nlohmann/json, spdlog and the standard library, which most units include through
# the project's headers) and dat_pch_test for the test binaries (nlohmann/json, GoogleTest and
# the standard library, at the tests' -O1). dat_use_precompiled_headers(), called once the whole tree is read, points
# every other target at one of them (REUSE_FROM): a header is parsed once instead of once per
# unit. Project headers stay out of them, so editing one rebuilds only the units that use it.
#
# ccache: it keys on the precompiled header only with -fpch-preprocess (GCC) and the
# sloppiness pch_defines,time_macros, which the launcher sets (CMakeLists.txt), so hits do
# not depend on the machine's ccache configuration.
# On by default with GCC, where it was measured; clang (the thread-safety build) is stricter
# about macros that differ between a precompiled header and a unit, so it compiles without.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  set(dat_pch_default ON)
else()
  set(dat_pch_default OFF)
endif()
option(DAT_PCH "Precompile the common third-party and standard headers, shared across targets"
       ${dat_pch_default})

set(dat_pch_std_headers
  <algorithm> <atomic> <chrono> <cstdint> <filesystem> <fstream> <functional> <map> <memory>
  <mutex> <optional> <set> <sstream> <string> <string_view> <thread> <unordered_map> <utility>
  <vector>)
set(DAT_PCH_LIB_HEADERS ${dat_pch_std_headers} <nlohmann/json.hpp> <spdlog/spdlog.h>)
set(DAT_PCH_TEST_HEADERS ${dat_pch_std_headers} <nlohmann/json.hpp> <gtest/gtest.h>)

# Loading a precompiled header costs about 0.7 s of CPU per unit (it is ~100 MB, nlohmann/json
# most of it), about what parsing nlohmann/json costs. So it pays only in targets whose units
# mostly include nlohmann/json anyway; these do not (measured per unit: jpeg_entropy.cc 2.1 s
# without, 2.4 s with), and compile as before.
set(DAT_PCH_SKIP
  dat_common dat_http dat_aws dat_x dat_image dat_image_png dat_logo_gen dat_localcloud_tls
  dispatch dispatch-events-aws sample-images jpegdiff)

# With ccache (GCC), a unit compiled with a precompiled header also needs -fpch-preprocess.
# Only those units get it, so the others keep the command lines (and cache entries) they had.
function(dat_pch_ccache_flags target)
  if(DAT_CCACHE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-fpch-preprocess>)
  endif()
endfunction()

# Creates the donor targets. Called before the folders are read.
function(dat_add_pch_donors)
  if(NOT DAT_PCH)
    return()
  endif()
  # A donor needs a source of its own; its object is never linked into anything.
  file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/dat_pch_donor.cc
    CONTENT "// Compiled only to build the precompiled header (cmake/pch.cmake).\n")
  add_library(dat_pch_lib STATIC ${CMAKE_BINARY_DIR}/dat_pch_donor.cc)
  target_link_libraries(dat_pch_lib PRIVATE nlohmann_json::nlohmann_json spdlog::spdlog)
  target_precompile_headers(dat_pch_lib PRIVATE ${DAT_PCH_LIB_HEADERS})
  dat_pch_ccache_flags(dat_pch_lib)
  if(DAT_BUILD_TESTS)
    add_library(dat_pch_test STATIC ${CMAKE_BINARY_DIR}/dat_pch_donor.cc)
    target_link_libraries(dat_pch_test PRIVATE nlohmann_json::nlohmann_json GTest::gtest)
    dat_test_compile_settings(dat_pch_test)
    target_precompile_headers(dat_pch_test PRIVATE ${DAT_PCH_TEST_HEADERS})
    dat_pch_ccache_flags(dat_pch_test)
  endif()
endfunction()

# The targets defined in dir and the folders under it.
function(dat_targets_under dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    dat_targets_under(${sub} sub_targets)
    list(APPEND targets ${sub_targets})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

# Points every C++ library and executable at a donor: test binaries (dat_add_test marks them
# DAT_TEST) at dat_pch_test, the rest at dat_pch_lib, but for DAT_PCH_SKIP. A target also opts
# out with the property DAT_NO_PCH (for instance when its compile options differ from the donor's: GCC then ignores
# the precompiled header and parses the headers as usual, which is correct but slow).
function(dat_use_precompiled_headers)
  if(NOT DAT_PCH)
    return()
  endif()
  dat_targets_under(${CMAKE_SOURCE_DIR} targets)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(NOT type MATCHES "^(STATIC_LIBRARY|SHARED_LIBRARY|OBJECT_LIBRARY|EXECUTABLE)$"
       OR target MATCHES "^dat_pch_")
      continue()
    endif()
    get_target_property(opt_out ${target} DAT_NO_PCH)
    if(target IN_LIST DAT_PCH_SKIP)
      set(opt_out ON)
    endif()
    get_target_property(is_test ${target} DAT_TEST)
    if(opt_out)
      continue()
    elseif(is_test)
      target_precompile_headers(${target} REUSE_FROM dat_pch_test)
      dat_pch_ccache_flags(${target})
    else()
      target_precompile_headers(${target} REUSE_FROM dat_pch_lib)
      dat_pch_ccache_flags(${target})
    endif()
  endforeach()
endfunction()
