# SPDX-License-Identifier: MIT
# The fake host root of the dependency tests, compiled at build time from tests/fixtures (never
# committed as binaries): tiny libraries and programs, each exercising one rule of ld.so, around the
# host's real libc and dynamic linker. make-fakeroot.sh builds it beside the final name and renames it
# into place, so a failed build never leaves a half-made root for the tests to walk.
set(JB_FAKEROOT ${CMAKE_CURRENT_BINARY_DIR}/fakeroot)
file(GLOB JB_FIXTURE_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/*.c)
add_custom_command(
  OUTPUT ${JB_FAKEROOT}/.complete
  COMMAND ${CMAKE_COMMAND} -E env CC=${CMAKE_C_COMPILER}
          bash ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make-fakeroot.sh ${JB_FAKEROOT}
  DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/make-fakeroot.sh ${JB_FIXTURE_SOURCES}
  COMMENT "Building the fake host root for the dependency tests"
  VERBATIM)
add_custom_target(jb_fixtures DEPENDS ${JB_FAKEROOT}/.complete)
