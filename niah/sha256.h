/* SHA-256 (FIPS 180-4), to record which haystack, word lists and tokenizer a
 * NIAH run used, so that results can be compared. */
#ifndef HYRECALL_SHA256_H
#define HYRECALL_SHA256_H

#include <stddef.h>

/* Writes 64 lowercase hex digits and a NUL into hex. */
void sha256_hex(const unsigned char *data, size_t len, char hex[65]);

#endif
