# akt_module(<name> [DEPS <targets>...] [PRIVATE_DEPS <targets>...] [TEST_DEPS <targets>...])
#
# Turns the folder <name>/ into the library akt_<name> (alias akt::<name>):
# sources from src/**.cpp, public headers from include/, installed and
# exported. When tests are on, <name>/tests/*.cpp become one GoogleTest
# executable whose tests CTest runs one by one.
function(akt_module name)
  cmake_parse_arguments(ARG "" "" "DEPS;PRIVATE_DEPS;TEST_DEPS" ${ARGN})
  set(target akt_${name})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp)
  add_library(${target} ${sources})
  add_library(akt::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME akt_${name}
                                             POSITION_INDEPENDENT_CODE ON)
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  target_link_libraries(${target} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  install(TARGETS ${target} EXPORT akt-targets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

  if(AKT_BUILD_TESTS AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/tests)
    file(GLOB test_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/*.cpp)
    add_executable(${target}_tests ${test_sources})
    target_include_directories(${target}_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src
                                                       ${CMAKE_CURRENT_SOURCE_DIR}/tests)
    target_link_libraries(${target}_tests PRIVATE ${target} ${ARG_TEST_DEPS} GTest::gtest_main GTest::gmock)
    gtest_discover_tests(${target}_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 120)
  endif()
endfunction()

# Writes and installs akt-config.cmake so that a user's project can say
# find_package(akt) and link akt::core.
function(akt_install_package)
  include(CMakePackageConfigHelpers)
  set(cfgdir ${CMAKE_INSTALL_LIBDIR}/cmake/akt)
  install(EXPORT akt-targets NAMESPACE akt:: DESTINATION ${cfgdir})
  configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/akt-config.cmake.in
                                ${PROJECT_BINARY_DIR}/akt-config.cmake INSTALL_DESTINATION ${cfgdir})
  write_basic_package_version_file(${PROJECT_BINARY_DIR}/akt-config-version.cmake
                                   COMPATIBILITY SameMinorVersion)
  install(FILES ${PROJECT_BINARY_DIR}/akt-config.cmake ${PROJECT_BINARY_DIR}/akt-config-version.cmake
          DESTINATION ${cfgdir})
endfunction()
