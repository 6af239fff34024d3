#include "engine/build_info.h"

#include "hyrecall_build_info.h" /* generated at build time by engine/build_info.cmake */
#include "engine/version.h"

const char *build_version(void) { return HYRECALL_VERSION; }
const char *build_commit(void) { return HYRECALL_GIT_COMMIT; }
