// SPDX-License-Identifier: MIT
// How `jailbuild deps` shows a walk: a path per line, a tree, JSON or a Graphviz graph.
#pragma once
#include "jailbuild/walk.hpp"

#include <string>

namespace jailbuild {

enum class DepsFormat { list, tree, json, dot };

/// The walk rendered in one format. Paths are host paths (below --host-root).
std::string format_deps(const WalkResult& result, DepsFormat format);

/// One line per unresolved name with the objects that needed it, for stderr.
std::string format_unresolved(const WalkResult& result);

} // namespace jailbuild
