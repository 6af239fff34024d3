/* GPT-2's ByteLevel alphabet (bytes_to_unicode): every byte becomes one
 * printable Unicode character, so that BPE works on text without ever
 * seeing a control character or a broken UTF-8 sequence. Bytes that are
 * printable Latin-1 ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves; the
 * other 68 map, in byte order, to U+0100, U+0101, ... */
#ifndef HYRECALL_BYTE_LEVEL_H
#define HYRECALL_BYTE_LEVEL_H

#include <stdint.h>

struct byte_level {
    uint32_t to_char[256]; /* byte -> code point */
    char utf8[256][3];     /* byte -> its character in UTF-8 (1 or 2 bytes) */
    uint8_t utf8_len[256];
    int16_t to_byte[324]; /* code point (< 324) -> byte, or -1 */
};

void byte_level_init(struct byte_level *b);

#endif
