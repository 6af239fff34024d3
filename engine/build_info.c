#include "engine/build_info.h"

#include "engine/version.h"
#include "hyrecall_build_info.h" /* generated at build time by engine/build_info.cmake */

const char *build_version(void)
{
    return HYRECALL_VERSION;
}
const char *build_commit(void)
{
    return HYRECALL_GIT_COMMIT;
}
