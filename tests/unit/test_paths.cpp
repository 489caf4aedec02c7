// SPDX-License-Identifier: MIT
// The paths of this checkout's build that tests need, compiled into this one file only.
#include "test_util.hpp"

namespace jailbuild::test {

const std::string fixture_root = JB_FIXTURE_ROOT;

} // namespace jailbuild::test
