/* What built this binary: the release version and the git commit of the
 * source ("unknown" outside a git checkout; "-dirty" when tracked files had
 * changes), for the records every output carries (provenance.h). */
#ifndef HYRECALL_BUILD_INFO_H
#define HYRECALL_BUILD_INFO_H

const char *build_version(void);
const char *build_commit(void);

#endif
